/** Queries on multipart uploads, their parts and the records of completed uploads. */
import type { Selectable } from 'kysely';

import { type DataDb, engineOf } from '../handles.js';
import type { MultipartCompletionTable, MultipartPartTable, MultipartUploadTable } from '../schema.js';
import type { ManifestEntry, ObjectAttributes, StoredChecksums, VersionLock } from './types.js';

export type UploadRow = Selectable<MultipartUploadTable>;
export type CompletionRow = Selectable<MultipartCompletionTable>;
export type PartRow = Selectable<MultipartPartTable>;

export async function insertUpload(
  db: DataDb,
  u: {
    uploadId: string;
    bucketId: string;
    tenantId: string;
    key: string;
    attributes: ObjectAttributes;
    checksumAlgorithm: string | null;
    lock?: VersionLock;
  },
): Promise<void> {
  await db
    .insertInto('multipart_uploads')
    .values({
      upload_id: u.uploadId,
      bucket_id: u.bucketId,
      tenant_id: u.tenantId,
      key: u.key,
      content_type: u.attributes.contentType,
      headers: JSON.stringify(u.attributes.headers),
      user_meta: JSON.stringify(u.attributes.userMeta),
      checksum_algorithm: u.checksumAlgorithm,
      created_at: Date.now(),
      tags: JSON.stringify(u.attributes.tags),
      acl: u.attributes.acl,
      lock: u.lock ? JSON.stringify(u.lock) : null,
    })
    .execute();
}

export function uploadRow(db: DataDb, uploadId: string): Promise<UploadRow | undefined> {
  return db.selectFrom('multipart_uploads').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
}

/**
 * Inside a transaction: whether the upload still exists, locking its row on
 * PostgreSQL until the commit (a concurrent Complete or Abort waits; on
 * SQLite the writer lock already excludes them).
 */
export async function lockUpload(db: DataDb, uploadId: string): Promise<boolean> {
  let q = db.selectFrom('multipart_uploads').select('tenant_id').where('upload_id', '=', uploadId);
  if (engineOf(db) === 'postgres') q = q.forUpdate();
  return (await q.executeTakeFirst()) !== undefined;
}

/**
 * Replaces a part's row; returns the blob reference of the part it
 * replaced (to release), if any.
 */
export async function replacePart(
  db: DataDb,
  p: { uploadId: string; partNumber: number; blobHash: string | null; size: number; etag: string; checksums: StoredChecksums },
): Promise<ManifestEntry | undefined> {
  const old = await db
    .selectFrom('multipart_parts')
    .select(['blob_hash', 'size'])
    .where('upload_id', '=', p.uploadId)
    .where('part_number', '=', p.partNumber)
    .executeTakeFirst();
  if (old) await db.deleteFrom('multipart_parts').where('upload_id', '=', p.uploadId).where('part_number', '=', p.partNumber).execute();
  await db
    .insertInto('multipart_parts')
    .values({
      upload_id: p.uploadId,
      part_number: p.partNumber,
      blob_hash: p.blobHash,
      size: p.size,
      etag: p.etag,
      checksums: JSON.stringify(p.checksums),
      created_at: Date.now(),
    })
    .execute();
  return old?.blob_hash ? [old.blob_hash, Number(old.size)] : undefined;
}

/**
 * In-progress uploads of a bucket in (key, initiation time, id) order,
 * after the (keyMarker, uploadIdMarker) position; at most `limit` rows, not
 * yet filtered by prefix beyond its lower bound.
 */
export async function uploadsPage(
  db: DataDb,
  bucketId: string,
  q: { prefix: string; keyMarker: string; uploadIdMarker: string; limit: number },
) {
  let query = db.selectFrom('multipart_uploads').select(['upload_id', 'key', 'created_at']).where('bucket_id', '=', bucketId);
  if (q.prefix) query = query.where('key', '>=', q.prefix);
  // S3: with an upload-id-marker, uploads of the marker key initiated after that upload are included.
  const marker =
    q.keyMarker && q.uploadIdMarker
      ? await db
          .selectFrom('multipart_uploads')
          .select(['created_at', 'upload_id'])
          .where('upload_id', '=', q.uploadIdMarker)
          .where('bucket_id', '=', bucketId)
          .where('key', '=', q.keyMarker)
          .executeTakeFirst()
      : undefined;
  if (marker) {
    const at = Number(marker.created_at);
    query = query.where((eb) =>
      eb.or([
        eb('key', '>', q.keyMarker),
        eb.and([
          eb('key', '=', q.keyMarker),
          eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('upload_id', '>', marker.upload_id)])]),
        ]),
      ]),
    );
  } else if (q.keyMarker) {
    query = query.where('key', '>', q.keyMarker);
  }
  return query.orderBy('key').orderBy('created_at').orderBy('upload_id').limit(q.limit).execute();
}

export function partsOf(db: DataDb, uploadId: string) {
  return db.selectFrom('multipart_parts').selectAll().where('upload_id', '=', uploadId).orderBy('part_number').execute();
}

/** The blob references of an upload's parts (what aborting it releases). */
export async function partBlobsOf(db: DataDb, uploadId: string): Promise<ManifestEntry[]> {
  const rows = await db.selectFrom('multipart_parts').select(['blob_hash', 'size']).where('upload_id', '=', uploadId).execute();
  return rows.filter((p) => p.blob_hash).map((p) => [p.blob_hash!, Number(p.size)]);
}

export async function deleteParts(db: DataDb, uploadId: string): Promise<void> {
  await db.deleteFrom('multipart_parts').where('upload_id', '=', uploadId).execute();
}

/** Deletes the upload row (locking it first on PostgreSQL); its tenant if it was there. */
export async function claimUpload(db: DataDb, uploadId: string): Promise<{ tenantId: string } | undefined> {
  const row = await db.deleteFrom('multipart_uploads').where('upload_id', '=', uploadId).returning(['tenant_id']).executeTakeFirst();
  return row && { tenantId: row.tenant_id };
}

/** Deletes every upload of a bucket (locking their rows); their ids and tenants. */
export async function claimUploadsOfBucket(db: DataDb, bucketId: string): Promise<Array<{ uploadId: string; tenantId: string }>> {
  const rows = await db.deleteFrom('multipart_uploads').where('bucket_id', '=', bucketId).returning(['upload_id', 'tenant_id']).execute();
  return rows.map((r) => ({ uploadId: r.upload_id, tenantId: r.tenant_id }));
}

/** Ids of uploads initiated before cutoff, oldest first. */
export async function uploadsOlderThan(db: DataDb, cutoff: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('multipart_uploads')
    .select('upload_id')
    .where('created_at', '<', cutoff)
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.upload_id);
}

export async function insertCompletion(
  db: DataDb,
  c: {
    uploadId: string;
    bucketId: string;
    key: string;
    partsDigest: string;
    etag: string;
    checksums: StoredChecksums;
    headers: Record<string, string>;
    versionId: string;
  },
): Promise<void> {
  await db
    .insertInto('multipart_completions')
    .values({
      upload_id: c.uploadId,
      bucket_id: c.bucketId,
      key: c.key,
      parts_digest: c.partsDigest,
      etag: c.etag,
      checksums: JSON.stringify(c.checksums),
      headers: JSON.stringify(c.headers),
      completed_at: Date.now(),
      version_id: c.versionId,
    })
    .execute();
}

/** The record of an upload completed at or after `since`. */
export function completionSince(db: DataDb, uploadId: string, since: number): Promise<CompletionRow | undefined> {
  return db
    .selectFrom('multipart_completions')
    .selectAll()
    .where('upload_id', '=', uploadId)
    .where('completed_at', '>=', since)
    .executeTakeFirst();
}

/** Deletes up to `batch` completion records older than cutoff, oldest first; how many went. */
export async function pruneCompletionsBefore(db: DataDb, cutoff: number, batch: number): Promise<number> {
  const res = await db
    .deleteFrom('multipart_completions')
    .where('upload_id', 'in', (eb) =>
      eb.selectFrom('multipart_completions').select('upload_id').where('completed_at', '<', cutoff).orderBy('completed_at').limit(batch),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** The size of one part of an upload (undefined: not uploaded yet), for a quota's fail-fast estimate. */
export async function partSize(db: DataDb, uploadId: string, partNumber: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('multipart_parts')
    .select('size')
    .where('upload_id', '=', uploadId)
    .where('part_number', '=', partNumber)
    .executeTakeFirst();
  return row ? Number(row.size) : undefined;
}
