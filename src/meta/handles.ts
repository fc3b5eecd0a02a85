/**
 * The handles meta functions take as their first parameter: a database or a
 * transaction on it, of the control plane or the data plane. The engine is
 * read from the handle itself, so callers never pass it along.
 */
import { type Kysely, PostgresAdapter, type Transaction } from 'kysely';

import type { ControlSchema, DataSchema } from './schema.js';

export type EngineKind = 'sqlite' | 'postgres';

/** Control plane: tenants, keys, buckets, users, sessions, tasks, backend states. */
export type ControlDb = Kysely<ControlSchema> | Transaction<ControlSchema>;
/** Data plane: objects, blobs, uploads, cleanup queue, usage. */
export type DataDb = Kysely<DataSchema> | Transaction<DataSchema>;

/** Which engine a handle (or a transaction on it) runs on. */
export function engineOf(db: Kysely<any> | Transaction<any>): EngineKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** A whole database of each plane, as services hold it (they open transactions on it through meta/). */
export type ControlDatabase = Kysely<ControlSchema>;
export type DataDatabase = Kysely<DataSchema>;
