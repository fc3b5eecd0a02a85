/**
 * Queries on object versions and the bucket's state row (its sequence
 * counter and usage counts), for the write, read and metadata paths of
 * core/objects. Each takes the handle first: a database or the transaction
 * the caller runs.
 */
import { LATEST, NOT_DELETED } from '../engine.js';
import { type DataDb, engineOf } from '../handles.js';
import type { CannedAcl, CurrentVersion, NewVersionRow, ObjectVersion, VersionRow } from './types.js';
import { rowToVersion } from './types.js';

/**
 * How a change moves the bucket's usage: live latest versions (objects,
 * bytes), every non-marker version (versions, versionBytes), delete markers.
 * The last three default to nothing.
 */
export interface CountDelta {
  objects: number;
  bytes: number;
  versions?: number;
  versionBytes?: number;
  markers?: number;
}

export function addDeltas(a: CountDelta, b: CountDelta): CountDelta {
  return {
    objects: a.objects + b.objects,
    bytes: a.bytes + b.bytes,
    versions: (a.versions ?? 0) + (b.versions ?? 0),
    versionBytes: (a.versionBytes ?? 0) + (b.versionBytes ?? 0),
    markers: (a.markers ?? 0) + (b.markers ?? 0),
  };
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
    .select(['id', 'seq', 'manifest', 'size', 'tenant_id', 'etag', 'is_delete_marker'])
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

/** Moves the bucket's usage counts. */
export async function moveCounts(db: DataDb, bucketId: string, d: CountDelta): Promise<void> {
  if (d.objects === 0 && d.bytes === 0 && !d.versions && !d.versionBytes && !d.markers) return;
  await db
    .updateTable('bucket_state')
    .set((eb) => ({
      object_count: eb('object_count', '+', d.objects),
      byte_count: eb('byte_count', '+', d.bytes),
      version_count: eb('version_count', '+', d.versions ?? 0),
      version_bytes: eb('version_bytes', '+', d.versionBytes ?? 0),
      marker_count: eb('marker_count', '+', d.markers ?? 0),
    }))
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
            version_count: eb('version_count', '+', counts.versions ?? 0),
            version_bytes: eb('version_bytes', '+', counts.versionBytes ?? 0),
            marker_count: eb('marker_count', '+', counts.markers ?? 0),
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

/** Up to `limit` versions of the bucket (any key, latest or not): a purge's next batch. */
export async function someVersions(db: DataDb, bucketId: string, limit: number): Promise<Array<{ key: string; versionId: string }>> {
  const rows = await db
    .selectFrom('object_versions')
    .select(['key', 'version_id'])
    .where('bucket_id', '=', bucketId)
    .orderBy('key')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ key: r.key, versionId: r.version_id }));
}

// ---- versions by id, delete markers, history (versioned buckets) ----

/** The key's latest version row, a delete marker included. */
export function latestRow(db: DataDb, bucketId: string, key: string): Promise<VersionRow | undefined> {
  return db
    .selectFrom('object_versions')
    .selectAll()
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('is_latest', '=', LATEST)
    .executeTakeFirst();
}

/** One version of a key by its version id ('null' included). */
export function versionRowById(db: DataDb, bucketId: string, key: string, versionId: string): Promise<VersionRow | undefined> {
  return db
    .selectFrom('object_versions')
    .selectAll()
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('version_id', '=', versionId)
    .executeTakeFirst();
}

/** The key's newest remaining version (the one a delete of the latest brings back). */
export function newestRow(db: DataDb, bucketId: string, key: string): Promise<VersionRow | undefined> {
  return db
    .selectFrom('object_versions')
    .selectAll()
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Marks a row latest (1) or not (0). */
export async function setLatestFlag(db: DataDb, id: number, latest: 0 | 1): Promise<void> {
  await db.updateTable('object_versions').set({ is_latest: latest }).where('id', '=', id).execute();
}

/** Inserts a version row with its sequence number. */
export async function insertVersionRow(db: DataDb, row: NewVersionRow, seq: number): Promise<void> {
  await db
    .insertInto('object_versions')
    .values({ ...row, seq })
    .execute();
}

/** Changes one version's tags, ACL, retention or legal hold in place (none of them makes a new version). */
export async function updateVersionInPlace(
  db: DataDb,
  id: number,
  change: Partial<Pick<VersionRow, 'tags' | 'acl' | 'lock_mode' | 'lock_until' | 'legal_hold'>>,
): Promise<void> {
  await db.updateTable('object_versions').set(change).where('id', '=', id).execute();
}

/** The bucket's usage counts, every version included. */
export async function bucketUsage(db: DataDb, bucketId: string) {
  const row = await db.selectFrom('bucket_state').selectAll().where('bucket_id', '=', bucketId).executeTakeFirst();
  if (!row) return undefined;
  return {
    objects: Number(row.object_count),
    bytes: Number(row.byte_count),
    versions: Number(row.version_count),
    versionBytes: Number(row.version_bytes),
    markers: Number(row.marker_count),
  };
}

/** Whether any version of the bucket is under a legal hold or a retention that has not passed (Object Lock). */
export async function hasProtectedVersion(db: DataDb, bucketId: string, now: number): Promise<boolean> {
  const row = await db
    .selectFrom('object_versions')
    .select('id')
    .where('bucket_id', '=', bucketId)
    .where((eb) => eb.or([eb('legal_hold', '=', 1), eb('lock_until', '>', now)]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Whether the bucket holds any version at all. */
export async function hasAnyVersion(db: DataDb, bucketId: string): Promise<boolean> {
  const row = await db.selectFrom('object_versions').select('id').where('bucket_id', '=', bucketId).limit(1).executeTakeFirst();
  return row !== undefined;
}
