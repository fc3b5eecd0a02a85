/**
 * Blob rows: one per (tenant, hash), naming the file that holds the bytes,
 * its reference count, its data key and the replicas it wants; and the
 * read of a blob with its replica locations (StoredBlob).
 */
import { sql } from 'kysely';

import { type DataDb, engineOf } from '../handles.js';

/** A blob row with its replicas' locations, as the blob layer reads and repairs it. */
export interface StoredBlob {
  tenantId: string;
  hash: string;
  fileId: string;
  /** Plaintext size. */
  size: number;
  encKey: string | null;
  encMasterKeyId: string | null;
  /** Replicas it should have. */
  replication: number;
  locations: Array<{ backend: string; state: number }>;
}

/** The blob row that names exactly this file, if any (a file is in use only while a row names it). */
export function blobRowNaming(db: DataDb, tenantId: string, hash: string, fileId: string): Promise<{ ref_count: number } | undefined> {
  return db
    .selectFrom('blobs')
    .select('ref_count')
    .where((eb) => eb.and({ tenant_id: tenantId, hash, file_id: fileId }))
    .executeTakeFirst();
}

/**
 * Whether a blob row exists for this content. With `intent`, the write
 * intent is recorded first — on PostgreSQL in the same statement (one
 * round trip on the write path), elsewhere as a statement of its own.
 */
export async function blobExists(
  db: DataDb,
  tenantId: string,
  hash: string,
  intent?: { id: string; nodeId: string; tenantId: string },
): Promise<boolean> {
  const values = intent && { id: intent.id, node_id: intent.nodeId, tenant_id: intent.tenantId, created_at: Date.now() };
  let q = db;
  if (values && engineOf(db) === 'postgres') {
    q = db.with('intent', (w) => w.insertInto('write_intents').values(values)) as unknown as DataDb;
  } else if (values) {
    await db.insertInto('write_intents').values(values).execute();
  }
  const row = await q.selectFrom('blobs').select('file_id').where('tenant_id', '=', tenantId).where('hash', '=', hash).executeTakeFirst();
  return row !== undefined;
}

/** The blob rows and replica locations of `hashes` of one tenant (one query). */
export async function lookupBlobs(db: DataDb, tenantId: string, hashes: string[]): Promise<Map<string, StoredBlob>> {
  const rows = await db
    .selectFrom('blobs as b')
    .leftJoin('blob_locations as l', (j) => j.onRef('l.tenant_id', '=', 'b.tenant_id').onRef('l.hash', '=', 'b.hash'))
    .select(['b.hash', 'b.file_id', 'b.size', 'b.enc_key', 'b.enc_master_key_id', 'b.replication', 'l.backend', 'l.state'])
    .where('b.tenant_id', '=', tenantId)
    .where('b.hash', 'in', hashes)
    .execute();
  const out = new Map<string, StoredBlob>();
  for (const r of rows) {
    let blob = out.get(r.hash);
    if (!blob) {
      blob = {
        tenantId,
        hash: r.hash,
        fileId: r.file_id,
        size: Number(r.size),
        encKey: r.enc_key,
        encMasterKeyId: r.enc_master_key_id,
        replication: Number(r.replication),
        locations: [],
      };
      out.set(r.hash, blob);
    }
    if (r.backend !== null) blob.locations.push({ backend: r.backend, state: Number(r.state) });
  }
  return out;
}

/** What a new blob row records. */
export type NewBlobRow = Omit<StoredBlob, 'locations'>;

/**
 * Inserts a blob row with `delta` references, or adds them to the row that
 * already exists (raising its replication to `row.replication`). Returns
 * the file the row names: not ours when an identical blob had a row.
 */
export async function insertOrReference(trx: DataDb, row: NewBlobRow, delta: number): Promise<string> {
  const out = await trx
    .insertInto('blobs')
    .values({
      tenant_id: row.tenantId,
      hash: row.hash,
      file_id: row.fileId,
      size: row.size,
      ref_count: delta,
      created_at: Date.now(),
      enc_key: row.encKey,
      enc_master_key_id: row.encMasterKeyId,
      replication: row.replication,
    })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'hash']).doUpdateSet((eb) => ({
        ref_count: eb('blobs.ref_count', '+', delta),
        replication: sql<number>`CASE WHEN blobs.replication < ${row.replication} THEN ${row.replication} ELSE blobs.replication END`,
      })),
    )
    .returning('file_id')
    .executeTakeFirstOrThrow();
  return out.file_id;
}

/**
 * Adds `delta` references to an existing row (raising its replication to
 * `replication` when given and above 1). Undefined when there is no row.
 */
export async function changeRefCount(
  trx: DataDb,
  tenantId: string,
  hash: string,
  delta: number,
  replication?: number,
): Promise<{ refCount: number; fileId: string } | undefined> {
  const row = await trx
    .updateTable('blobs')
    .set((eb) =>
      replication && replication > 1
        ? {
            ref_count: eb('ref_count', '+', delta),
            replication: sql<number>`CASE WHEN replication < ${replication} THEN ${replication} ELSE replication END`,
          }
        : { ref_count: eb('ref_count', '+', delta) },
    )
    .where('tenant_id', '=', tenantId)
    .where('hash', '=', hash)
    .returning(['ref_count', 'file_id'])
    .executeTakeFirst();
  return row && { refCount: Number(row.ref_count), fileId: row.file_id };
}

/** Locks the row of this exact blob file while it is still referenced; false when it is gone. */
export async function lockReferencedBlob(trx: DataDb, blob: { tenantId: string; hash: string; fileId: string }): Promise<boolean> {
  const locked = await trx
    .updateTable('blobs')
    .set({ ref_count: sql<number>`ref_count` })
    .where('tenant_id', '=', blob.tenantId)
    .where('hash', '=', blob.hash)
    .where('file_id', '=', blob.fileId)
    .where('ref_count', '>', 0)
    .returning('ref_count')
    .executeTakeFirst();
  return locked !== undefined;
}

/** Deletes this exact blob file's row while it is unreferenced; its size and key, or undefined when it was kept (or gone). */
export async function deleteUnreferenced(
  trx: DataDb,
  tenantId: string,
  hash: string,
  fileId: string,
): Promise<{ size: number; encKey: string | null } | undefined> {
  const deleted = await trx
    .deleteFrom('blobs')
    .where('tenant_id', '=', tenantId)
    .where('hash', '=', hash)
    .where('file_id', '=', fileId)
    .where('ref_count', '<=', 0)
    .returning(['size', 'enc_key'])
    .executeTakeFirst();
  return deleted && { size: Number(deleted.size), encKey: deleted.enc_key };
}

/** Records a scrub's verdict on a blob. */
export async function markScrubbed(db: DataDb, blob: { tenantId: string; hash: string; fileId: string }, ok: boolean): Promise<void> {
  await db
    .updateTable('blobs')
    .set({ verified_at: Date.now(), corrupt: ok ? 0 : 1 })
    .where('tenant_id', '=', blob.tenantId)
    .where('hash', '=', blob.hash)
    .where('file_id', '=', blob.fileId)
    .execute();
}

/** A position in (tenant, hash) order. */
export interface BlobCursor {
  tenantId: string;
  hash: string;
}

/** The next `limit` blobs after `after` in (tenant, hash) order (the scrub's walk). */
export async function blobsAfter(db: DataDb, after: BlobCursor | undefined, limit: number): Promise<BlobCursor[]> {
  let q = db.selectFrom('blobs').select(['tenant_id', 'hash']).orderBy('tenant_id').orderBy('hash').limit(limit);
  if (after)
    q = q.where((eb) =>
      eb.or([eb('tenant_id', '>', after.tenantId), eb.and([eb('tenant_id', '=', after.tenantId), eb('hash', '>', after.hash)])]),
    );
  const rows = await q.execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, hash: r.hash }));
}

/** The next `limit` blobs with a replica on `backend`, after `after` in (tenant, hash) order. */
export async function blobsOnAfter(
  db: DataDb,
  backend: string,
  after: BlobCursor | undefined,
  limit: number,
): Promise<Array<BlobCursor & { fileId: string }>> {
  let q = db
    .selectFrom('blobs as b')
    .innerJoin('blob_locations as l', (j) => j.onRef('l.tenant_id', '=', 'b.tenant_id').onRef('l.hash', '=', 'b.hash'))
    .select(['b.tenant_id', 'b.hash', 'b.file_id'])
    .where('l.backend', '=', backend)
    .orderBy('b.tenant_id')
    .orderBy('b.hash')
    .limit(limit);
  if (after) {
    q = q.where((eb) =>
      eb.or([eb('b.tenant_id', '>', after.tenantId), eb.and([eb('b.tenant_id', '=', after.tenantId), eb('b.hash', '>', after.hash)])]),
    );
  }
  const rows = await q.execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, hash: r.hash, fileId: r.file_id }));
}

/** How many blobs there are, how many were verified, and which are corrupt (scrub status). */
export async function scrubCounts(
  db: DataDb,
): Promise<{ blobs: number; verified: number; corrupt: Array<{ tenantId: string; hash: string; fileId: string }> }> {
  const counts = await db
    .selectFrom('blobs')
    .select((eb) => [eb.fn.countAll<number>().as('blobs'), eb.fn.count<number>('verified_at').as('verified')])
    .executeTakeFirstOrThrow();
  const corrupt = await db.selectFrom('blobs').select(['tenant_id', 'hash', 'file_id']).where('corrupt', '=', 1).execute();
  return {
    blobs: Number(counts.blobs),
    verified: Number(counts.verified),
    corrupt: corrupt.map((r) => ({ tenantId: r.tenant_id, hash: r.hash, fileId: r.file_id })),
  };
}

/** The highest replication of a blob with a replica on `backend` (0 when none). */
export async function highestReplicationOn(db: DataDb, backend: string): Promise<number> {
  const row = await db
    .selectFrom('blob_locations as l')
    .innerJoin('blobs as b', (j) => j.onRef('b.tenant_id', '=', 'l.tenant_id').onRef('b.hash', '=', 'l.hash'))
    .select((eb) => eb.fn.max<number | null>('b.replication').as('m'))
    .where('l.backend', '=', backend)
    .executeTakeFirst();
  return Number(row?.m ?? 0);
}
