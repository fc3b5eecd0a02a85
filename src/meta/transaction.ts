/**
 * Transactions on either engine: BEGIN IMMEDIATE with a durable (or lazy)
 * COMMIT on SQLite, retried deadlocks on PostgreSQL.
 */
import { CompiledQuery, type Kysely, sql, type Transaction } from 'kysely';

import { withSpan } from '../tracing.js';
import type { EngineKind } from './handles.js';
import { LAZY_COMMIT_SQL } from './sqlite/durable-driver.js';

export interface TransactionOptions {
  /**
   * Commit without waiting for the group fsync: for bookkeeping whose loss
   * in a power failure is harmless (a lease, a finished queue entry). It
   * becomes durable with the next fsync or checkpoint, and since durable
   * state is a prefix of the commit order, never after a later commit that
   * was waited for. Every other commit resolves only once durable. (On
   * PostgreSQL every commit is synchronous; the server groups its flushes.)
   */
  lazy?: boolean;
}

/** For bookkeeping nothing is acknowledged on (see TransactionOptions). */
export const LAZY_COMMIT: TransactionOptions = { lazy: true };

/**
 * Runs one statement (or a few that need no atomicity on PostgreSQL) with the
 * given options: on PostgreSQL as it is (autocommit, no BEGIN/COMMIT round
 * trips); on SQLite in a transaction, so that a lazy commit applies.
 */
export async function commitWith<S, T>(
  kind: EngineKind,
  db: Kysely<S>,
  fn: (trx: Kysely<S> | Transaction<S>) => Promise<T>,
  opts: TransactionOptions,
): Promise<T> {
  if (kind !== 'postgres') return withTransaction(kind, db, fn, opts);
  return withSpan('anvil.meta.transaction', { ...spanAttributes(kind, opts), 'anvil.meta.autocommit': true }, () => fn(db));
}

/** What a transaction's span says (tracing.ts): the engine, and whether its commit is lazy. */
function spanAttributes(kind: EngineKind, opts: TransactionOptions) {
  return { 'db.system.name': kind === 'postgres' ? 'postgresql' : 'sqlite', 'anvil.meta.lazy': opts.lazy === true };
}

/**
 * Runs fn in one transaction. On SQLite it is BEGIN IMMEDIATE: the write lock
 * is taken up front, so two processes on one file (server + `anvil admin`)
 * wait on the busy timeout instead of failing a read-to-write upgrade.
 * Never await network or disk I/O inside fn.
 */
export async function withTransaction<S, T>(
  kind: EngineKind,
  db: Kysely<S>,
  fn: (trx: Kysely<S> | Transaction<S>) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  return withSpan('anvil.meta.transaction', spanAttributes(kind, opts), () => runTransaction(kind, db, fn, opts));
}

async function runTransaction<S, T>(
  kind: EngineKind,
  db: Kysely<S>,
  fn: (trx: Kysely<S> | Transaction<S>) => Promise<T>,
  opts: TransactionOptions,
): Promise<T> {
  if (kind === 'postgres') {
    // Deadlocks and serialization failures are safe to retry: transactions do no I/O.
    for (let attempt = 0; ; attempt++) {
      try {
        return await db.transaction().execute(fn);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < 4) continue;
        throw err;
      }
    }
  }
  return db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      const result = await fn(conn);
      // Resolves once the commit is durable (DurableSqliteDriver), unless lazy.
      await conn.executeQuery(CompiledQuery.raw(opts.lazy ? LAZY_COMMIT_SQL : 'COMMIT'));
      return result;
    } catch (err) {
      // The error that matters is fn's, rethrown below; a failed ROLLBACK means SQLite already
      // ended the transaction itself (and the driver released the connection).
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
