/** Changes to a version's metadata that make no new version (S3's PutObjectTagging and PutObjectAcl). */
import { RefChanges } from '../../blobs/index.js';
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import type { DataDb } from '../../meta/handles.js';
import type { CannedAcl, ObjectVersion } from '../../meta/objects/types.js';
import { manifestOfRow, rowToVersion } from '../../meta/objects/types.js';
import {
  insertVersionRow,
  moveCounts,
  takeNextSeq,
  updateLatestInPlace,
  updateVersionInPlace,
  versionRowById,
} from '../../meta/objects/versions.js';
import { visibleRow } from '../branches/read.js';
import type { CoreContext } from '../context.js';
import { EVENTS } from '../events/names.js';
import { recordEvent } from '../events/record.js';
import { validateKey } from './keys.js';
import { metadataWrite } from './stage.js';
import { findVersion, invalidVersionId, isVersionIdSyntax } from './versioning.js';

/**
 * The version a metadata change applies to: the one named, else the
 * latest. A delete marker has no metadata to change: S3 answers 405 for a
 * marker named by id and 404 for a key whose latest is a marker.
 */
export async function versionToChange(ctx: CoreContext, bucket: Bucket, key: string, versionId: string | undefined) {
  validateKey(key);
  const v = await findVersion(ctx.meta.data, bucket, key, versionId);
  if (v.isDeleteMarker) {
    if (versionId === undefined) throw fail.noSuchKey(key);
    throw fail.notAllowedOnMarker();
  }
  return v;
}

/** The change sequence's event of a metadata change. */
function eventOf(set: { tags: Record<string, string> } | { acl: CannedAcl }) {
  if ('acl' in set) return { name: EVENTS.aclPut, detail: { acl: set.acl } };
  return { name: Object.keys(set.tags).length === 0 ? EVENTS.tagsDeleted : EVENTS.tagsPut, detail: undefined };
}

/**
 * Changes a version's tags or ACL in place, under the bucket lock: the
 * change takes a seq (no version is made, and the version keeps its own),
 * so its event has its place in the bucket's one ordered change sequence.
 */
async function change(
  ctx: CoreContext,
  bucket: Bucket,
  key: string,
  versionId: string | undefined,
  set: { tags: Record<string, string> } | { acl: CannedAcl },
): Promise<ObjectVersion> {
  validateKey(key);
  const event = eventOf(set);
  const inTransaction = (fn: (trx: DataDb, seq: number) => Promise<ObjectVersion | undefined>) =>
    metadataWrite(ctx, () =>
      withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
        const seq = await takeNextSeq(trx, bucket.id);
        if (seq === undefined) throw fail.noSuchBucket(bucket.name);
        const v = await fn(trx, seq);
        if (v) await recordEvent(trx, bucket, seq, event.name, { key, versionId: v.versionId, detail: event.detail });
        return v;
      }),
    );
  if (versionId === undefined) {
    // The common case: one statement on the latest live version.
    const done = await inTransaction(async (trx) =>
      (await updateLatestInPlace(trx, bucket.id, key, set)) ? findVersion(trx, bucket, key) : undefined,
    );
    if (done) return done;
    const shown = await versionToChange(ctx, bucket, key, undefined);
    // On a branch, the latest may be an ancestor's version: it changes on the branch only.
    if (bucket.view && !bucket.view.readOnly) return changeOnBranch(ctx, bucket, shown, set);
    throw fail.noSuchKey(key);
  }
  if (!isVersionIdSyntax(versionId)) throw invalidVersionId(versionId);
  const v = await versionToChange(ctx, bucket, key, versionId);
  const row = await versionRowById(ctx.meta.data, bucket.id, key, versionId);
  if (!row && bucket.view) throw ancestorsVersion(bucket);
  if (!row) throw fail.notFound('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
  const changed = 'tags' in set ? { ...v, tags: set.tags } : { ...v, acl: set.acl };
  await inTransaction(async (trx) => {
    await updateVersionInPlace(trx, row.id, 'tags' in set ? { tags: JSON.stringify(set.tags) } : { acl: set.acl });
    return changed;
  });
  return changed;
}

/** Replaces the tag set of a version (the latest unless named) in place. */
export function setObjectTags(ctx: CoreContext, bucket: Bucket, key: string, tags: Record<string, string>, versionId?: string) {
  return change(ctx, bucket, key, versionId, { tags });
}

/** Sets the canned ACL of a version (the latest unless named) in place. */
export function setObjectAcl(ctx: CoreContext, bucket: Bucket, key: string, acl: CannedAcl, versionId?: string) {
  return change(ctx, bucket, key, versionId, { acl });
}

/** A version an ancestor of the branch holds: the branch may read it, not change it in place. */
export function ancestorsVersion(bucket: Bucket) {
  return fail.conflict(
    'InvalidRequest',
    `This version belongs to an ancestor of ${bucket.name} (it shows through the fork); change it there, or write a new version on the branch.`,
  );
}

/**
 * Tags or ACL of a branch's latest version that lives in an ancestor: the
 * branch gets its own row for it (same version id, same bytes, the new
 * tags or ACL), which shadows the ancestor's; the ancestor is untouched.
 * Under the branch's lock (a seq taken), and only if the key still shows
 * that version.
 */
async function changeOnBranch(
  ctx: CoreContext,
  bucket: Bucket,
  shown: ObjectVersion,
  set: { tags: Record<string, string> } | { acl: CannedAcl },
): Promise<ObjectVersion> {
  let refs = new RefChanges();
  const version = await metadataWrite(ctx, () =>
    withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
      refs = new RefChanges();
      const seq = await takeNextSeq(trx, bucket.id);
      if (seq === undefined) throw fail.noSuchBucket(bucket.name);
      const row = await visibleRow(trx, bucket.view!, shown.key);
      if (!row || row.version_id !== shown.versionId || Number(row.is_delete_marker) === 1 || row.bucket_id === bucket.id) {
        throw fail.conflict('OperationAborted', 'The object changed during the request; try again.');
      }
      const { id: _id, seq: _seq, ...content } = row;
      const copy = {
        ...content,
        bucket_id: bucket.id,
        is_latest: 1,
        ...('tags' in set ? { tags: JSON.stringify(set.tags) } : { acl: set.acl }),
      };
      await insertVersionRow(trx, copy, seq);
      const event = eventOf(set);
      await recordEvent(trx, bucket, seq, event.name, { key: shown.key, versionId: shown.versionId, detail: event.detail });
      refs.reference(row.tenant_id, manifestOfRow(row));
      const size = Number(row.size);
      await moveCounts(trx, bucket.id, { objects: 1, bytes: size, versions: 1, versionBytes: size });
      await refs.apply(trx);
      return rowToVersion({ ...copy, seq });
    }),
  );
  await ctx.blobs.released(refs);
  return version;
}
