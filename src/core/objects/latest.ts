/**
 * Inside a metadata transaction: the latest-version bookkeeping every write
 * shares (PUT, copy, Complete, delete). Unversioned buckets keep one
 * version per key, replaced in place (PostgreSQL folds that into one
 * statement); versioning buckets go to core/objects/versioning.ts. The
 * bucket's state row counts usage and hands out sequence numbers, and
 * locking it serialises the writers of a bucket.
 */
import { type RefChanges, UnfoldAndRetry } from '../../blobs/index.js';
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import type { DataDb } from '../../meta/handles.js';
import { putLatest } from '../../meta/objects/put-latest.js';
import {
  type CurrentVersion,
  latestRowOf,
  manifestOfRow,
  type ObjectVersion,
  rowToVersion,
  type VersionContent,
} from '../../meta/objects/types.js';
import {
  type CountDelta,
  deleteVersionRow,
  latestForDelete,
  latestForWrite,
  latestRow,
  moveCounts,
  putVersionRow,
  takeNextSeq,
  versionRowById,
} from '../../meta/objects/versions.js';
import { visibleRow } from '../branches/read.js';
import { type CreatedEvent, EVENTS } from '../events/names.js';
import { recordEvent } from '../events/record.js';
import { lockForNewVersion } from '../object-lock.js';
import { checkWriteCondition, type WriteCondition } from './keys.js';
import { type DeleteOutcome, deleteToMarker, deleteVersionById, pushVersion, versioningOf, writeVersion } from './versioning.js';

/** Unversioned buckets: the key's one version is replaced, so every count moves alike. */
function countDelta(old: CurrentVersion | undefined, size: number): CountDelta {
  const objects = old ? 0 : 1;
  const bytes = old ? size - Number(old.size) : size;
  return { objects, bytes, versions: objects, versionBytes: bytes };
}

/**
 * Takes the bucket's next sequence number (and moves the object and byte
 * counts by `counts`). The row update also locks the bucket's state on
 * PostgreSQL, which serialises the latest-version flip of concurrent
 * writers; a missing row means the bucket was deleted.
 */
export async function nextSeq(trx: DataDb, bucket: Bucket, counts?: CountDelta): Promise<number> {
  const seq = await takeNextSeq(trx, bucket.id, counts);
  if (seq === undefined) throw fail.noSuchBucket(bucket.name);
  return seq;
}

/** What a write of a new latest version is told besides its content. */
type LatestWrite = VersionContent & {
  condition?: WriteCondition;
  /** A sequence number the caller already took (and with it the bucket lock). */
  seq?: number;
  /** The change sequence's event for it (default s3:ObjectCreated:Put). */
  event?: CreatedEvent;
};

/**
 * Makes `v` the latest version of key. Unversioned buckets replace the key's
 * one version in place, releasing its blobs into `refs`; versioning (and
 * suspended) buckets add to the key's history (core/objects/versioning.ts).
 * Its event is recorded in the same transaction, at the version's seq.
 */
export async function writeLatest(trx: DataDb, bucket: Bucket, key: string, refs: RefChanges, v: LatestWrite): Promise<ObjectVersion> {
  const version = await writeLatestVersion(trx, bucket, key, refs, v);
  await recordEvent(trx, bucket, version.seq, v.event ?? EVENTS.put, {
    key,
    versionId: version.versionId,
    size: version.size,
    etag: version.etag,
  });
  return version;
}

async function writeLatestVersion(trx: DataDb, bucket: Bucket, key: string, refs: RefChanges, v: LatestWrite): Promise<ObjectVersion> {
  // What protects the new version: the request's lock, else the bucket's default retention.
  v = { ...v, lock: lockForNewVersion(bucket, v.lock) };
  const state = versioningOf(bucket);
  if (bucket.view && v.condition && state !== 'Unversioned') {
    // On a branch the key's current version may live in an ancestor: under the bucket lock
    // (a seq taken) the condition is checked against what the branch shows, then written.
    const seq = v.seq ?? (await nextSeq(trx, bucket));
    const shown = await visibleRow(trx, bucket.view, key);
    checkWriteCondition(key, v.condition, shown && Number(shown.is_delete_marker) === 0 ? shown : undefined);
    return writeVersion(trx, bucket, key, refs, { ...v, condition: undefined }, seq, state);
  }
  if (state !== 'Unversioned') {
    // The common case, an Enabled bucket's PUT, folds into one statement like an unversioned one.
    if (state === 'Enabled' && v.seq === undefined) return pushVersion(trx, bucket, key, refs, v);
    return writeVersion(trx, bucket, key, refs, v, v.seq ?? (await nextSeq(trx, bucket)), state);
  }
  const row = latestRowOf(bucket.id, bucket.tenant_id, key, v);
  // The key's current latest version. Under the bucket lock (SQLite's BEGIN IMMEDIATE, or a
  // seq the caller took) this is authoritative; on PostgreSQL without the lock it is a guess
  // that the locking statement below validates.
  const read = await latestForWrite(trx, bucket.id, key, refs.intentId);
  if (read.intentDeleted) refs.intentId = undefined;
  let old = read.current;
  checkWriteCondition(key, v.condition, old);
  let seq: number;
  if (v.seq !== undefined) {
    seq = v.seq;
    await moveCounts(trx, bucket.id, countDelta(old, v.size));
    await putVersionRow(trx, row, seq, old);
  } else {
    // A new key's only blob reference may join the locking statement (see put-latest.pg.ts).
    const sole = old || refs.noFold ? undefined : refs.soleReference();
    const taken = await putLatest(trx, row, old, countDelta(old, v.size), sole);
    if (taken.seq === undefined) throw fail.noSuchBucket(bucket.name);
    if (taken.soleApplied) refs.soleReferenceApplied(taken.soleFileId);
    seq = taken.seq;
    if (!taken.written) {
      // Another writer replaced the key between our read and the lock. We hold the lock
      // now, so the row read next is the truth: redo with it and correct the counts.
      const guessed = old;
      old = (await latestForWrite(trx, bucket.id, key)).current;
      checkWriteCondition(key, v.condition, old);
      // Releasing old's blobs later must not lock a row that sorts before the one already locked.
      if (old && refs.wouldBreakOrder(old.tenant_id, manifestOfRow(old))) throw new UnfoldAndRetry();
      const was = countDelta(guessed, v.size);
      const is = countDelta(old, v.size);
      await moveCounts(trx, bucket.id, { objects: is.objects - was.objects, bytes: is.bytes - was.bytes });
      await putVersionRow(trx, row, seq, old);
    }
  }
  if (old) refs.release(old.tenant_id, manifestOfRow(old));
  return rowToVersion({ ...row, seq });
}

/** One entry of a delete: a key, and the version to remove for good (none: the key's latest, as S3 does). */
export interface DeleteTarget {
  key: string;
  versionId?: string;
  /** If-Match: delete only if the version addressed (the latest, or the one named) has this ETag. */
  ifMatch?: string;
  /** Overrides the batch's bypass of GOVERNANCE retention for this target (its right is judged per key). */
  bypassGovernance?: boolean;
}

/**
 * Deletes one target. Runs after nextSeq() has locked the bucket (seq), so
 * what it reads no concurrent writer can change. Without a version id an
 * unversioned bucket removes the key's one version; a versioning one
 * writes a delete marker.
 */
export async function deleteTarget(
  trx: DataDb,
  bucket: Bucket,
  t: DeleteTarget,
  refs: RefChanges,
  seq: number,
  bypassGovernance: boolean,
): Promise<DeleteOutcome> {
  if (t.ifMatch !== undefined) {
    // Under the bucket lock: the condition and the delete see the same version.
    const row =
      t.versionId !== undefined ? await versionRowById(trx, bucket.id, t.key, t.versionId) : await latestRow(trx, bucket.id, t.key);
    checkWriteCondition(t.key, { ifMatch: t.ifMatch }, row && Number(row.is_delete_marker) === 0 ? row : undefined);
  }
  bypassGovernance = t.bypassGovernance ?? bypassGovernance;
  const out = await deleteOne(trx, bucket, t, refs, seq, bypassGovernance);
  // An event only for what changed: a missing key or version is no error, and no event.
  if (out.removed) {
    const marker = t.versionId === undefined && out.deleteMarker;
    await recordEvent(trx, bucket, seq, marker ? EVENTS.markerCreated : EVENTS.deleted, { key: t.key, versionId: out.versionId });
  }
  return out;
}

async function deleteOne(
  trx: DataDb,
  bucket: Bucket,
  t: DeleteTarget,
  refs: RefChanges,
  seq: number,
  bypassGovernance: boolean,
): Promise<DeleteOutcome> {
  if (t.versionId !== undefined) return deleteVersionById(trx, bucket, t.key, t.versionId, refs, bypassGovernance);
  const state = versioningOf(bucket);
  if (state !== 'Unversioned') return deleteToMarker(trx, bucket, t.key, refs, seq, state);
  const old = await latestForDelete(trx, bucket.id, t.key);
  if (!old) return { key: t.key, deleteMarker: false, removed: false };
  await deleteVersionRow(trx, old.id);
  refs.release(old.tenant_id, manifestOfRow(old));
  await moveCounts(trx, bucket.id, { objects: -1, bytes: -Number(old.size), versions: -1, versionBytes: -Number(old.size) });
  return { key: t.key, deleteMarker: false, removed: true };
}
