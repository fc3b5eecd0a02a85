/** Opens an embedded SQLite database file as a durable Kysely handle. */
import fs from 'node:fs';
import path from 'node:path';

import BetterSqlite3 from 'better-sqlite3';
import { Kysely } from 'kysely';

import { CHECKPOINT_FALLBACK_PAGES, Checkpointer } from './checkpointer.js';
import { DurableSqliteDialect, type DurableSqliteDriver } from './durable-driver.js';
import { WalSync } from './wal-sync.js';

/**
 * SQLite durability: WAL with synchronous=NORMAL, and no write resolves
 * before it is durable. NORMAL makes COMMIT append its frames to the -wal
 * file without an fsync; DurableSqliteDriver then holds back the result of
 * every statement that committed a write (an autocommit write, or the COMMIT
 * of a transaction that wrote) until WalSync has fdatasynced the WAL past it.
 * So an acknowledged write survives power loss (ARCHITECTURE.md § Invariants: durability) exactly as with
 * synchronous=FULL, but one fsync, on the thread pool, covers every commit
 * made while the previous one ran (group commit), and the event loop never
 * waits for the disk. This holds for every module's writes, not only the
 * object paths: they all go through this driver.
 */
function openSqlite(file: string, mustExist: boolean): BetterSqlite3.Database {
  if (file !== ':memory:' && !mustExist) {
    // Private from the start: the file holds password hashes and wrapped secrets, and SQLite
    // gives its -wal and -shm files the mode of the database file.
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    fs.closeSync(fs.openSync(file, 'a', 0o600));
  }
  const conn = new BetterSqlite3(file, { fileMustExist: mustExist });
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = NORMAL');
  conn.pragma('busy_timeout = 10000');
  conn.pragma('foreign_keys = ON');
  // Checkpoints run on a worker thread (Checkpointer); the connection itself only checkpoints
  // if that one falls far behind, so the WAL stays bounded either way.
  if (file !== ':memory:') conn.pragma(`wal_autocheckpoint = ${CHECKPOINT_FALLBACK_PAGES}`);
  return conn;
}

export interface OpenedSqlite<S> {
  db: Kysely<S>;
  /** Group fsyncs of the WAL done so far (tests check the coalescing). */
  syncs(): number;
  /** Resolves once every commit that returned before the call is durable (the group fsync). */
  durable(): Promise<void>;
  close(): Promise<void>;
}

/** A Kysely handle on one SQLite file (or `:memory:`), with WAL group commit and background checkpoints. */
export function openSqliteKysely<S>(target: string, mustExist: boolean): OpenedSqlite<S> {
  const conn = openSqlite(target, mustExist);
  const onDisk = target !== ':memory:' && target !== '';
  const wal = onDisk ? new WalSync(`${path.resolve(target)}-wal`) : undefined;
  const checkpointer = onDisk ? new Checkpointer(path.resolve(target)) : undefined;
  let driver: DurableSqliteDriver | undefined;
  const db = new Kysely<S>({ dialect: new DurableSqliteDialect(conn, wal, checkpointer, (d) => (driver = d)) });
  return {
    db,
    syncs: () => driver?.syncs ?? 0,
    durable: () => wal?.durable() ?? Promise.resolve(),
    close: async () => {
      await db.destroy();
      await wal?.close();
    },
  };
}
