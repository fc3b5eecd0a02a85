/**
 * Opens the metadata databases through Kysely: better-sqlite3 for `sqlite:`
 * URLs (the embedded default) and pg for `postgres://` URLs. Everything above
 * this module is engine-agnostic; the few engine differences (transaction
 * start, key collation) live here and in the migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import type { GlobalSchema, RegionalSchema } from './schema.js';

export type EngineKind = 'sqlite' | 'postgres';

// BIGINT (int8) and NUMERIC counts come back from pg as strings; every value
// we store fits a double (sizes up to 2^53), so parse them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));

export interface MetaDatabases {
  kind: EngineKind;
  global: Kysely<GlobalSchema>;
  regional: Kysely<RegionalSchema>;
  close(): Promise<void>;
}

export function parseDatabaseUrl(url: string): { kind: EngineKind; target: string } {
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', target: url.slice('sqlite:'.length) };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', target: url };
  throw new Error(`unsupported database URL (expected sqlite:PATH or postgres://…): ${url}`);
}

/**
 * SQLite durability choice: WAL with synchronous=FULL, so a transaction is
 * on disk when COMMIT returns (invariant 1: an acknowledged write survives
 * power loss, not only a process crash). NORMAL would be faster but may lose
 * the last commits on power loss.
 */
function openSqlite(file: string): BetterSqlite3.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const conn = new BetterSqlite3(file);
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = FULL');
  conn.pragma('busy_timeout = 10000');
  conn.pragma('foreign_keys = ON');
  return conn;
}

/**
 * Kysely prepares every statement afresh; better-sqlite3 statements are
 * reusable, so cache them by SQL text (the query shapes are few and fixed).
 */
function withStatementCache(conn: BetterSqlite3.Database): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = conn.prepare.bind(conn);
  return new Proxy(conn, {
    get(target, prop, receiver) {
      if (prop !== 'prepare') {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (sqlText: string) => {
        let stmt = cache.get(sqlText);
        if (!stmt) {
          stmt = prepare(sqlText);
          if (cache.size > 2000) cache.clear();
          cache.set(sqlText, stmt);
        }
        return stmt;
      };
    },
  });
}

export function openMetaDatabases(
  url: string,
  opts: { poolSize?: number; onIdleError?: (err: Error) => void } = {},
): MetaDatabases {
  const { kind, target } = parseDatabaseUrl(url);
  if (kind === 'sqlite') {
    // Global and regional schemas share one file (and one connection) in
    // embedded mode; the code above never relies on that.
    const conn = openSqlite(target);
    const db = new Kysely<GlobalSchema & RegionalSchema>({ dialect: new SqliteDialect({ database: withStatementCache(conn) }) });
    return { kind, global: db as unknown as Kysely<GlobalSchema>, regional: db as unknown as Kysely<RegionalSchema>, close: () => db.destroy() };
  }
  const pool = new pg.Pool({ connectionString: target, max: opts.poolSize ?? 20 });
  // An idle connection dropped by the server (restart, failover) must not
  // crash the process; the pool replaces it on next use.
  pool.on('error', (err) => opts.onIdleError?.(err));
  const db = new Kysely<GlobalSchema & RegionalSchema>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind,
    global: db as unknown as Kysely<GlobalSchema>,
    regional: db as unknown as Kysely<RegionalSchema>,
    close: () => db.destroy(),
  };
}

/**
 * Runs fn in one transaction. On SQLite it is BEGIN IMMEDIATE: the write lock
 * is taken up front, so two processes on one file (server + `anvil admin`)
 * wait on the busy timeout instead of failing a read-to-write upgrade.
 * Never await network or disk I/O inside fn (see DESIGN.md pitfalls).
 */
export async function withTransaction<S, T>(
  kind: EngineKind,
  db: Kysely<S>,
  fn: (trx: Kysely<S> | Transaction<S>) => Promise<T>,
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
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
