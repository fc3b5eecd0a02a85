/** Queries on blob rows shared by the write path, the cleanup queue and the reconciler. */
import type { Kysely, Transaction } from 'kysely';
import type { DataSchema } from '../schema.js';

/** The blob row that names exactly this file, if any (a file is in use only while a row names it). */
export function blobRowNaming(
  db: Kysely<DataSchema> | Transaction<DataSchema>,
  tenantId: string,
  hash: string,
  fileId: string,
): Promise<{ ref_count: number } | undefined> {
  return db
    .selectFrom('blobs')
    .select('ref_count')
    .where('tenant_id', '=', tenantId)
    .where('hash', '=', hash)
    .where('file_id', '=', fileId)
    .executeTakeFirst();
}
