/**
 * Singleton jobs (scrub, expiry of abandoned uploads) must run in one process
 * at a time, and start-up steps that check, then create shared state must
 * not run in two at once. The locks themselves are meta/work/locks.ts.
 */
import type { MetaDatabases } from '../meta/engine.js';
import { type HeldLock, tryLock, withLock } from '../meta/work/locks.js';

export type Leadership = HeldLock;

/** Leadership of `name` if no other process has it, until released; null otherwise. */
export function tryLead(meta: MetaDatabases, name: string): Promise<Leadership | null> {
  return tryLock(meta.control, name);
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
 * otherwise all do.
 */
export function withClusterLock<T>(meta: MetaDatabases, name: string, fn: () => Promise<T>): Promise<T> {
  return withLock(meta.control, name, fn);
}
