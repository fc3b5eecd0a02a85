/**
 * Queries on object versions and the bucket's state row (its sequence
 * counter and usage counts), for the write, read and metadata paths of
 * core/objects. Each takes the handle first: a database or the transaction
 * the caller runs.
 */
import { LATEST, NOT_DELETED } from '../engine.js';
import { type DataDb, engineOf } from '../handles.js';
import type { CannedAcl, CurrentVersion, NewVersionRow, ObjectVersion } from './types.js';
import { rowToVersion } from './types.js';

export interface CountDelta {
  objects: number;
  bytes: number;
}

/** The key's live latest version, undefined if there is none (or it is a delete marker). */
export async function latestVersion(db: DataDb, bucketId: string, key: string): Promise<ObjectVersion | undefined> {
  const row = await db
    .selectFrom('object_versions')
    .selectAll()
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('is_latest', '=', LATEST)
    .where('is_delete_marker', '=', NOT_DELETED)
    .executeTakeFirst();
  return row && rowToVersion(row);
}

/**
 * The key's latest version as a write needs it. On PostgreSQL a pending
 * write intent (`intentId`) is deleted in the same round trip (only this
 * write touches its intent row: deleting it takes no lock anyone waits for);
 * `intentDeleted` says whether that happened, else the caller deletes it.
 */
export async function latestForWrite(
  db: DataDb,
  bucketId: string,
  key: string,
  intentId?: string,
): Promise<{ current: CurrentVersion | undefined; intentDeleted: boolean }> {
  const fold = intentId !== undefined && engineOf(db) === 'postgres';
  const q = fold ? (db.with('gone', (q) => q.deleteFrom('write_intents').where('id', '=', intentId)) as unknown as DataDb) : db;
  const current = await q
    .selectFrom('object_versions')
    .select(['id', 'seq', 'manifest', 'size', 'tenant_id', 'etag'])
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('is_latest', '=', LATEST)
    .executeTakeFirst();
  return { current, intentDeleted: fold };
}

/**
 * Under the bucket lock: makes row the key's latest version, replacing old
 * in place (S3 without versioning keeps one version per key) or inserting it.
 */
export async function putVersionRow(db: DataDb, row: NewVersionRow, seq: number, old: CurrentVersion | undefined): Promise<void> {
  if (!old) {
    await db
      .insertInto('object_versions')
      .values({ ...row, seq })
      .execute();
    return;
  }
  // Key, bucket and latest flag stay as they are (not rewriting them spares the index updates).
  const { bucket_id: _b, key: _k, is_latest: _l, ...changed } = row;
  const res = await db
    .updateTable('object_versions')
    .set({ ...changed, seq })
    .where('id', '=', old.id)
    .where('seq', '=', old.seq)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw new Error(`latest version of ${row.key} changed under the bucket lock`);
}

/** Moves the bucket's object and byte counts. */
export async function moveCounts(db: DataDb, bucketId: string, d: CountDelta): Promise<void> {
  if (d.objects === 0 && d.bytes === 0) return;
  await db
    .updateTable('bucket_state')
    .set((eb) => ({ object_count: eb('object_count', '+', d.objects), byte_count: eb('byte_count', '+', d.bytes) }))
    .where('bucket_id', '=', bucketId)
    .execute();
}

/**
 * Takes the bucket's next sequence number (and moves the object and byte
 * counts by `counts`). The row update also locks the bucket's state on
 * PostgreSQL; undefined means the bucket's state row is gone (deleted).
 */
export async function takeNextSeq(db: DataDb, bucketId: string, counts?: CountDelta): Promise<number | undefined> {
  const row = await db
    .updateTable('bucket_state')
    .set((eb) =>
      counts
        ? {
            last_seq: eb('last_seq', '+', 1),
            object_count: eb('object_count', '+', counts.objects),
            byte_count: eb('byte_count', '+', counts.bytes),
          }
        : { last_seq: eb('last_seq', '+', 1) },
    )
    .where('bucket_id', '=', bucketId)
    .returning('last_seq')
    .executeTakeFirst();
  return row ? Number(row.last_seq) : undefined;
}

/** The key's latest version (live or not) as a delete needs it. */
export function latestForDelete(db: DataDb, bucketId: string, key: string) {
  return db
    .selectFrom('object_versions')
    .select(['id', 'manifest', 'size', 'tenant_id', 'etag'])
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('is_latest', '=', LATEST)
    .executeTakeFirst();
}

export async function deleteVersionRow(db: DataDb, id: number): Promise<void> {
  await db.deleteFrom('object_versions').where('id', '=', id).execute();
}

/**
 * Changes the tags or the ACL of the key's live latest version in place
 * (neither makes a new version in S3). False if there is no such version.
 */
export async function updateLatestInPlace(
  db: DataDb,
  bucketId: string,
  key: string,
  change: { tags: Record<string, string> } | { acl: CannedAcl },
): Promise<boolean> {
  const set = 'tags' in change ? { tags: JSON.stringify(change.tags) } : { acl: change.acl };
  const res = await db
    .updateTable('object_versions')
    .set(set)
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('is_latest', '=', LATEST)
    .where('is_delete_marker', '=', NOT_DELETED)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Up to `limit` keys of the bucket's latest versions, in key order (a purge's next batch). */
export async function latestKeys(db: DataDb, bucketId: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('object_versions')
    .select('key')
    .where('bucket_id', '=', bucketId)
    .where('is_latest', '=', 1)
    .orderBy('key')
    .limit(limit)
    .execute();
  return rows.map((r) => r.key);
}

/** Whether the bucket holds any version at all. */
export async function hasAnyVersion(db: DataDb, bucketId: string): Promise<boolean> {
  const row = await db.selectFrom('object_versions').select('id').where('bucket_id', '=', bucketId).limit(1).executeTakeFirst();
  return row !== undefined;
}
