/**
 * Versioned buckets, inside a metadata transaction that holds the bucket
 * lock (a sequence number was taken): S3's rules for what a write and a
 * delete do to a key's history.
 *
 *   Enabled     every write and every plain delete adds a version (a delete
 *               adds a delete marker); nothing is replaced.
 *   Suspended   writes and plain deletes make the "null" version, replacing
 *               the key's previous null version wherever it is in history;
 *               other versions stay.
 *   (never)     unversioned buckets replace the key's one version in place
 *               (core/objects/latest.ts keeps that path, folded for speed).
 *
 * A key's versions are ordered by sequence number; the newest is the latest
 * (is_latest = 1, one per key by a unique index). Deleting a version by its
 * id removes it for good, and if it was the latest, the newest remaining
 * version (a delete marker or not) becomes the latest.
 */
import crypto from 'node:crypto';

import type { RefChanges } from '../../blobs/index.js';
import { fail } from '../../errors.js';
import { isRetained } from '../../meta/branches/branches.js';
import type { Bucket, RefView } from '../../meta/buckets/types.js';
import type { DataDb } from '../../meta/handles.js';
import { supersededAt } from '../../meta/objects/as-of.js';
import { pushLatest } from '../../meta/objects/put-latest.js';
import {
  type CurrentVersion,
  latestRowOf,
  manifestOfRow,
  markerRowOf,
  MAX_SEQ,
  type ObjectVersion,
  rowToVersion,
  type VersionContent,
  versionIdFor,
  type VersionRow,
} from '../../meta/objects/types.js';
import {
  addDeltas,
  type CountDelta,
  deleteVersionRow,
  insertVersionRow,
  latestForWrite,
  latestRow,
  moveCounts,
  newestRow,
  setLatestFlag,
  versionRowById,
} from '../../meta/objects/versions.js';
import { visibleRow, visibleVersionById } from '../branches/read.js';
import { checkWriteCondition, type WriteCondition } from './keys.js';
import { assertRemovable } from './protection.js';

export type Versioning = 'Unversioned' | 'Enabled' | 'Suspended';

export function versioningOf(bucket: Pick<Bucket, 'versioning'>): Versioning {
  return bucket.versioning === 'Enabled' ? 'Enabled' : bucket.versioning === 'Suspended' ? 'Suspended' : 'Unversioned';
}

const VERSION_ID = /^[0-9a-f]{20}$/;

/** The random part of a new version id (see versionIdFor: URL-safe, unique within the bucket as seq is). */
function versionIdSuffix(): string {
  return crypto.randomBytes(3).toString('hex');
}

export function newVersionId(seq: number): string {
  return versionIdFor(seq, versionIdSuffix());
}

/** The sequence number a version id of ours carries (undefined for "null" or a foreign string). */
export function seqOfVersionId(id: string): number | undefined {
  return VERSION_ID.test(id) ? MAX_SEQ - parseInt(id.slice(0, 14), 16) : undefined;
}

/** Whether a string can be a version id at all ('null' or one of ours); others are refused before any query. */
export function isVersionIdSyntax(id: string): boolean {
  return id === 'null' || VERSION_ID.test(id);
}

/** What a delete did: the version it made (a marker) or removed. */
export interface DeleteOutcome {
  key: string;
  /** The marker's id when one was made, else the id of the version removed (undefined: nothing existed). */
  versionId?: string;
  /** A delete marker was made, or the version removed was one. */
  deleteMarker: boolean;
  /** Something changed: a marker was made or a version removed (false: nothing existed). */
  removed: boolean;
}

/** Deletes a row for good, releasing its blobs; the usage it frees (promotion is the caller's). */
async function removeRow(trx: DataDb, row: VersionRow, refs: RefChanges): Promise<CountDelta> {
  await deleteVersionRow(trx, row.id);
  if (Number(row.is_delete_marker) === 1) return { objects: 0, bytes: 0, markers: -1 };
  refs.release(row.tenant_id, manifestOfRow(row));
  const size = Number(row.size);
  const live = Number(row.is_latest) === 1;
  return { objects: live ? -1 : 0, bytes: live ? -size : 0, versions: -1, versionBytes: -size };
}

/**
 * Suspended buckets: the key's null version goes (it is being replaced).
 * Returns the usage freed and whether it was the latest.
 */
async function dropNullVersion(
  trx: DataDb,
  bucket: Bucket,
  key: string,
  latest: VersionRow | undefined,
  refs: RefChanges,
): Promise<{ delta: CountDelta; wasLatest: boolean }> {
  const nullRow = latest?.version_id === 'null' ? latest : await versionRowById(trx, bucket.id, key, 'null');
  if (!nullRow) return { delta: { objects: 0, bytes: 0 }, wasLatest: false };
  // A protected null version cannot be replaced (Object Lock: not overwritten in place).
  assertRemovable(nullRow, false);
  return { delta: await removeRow(trx, nullRow, refs), wasLatest: nullRow.id === latest?.id };
}

/** Makes `row` the key's latest version on top of `latest` (which becomes noncurrent). */
async function stackVersion(
  trx: DataDb,
  bucket: Bucket,
  latest: VersionRow | undefined,
  row: ReturnType<typeof latestRowOf>,
  seq: number,
  d: CountDelta,
) {
  if (latest) {
    await setLatestFlag(trx, latest.id, 0);
    if (Number(latest.is_delete_marker) === 0) d = addDeltas(d, { objects: -1, bytes: -Number(latest.size) });
  }
  await insertVersionRow(trx, row, seq);
  await moveCounts(trx, bucket.id, d);
}

/** What a new version on top of `old` does to the usage counts. */
function pushDelta(old: CurrentVersion | undefined, size: number): CountDelta {
  const live = old !== undefined && Number(old.is_delete_marker) === 0;
  return { objects: live ? 0 : 1, bytes: live ? size - Number(old.size) : size, versions: 1, versionBytes: size };
}

/**
 * The hot path of a versioning bucket: a write on an Enabled bucket that
 * has not locked the bucket yet. One folded statement on PostgreSQL (as for
 * unversioned buckets, see meta/objects/put-latest.pg.ts), with the redo
 * under the lock when its guess of the latest version was stale.
 */
export async function pushVersion(
  trx: DataDb,
  bucket: Bucket,
  key: string,
  refs: RefChanges,
  v: VersionContent & { condition?: WriteCondition },
): Promise<ObjectVersion> {
  const read = await latestForWrite(trx, bucket.id, key, refs.intentId);
  if (read.intentDeleted) refs.intentId = undefined;
  let old = read.current;
  checkWriteCondition(key, v.condition, old && Number(old.is_delete_marker) === 0 ? old : undefined);
  const row = latestRowOf(bucket.id, bucket.tenant_id, key, v);
  const suffix = versionIdSuffix();
  // Nothing is released by a versioned write, so its one blob reference may always join the statement.
  const sole = refs.noFold ? undefined : refs.soleReference();
  const taken = await pushLatest(trx, row, old, pushDelta(old, v.size), sole, suffix);
  if (taken.seq === undefined) throw fail.noSuchBucket(bucket.name);
  if (taken.soleApplied) refs.soleReferenceApplied(taken.soleFileId);
  const seq = taken.seq;
  let versionId = taken.versionId;
  if (!taken.written) {
    // Another writer changed the key between our read and the lock; we hold the lock now.
    const guessed = old;
    old = (await latestForWrite(trx, bucket.id, key)).current;
    checkWriteCondition(key, v.condition, old && Number(old.is_delete_marker) === 0 ? old : undefined);
    const was = pushDelta(guessed, v.size);
    const is = pushDelta(old, v.size);
    await moveCounts(trx, bucket.id, { objects: is.objects - was.objects, bytes: is.bytes - was.bytes });
    if (old) await setLatestFlag(trx, old.id, 0);
    versionId = versionIdFor(seq, suffix);
    await insertVersionRow(trx, { ...row, version_id: versionId }, seq);
  }
  return rowToVersion({ ...row, version_id: versionId!, seq });
}

/** A write on a versioning (or suspended) bucket under the bucket lock (seq taken): a new latest version. */
export async function writeVersion(
  trx: DataDb,
  bucket: Bucket,
  key: string,
  refs: RefChanges,
  v: VersionContent & { condition?: WriteCondition },
  seq: number,
  state: Exclude<Versioning, 'Unversioned'>,
): Promise<ObjectVersion> {
  let latest = await latestRow(trx, bucket.id, key);
  checkWriteCondition(key, v.condition, latest && Number(latest.is_delete_marker) === 0 ? latest : undefined);
  let d: CountDelta = { objects: 1, bytes: v.size, versions: 1, versionBytes: v.size };
  if (state === 'Suspended') {
    const dropped = await dropNullVersion(trx, bucket, key, latest, refs);
    d = addDeltas(d, dropped.delta);
    if (dropped.wasLatest) latest = undefined;
  }
  const row = { ...latestRowOf(bucket.id, bucket.tenant_id, key, v), version_id: state === 'Enabled' ? newVersionId(seq) : 'null' };
  await stackVersion(trx, bucket, latest, row, seq, d);
  return rowToVersion({ ...row, seq });
}

/** A delete without a version id on a versioning (or suspended) bucket: a delete marker becomes the latest. */
export async function deleteToMarker(
  trx: DataDb,
  bucket: Bucket,
  key: string,
  refs: RefChanges,
  seq: number,
  state: Exclude<Versioning, 'Unversioned'>,
): Promise<DeleteOutcome> {
  let latest = await latestRow(trx, bucket.id, key);
  let d: CountDelta = { objects: 0, bytes: 0, markers: 1 };
  if (state === 'Suspended') {
    const dropped = await dropNullVersion(trx, bucket, key, latest, refs);
    d = addDeltas(d, dropped.delta);
    if (dropped.wasLatest) latest = undefined;
  }
  const versionId = state === 'Enabled' ? newVersionId(seq) : 'null';
  await stackVersion(trx, bucket, latest, markerRowOf(bucket.id, bucket.tenant_id, key, versionId), seq, d);
  return { key, versionId, deleteMarker: true, removed: true };
}

/**
 * Removes one version for good (any bucket state: an unversioned bucket's
 * only version is "null"). If it was the latest, the newest remaining
 * version takes its place. A missing version is no error (S3 semantics).
 */
export async function deleteVersionById(
  trx: DataDb,
  bucket: Bucket,
  key: string,
  versionId: string,
  refs: RefChanges,
  bypassGovernance: boolean,
): Promise<DeleteOutcome> {
  const row = await versionRowById(trx, bucket.id, key, versionId);
  if (!row) return { key, versionId, deleteMarker: false, removed: false };
  assertRemovable(row, bypassGovernance);
  // History a commit or a branch sees is kept (core/branches/service.ts).
  if (await isRetained(trx, bucket.id, Number(row.seq), await supersededAt(trx, bucket.id, key, Number(row.seq)))) {
    throw fail.conflict(
      'VersionRetained',
      'This version is part of the history of a commit or a branch of this bucket; it stays while they do.',
      { Key: key, VersionId: versionId },
    );
  }
  let d = await removeRow(trx, row, refs);
  if (Number(row.is_latest) === 1) {
    const next = await newestRow(trx, bucket.id, key);
    if (next) {
      await setLatestFlag(trx, next.id, 1);
      if (Number(next.is_delete_marker) === 0) d = addDeltas(d, { objects: 1, bytes: Number(next.size) });
    }
  }
  await moveCounts(trx, bucket.id, d);
  return { key, versionId, deleteMarker: Number(row.is_delete_marker) === 1, removed: true };
}

/** A version by id, or the latest (a delete marker included); NoSuchKey / NoSuchVersion when there is none. */
export async function findVersion(db: DataDb, bucket: Bucket, key: string, versionId?: string): Promise<ObjectVersion> {
  // Through a branch, tag or commit alias: the view's levels, the ref's own first.
  if (bucket.view) return findVersionInView(db, bucket.view, key, versionId);
  if (versionId === undefined) {
    const row = await latestRow(db, bucket.id, key);
    if (!row) throw fail.noSuchKey(key);
    return rowToVersion(row);
  }
  if (!isVersionIdSyntax(versionId)) throw invalidVersionId(versionId);
  const row = await versionRowById(db, bucket.id, key, versionId);
  if (!row) throw fail.notFound('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
  return rowToVersion(row);
}

async function findVersionInView(db: DataDb, view: RefView, key: string, versionId?: string): Promise<ObjectVersion> {
  if (versionId === undefined) {
    const row = await visibleRow(db, view, key);
    if (!row) throw fail.noSuchKey(key);
    return rowToVersion(row);
  }
  if (!isVersionIdSyntax(versionId)) throw invalidVersionId(versionId);
  const row = await visibleVersionById(db, view, key, versionId);
  if (!row) throw fail.notFound('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
  return rowToVersion(row);
}

export function invalidVersionId(versionId: string) {
  return fail.invalid('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: versionId });
}
