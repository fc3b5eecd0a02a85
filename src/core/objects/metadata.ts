/** Changes to a version's metadata that make no new version (S3's PutObjectTagging and PutObjectAcl). */
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import type { CannedAcl } from '../../meta/objects/types.js';
import { updateLatestInPlace } from '../../meta/objects/versions.js';
import type { CoreContext } from '../context.js';
import { validateKey } from './keys.js';

/** Replaces the tag set of the latest version in place. */
export async function setObjectTags(ctx: CoreContext, bucket: Bucket, key: string, tags: Record<string, string>): Promise<void> {
  validateKey(key);
  if (!(await updateLatestInPlace(ctx.meta.data, bucket.id, key, { tags }))) throw fail.noSuchKey(key);
}

/** Sets the canned ACL of the latest version in place. */
export async function setObjectAcl(ctx: CoreContext, bucket: Bucket, key: string, acl: CannedAcl): Promise<void> {
  validateKey(key);
  if (!(await updateLatestInPlace(ctx.meta.data, bucket.id, key, { acl }))) throw fail.noSuchKey(key);
}
