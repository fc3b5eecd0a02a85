/**
 * Singleton jobs (scrub, expiry of abandoned uploads) must run in one process
 * at a time. On PostgreSQL that is a session advisory lock held on a pinned
 * connection for the duration of the run; on SQLite, where one process owns
 * the database file, a process-local flag.
 */
import { sql } from 'kysely';
import type { MetaDatabases } from '../meta/engine.js';

export interface Leadership {
  release(): Promise<void>;
}

const localLocks = new Set<string>();

export async function tryLead(meta: MetaDatabases, name: string): Promise<Leadership | null> {
  if (meta.kind === 'sqlite') {
    if (localLocks.has(name)) return null;
    localLocks.add(name);
    return { release: async () => void localLocks.delete(name) };
  }
  return new Promise<Leadership | null>((resolve, reject) => {
    let letGo!: () => void;
    const released = new Promise<void>((r) => (letGo = r));
    const held = meta.control
      .connection()
      .execute(async (conn) => {
        const { rows } = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(hashtext(${name})) AS ok`.execute(conn);
        if (!rows[0]?.ok) {
          resolve(null);
          return;
        }
        resolve({
          release: async () => {
            letGo();
            await held;
          },
        });
        await released;
        await sql`SELECT pg_advisory_unlock(hashtext(${name}))`.execute(conn);
      })
      .catch(reject);
  });
}

/** Runs fn only if this process wins leadership of `name`; returns whether it ran. */
export async function asLeader(meta: MetaDatabases, name: string, fn: () => Promise<void>): Promise<boolean> {
  const lead = await tryLead(meta, name);
  if (!lead) return false;
  try {
    await fn();
  } finally {
    await lead.release();
  }
  return true;
}

/**
 * Runs fn while holding `name` across every process on the database, waiting
 * for it if another holds it: for start-up steps that check, then create
 * shared state (the root key), which N nodes starting together would
 * otherwise all do. On PostgreSQL a session advisory lock on a pinned
 * connection (the server drops it if the process dies); on SQLite nothing is
 * needed, as the data-folder lock lets one server at a time use the file.
 */
export async function withClusterLock<T>(meta: MetaDatabases, name: string, fn: () => Promise<T>): Promise<T> {
  if (meta.kind === 'sqlite') return fn();
  return meta.control.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(hashtext(${name}))`.execute(conn);
    try {
      return await fn();
    } finally {
      // A lost connection released the lock already; its error must not hide fn's.
      await sql`SELECT pg_advisory_unlock(hashtext(${name}))`.execute(conn).catch(() => undefined);
    }
  });
}
