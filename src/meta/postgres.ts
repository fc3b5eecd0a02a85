/**
 * PostgreSQL through pg's pool: numeric parsing, and every parameterised
 * query run as a named prepared statement.
 */
import crypto from 'node:crypto';

import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

// BIGINT (int8) and NUMERIC counts come back from pg as strings; every value
// we store fits a double (sizes up to 2^53), so parse them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Starts a query that must be planned with its parameters each time (see
 * withPreparedStatements): one whose best plan depends on their values.
 */
export const UNPREPARED = '/* unprepared */';

/**
 * PostgreSQL: every query with parameters runs as a named prepared statement
 * (named by its SQL text), so each connection parses and plans a query shape
 * once instead of on every execution. The shapes are few and fixed; the
 * partial-index flags are literals in the SQL (LATEST), so generic plans can
 * use the partial indexes. Queries starting with UNPREPARED are planned with
 * their values every time (the listing walk: a generic plan of its recursive
 * query walked whole buckets). A statement whose cached plan no longer fits (a
 * migration changed a table under a running server: SQLSTATE 0A000) runs
 * unprepared on that connection from then on. (Not for PgBouncer in
 * transaction mode, which does not keep prepared statements per client.)
 */
function withPreparedStatements(pool: pg.Pool): { connect(): Promise<pg.PoolClient>; end(): Promise<void> } {
  const names = new Map<string, string>();
  const nameOf = (text: string): string => {
    let name = names.get(text);
    if (!name) {
      name = `a${crypto.createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
  const wrapped = new WeakSet<pg.PoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      if (wrapped.has(client)) return client;
      wrapped.add(client);
      const plain = client.query.bind(client) as (q: unknown, v?: unknown[]) => Promise<pg.QueryResult>;
      const unprepared = new Set<string>();
      client.query = (async (text: unknown, values?: unknown[]) => {
        if (
          typeof text !== 'string' ||
          !Array.isArray(values) ||
          values.length === 0 ||
          unprepared.has(text) ||
          text.startsWith(UNPREPARED)
        ) {
          return plain(text, values);
        }
        try {
          return await plain({ name: nameOf(text), text, values });
        } catch (err) {
          if ((err as { code?: string }).code !== '0A000') throw err;
          unprepared.add(text);
          return plain(text, values);
        }
      }) as typeof client.query;
      return client;
    },
    end: () => pool.end(),
  };
}

/** A Kysely handle on a pg pool of poolSize connections (20 by default). */
export function openPostgresKysely<S>(url: string, opts: { poolSize?: number; onIdleError?: (err: Error) => void }): Kysely<S> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 20 });
  // An idle connection dropped by the server (restart, failover) must not
  // crash the process; the pool replaces it on next use.
  pool.on('error', (err) => opts.onIdleError?.(err));
  return new Kysely<S>({ dialect: new PostgresDialect({ pool: withPreparedStatements(pool) }) });
}
