/**
 * The handles the per-area query modules take first: a database or a
 * transaction on it, of the control plane (tenants, keys, buckets…) or the
 * data plane (objects, blobs, uploads…). `engineOf` is how a query module
 * picks its statement when the engines differ; nothing above meta/ asks.
 */
import { type Kysely, PostgresAdapter, type Transaction } from 'kysely';

import type { ControlSchema, DataSchema } from './schema.js';

export type DataDb = Kysely<DataSchema> | Transaction<DataSchema>;
export type ControlDb = Kysely<ControlSchema> | Transaction<ControlSchema>;

export function engineOf(db: Kysely<any>): 'postgres' | 'sqlite' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
