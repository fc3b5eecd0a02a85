/** Changes to a version's metadata that make no new version (S3's PutObjectTagging and PutObjectAcl). */
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import type { CannedAcl, ObjectVersion } from '../../meta/objects/types.js';
import { updateLatestInPlace, updateVersionInPlace, versionRowById } from '../../meta/objects/versions.js';
import type { CoreContext } from '../context.js';
import { validateKey } from './keys.js';
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

async function change(
  ctx: CoreContext,
  bucket: Bucket,
  key: string,
  versionId: string | undefined,
  set: { tags: Record<string, string> } | { acl: CannedAcl },
): Promise<ObjectVersion> {
  validateKey(key);
  if (versionId === undefined) {
    // The common case: one statement on the latest live version.
    if (await updateLatestInPlace(ctx.meta.data, bucket.id, key, set)) return findVersion(ctx.meta.data, bucket, key);
    await versionToChange(ctx, bucket, key, undefined);
    throw fail.noSuchKey(key);
  }
  if (!isVersionIdSyntax(versionId)) throw invalidVersionId(versionId);
  const v = await versionToChange(ctx, bucket, key, versionId);
  const row = await versionRowById(ctx.meta.data, bucket.id, key, versionId);
  if (!row) throw fail.notFound('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
  await updateVersionInPlace(ctx.meta.data, row.id, 'tags' in set ? { tags: JSON.stringify(set.tags) } : { acl: set.acl });
  return 'tags' in set ? { ...v, tags: set.tags } : { ...v, acl: set.acl };
}

/** Replaces the tag set of a version (the latest unless named) in place. */
export function setObjectTags(ctx: CoreContext, bucket: Bucket, key: string, tags: Record<string, string>, versionId?: string) {
  return change(ctx, bucket, key, versionId, { tags });
}

/** Sets the canned ACL of a version (the latest unless named) in place. */
export function setObjectAcl(ctx: CoreContext, bucket: Bucket, key: string, acl: CannedAcl, versionId?: string) {
  return change(ctx, bucket, key, versionId, { acl });
}
