/**
 * Who may do what in the branch routes (admin/branches.ts): changing
 * branches and tags needs `admin` on the bucket, reading history `list`,
 * committing `write` on the bucket or on the branch's own alias.
 */
import type { Bucket } from '../core/buckets.js';
import { isAdminOf, visibleBucket } from './access.js';
import type { Principal } from './auth.js';
import { adminErrors } from './errors.js';

export function requireAdminOfBucket(p: Principal, bucket: Bucket): void {
  if (!isAdminOf(p, bucket.tenant_id) && !p.permissions.allows('admin', { kind: 'bucket', bucket: bucket.name })) {
    throw adminErrors.forbidden(`changing the branches of ${bucket.name} needs the admin action on it`);
  }
}

/** The S3 bucket name of a branch: the bucket itself for main. */
function branchAlias(bucket: Bucket, branch: string): string {
  return branch === 'main' ? bucket.name : `${bucket.name}--${branch}`;
}

/**
 * Committing names a point of one branch: whoever may write the bucket, or
 * just that branch (a key scoped to `photos--dev`), may commit it, unless a
 * deny on the bucket says otherwise (denies on the bucket hold on its branches).
 */
function mayWriteBranch(p: Principal, bucket: Bucket, branch: string): boolean {
  const onBucket = { kind: 'bucket', bucket: bucket.name } as const;
  if (p.permissions.allows('write', onBucket)) return true;
  return p.permissions.allows('write', { kind: 'bucket', bucket: branchAlias(bucket, branch) }) && !p.permissions.denies('write', onBucket);
}

export function requireListOfBucket(p: Principal, bucket: Bucket): void {
  if (!isAdminOf(p, bucket.tenant_id) && !p.permissions.allows('list', { kind: 'bucket', bucket: bucket.name })) {
    throw adminErrors.forbidden(`reading the history of ${bucket.name} needs the list action on it`);
  }
}

/** The bucket itself: branch routes name a bucket, not an alias of it. */
export async function rootBucket(p: Principal, name: string, deps: Parameters<typeof visibleBucket>[2]): Promise<Bucket> {
  const bucket = await visibleBucket(p, name, deps);
  if (bucket.view) throw adminErrors.invalid(`${name} is an alias of bucket ${bucket.view.bucketName}: name the bucket`);
  return bucket;
}

/**
 * The bucket whose branch the caller may write (commit). Unlike rootBucket it
 * does not ask for rights on the bucket's own name: a key scoped to the
 * branch alone (`photos--dev/*`) reaches no bucket named `photos`.
 */
export async function writableBranchBucket(
  p: Principal,
  name: string,
  branch: string,
  deps: Parameters<typeof visibleBucket>[2],
): Promise<Bucket> {
  const bucket = await deps.buckets.get(name);
  if (!bucket || (p.level !== 'root' && bucket.tenant_id !== p.tenantId)) throw adminErrors.notFound(`no bucket named ${name}`);
  if (bucket.view) throw adminErrors.invalid(`${name} is an alias of bucket ${bucket.view.bucketName}: name the bucket`);
  if (!isAdminOf(p, bucket.tenant_id) && !mayWriteBranch(p, bucket, branch)) {
    throw adminErrors.forbidden(`committing to ${bucket.name} needs the write action on it or on ${branchAlias(bucket, branch)}`);
  }
  return bucket;
}

export const author = (p: Principal) => (p.kind === 'user' ? `user:${p.id}` : `key:${p.id}`);
