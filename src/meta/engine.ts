/**
 * The metadata engine, as one module for the layers above: opening the two
 * databases, transactions, the handle types and the shared SQL literals.
 * Each job lives in its own file:
 *   open.ts                  URL parsing, MetaDatabases (control + data handles)
 *   handles.ts               ControlDb / DataDb, engineOf
 *   transaction.ts           withTransaction, commitWith, LAZY_COMMIT
 *   literals.ts              LATEST, NOT_DELETED
 *   postgres.ts              pg pool with prepared statements (UNPREPARED)
 *   sqlite/open.ts           SQLite file settings (WAL, synchronous=NORMAL)
 *   sqlite/durable-driver.ts Kysely driver: durable acknowledgements, per-transaction lock
 *   sqlite/wal-sync.ts       group fdatasync of the WAL
 *   sqlite/checkpointer.ts   background checkpoints on a worker thread
 */
export { type ControlDb, type DataDb, type EngineKind, engineOf } from './handles.js';
export { LATEST, NOT_DELETED } from './literals.js';
export { durableBarrier, type MetaDatabases, openMetaDatabases, parseDatabaseUrl, walSyncCount } from './open.js';
export { UNPREPARED } from './postgres.js';
export { commitWith, LAZY_COMMIT, type TransactionOptions, withTransaction } from './transaction.js';
