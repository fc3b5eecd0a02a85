/**
 * Named locks across the processes sharing a database. On PostgreSQL a
 * session advisory lock held on a pinned connection (the server drops it if
 * the process dies); on SQLite, where the data-folder lock lets one server
 * at a time use the file, a process-local set is enough.
 */
import { type Kysely, sql } from 'kysely';

import { engineOf } from '../handles.js';
import type { ControlSchema } from '../schema.js';

export interface HeldLock {
  release(): Promise<void>;
}

const localLocks = new Set<string>();

/** Takes `name` if nobody holds it (null otherwise), until release(). */
export async function tryLock(db: Kysely<ControlSchema>, name: string): Promise<HeldLock | null> {
  if (engineOf(db) === 'sqlite') {
    if (localLocks.has(name)) return null;
    localLocks.add(name);
    return { release: async () => void localLocks.delete(name) };
  }
  return new Promise<HeldLock | null>((resolve, reject) => {
    let letGo!: () => void;
    const released = new Promise<void>((r) => (letGo = r));
    const held = db
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

/** Runs fn holding `name`, waiting for it if another process holds it (PostgreSQL; on SQLite fn just runs). */
export async function withLock<T>(db: Kysely<ControlSchema>, name: string, fn: () => Promise<T>): Promise<T> {
  if (engineOf(db) === 'sqlite') return fn();
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(hashtext(${name}))`.execute(conn);
    try {
      return await fn();
    } finally {
      // A lost connection released the lock already; its error must not hide fn's.
      await sql`SELECT pg_advisory_unlock(hashtext(${name}))`.execute(conn).catch(() => undefined);
    }
  });
}
