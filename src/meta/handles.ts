/**
 * The handle types every meta area's functions take: a database or a
 * transaction on it, for each of the two databases (control plane, data
 * plane), and which engine a handle runs on.
 */
import { PostgresAdapter, type Kysely, type Transaction } from 'kysely';
import type { EngineKind } from './engine.js';
import type { ControlSchema, DataSchema } from './schema.js';

export type DataDb = Kysely<DataSchema> | Transaction<DataSchema>;
export type ControlDb = Kysely<ControlSchema> | Transaction<ControlSchema>;

/** The engine behind a handle, for the statements that differ per engine. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema: the adapter is all that is read
export function engineOf(db: Kysely<any>): EngineKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
