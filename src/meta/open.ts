/**
 * Opens the metadata databases through Kysely: better-sqlite3 for `sqlite:`
 * URLs (the embedded default) and pg for `postgres://` URLs. Everything above
 * meta/ is engine-agnostic; the engine differences (transaction start, key
 * collation, statements written per engine) live in meta/.
 */
import type { Kysely } from 'kysely';

import type { EngineKind } from './handles.js';
import { openPostgresKysely } from './postgres.js';
import type { ControlSchema, DataSchema } from './schema.js';
import { openSqliteKysely } from './sqlite/open.js';

export interface MetaDatabases {
  kind: EngineKind;
  control: Kysely<ControlSchema>;
  data: Kysely<DataSchema>;
  close(): Promise<void>;
}

export function parseDatabaseUrl(url: string): { kind: EngineKind; target: string } {
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', target: url.slice('sqlite:'.length) };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', target: url };
  throw new Error(`unsupported database URL (expected sqlite:PATH or postgres://…): ${url}`);
}

/** Group fsyncs of the WAL per SQLite handle (walSyncCount). */
const walSyncs = new WeakMap<object, () => number>();
/** The group fsync per SQLite handle (durableBarrier). */
const durables = new WeakMap<object, () => Promise<void>>();

export function openMetaDatabases(
  url: string,
  /** mustExist: never create a SQLite file (`anvil admin` opens only an existing deployment). */
  opts: { poolSize?: number; onIdleError?: (err: Error) => void; mustExist?: boolean } = {},
): MetaDatabases {
  const { kind, target } = parseDatabaseUrl(url);
  if (kind === 'sqlite') {
    // The control and data schemas share one file (and one connection) in
    // embedded mode; the code above never relies on that.
    const opened = openSqliteKysely<ControlSchema & DataSchema>(target, opts.mustExist ?? false);
    walSyncs.set(opened.db, opened.syncs);
    durables.set(opened.db, opened.durable);
    return {
      kind,
      control: opened.db as unknown as Kysely<ControlSchema>,
      data: opened.db as unknown as Kysely<DataSchema>,
      close: opened.close,
    };
  }
  const db = openPostgresKysely<ControlSchema & DataSchema>(target, opts);
  return {
    kind,
    control: db as unknown as Kysely<ControlSchema>,
    data: db as unknown as Kysely<DataSchema>,
    close: () => db.destroy(),
  };
}

/** For tests: group fsyncs of the WAL done so far by this database handle (SQLite). */
export function walSyncCount(meta: MetaDatabases): number {
  if (meta.kind !== 'sqlite') return 0;
  return walSyncs.get(meta.data)?.() ?? 0;
}

/**
 * Resolves once every commit visible to a read made before the call is
 * durable. SQLite shows a commit to readers up to one group fsync before it
 * is durable (meta/sqlite/wal-sync.ts § Visibility); what is handed on to
 * others as a fact (the change feed) waits for it. PostgreSQL commits are
 * durable before they are visible (synchronous_commit on): nothing to wait for.
 */
export function durableBarrier(meta: MetaDatabases): Promise<void> {
  if (meta.kind !== 'sqlite') return Promise.resolve();
  return durables.get(meta.data)?.() ?? Promise.resolve();
}
