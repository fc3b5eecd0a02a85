/**
 * Who may do what, for every S3 request: the operation's entry in
 * s3/permissions.ts names one action on one resource.
 *
 * 1. The caller's own rights count only inside its own tenant: a key of
 *    another tenant never gets anything from its policies.
 * 2. An explicit deny in the caller's policies ends it (no public fallback).
 * 3. Otherwise public settings may grant what they grant to everyone: read of
 *    objects (object ACL public-read, bucket policy s3:GetObject) and listing
 *    (bucket ACL public-read, bucket policy s3:ListBucket).
 * 4. Everything else is AccessDenied, decided before any object is looked up,
 *    so a refused caller learns nothing about keys, sizes or existence.
 */
import { grantsRead, storedPolicyGrants } from '../../core/bucket-policy.js';
import type { Bucket, RefView } from '../../core/buckets.js';
import type { ObjectVersion } from '../../core/objects.js';
import type { Action, Resource } from '../../core/policy.js';
import type { S3Request } from '../context.js';
import { errors } from '../errors.js';
import { OPERATION_ACCESS, PUBLIC_OPERATIONS } from '../permissions.js';

export function requireTenant(r: S3Request): string {
  if (!r.tenantId) throw errors.accessDenied();
  return r.tenantId;
}

/** The caller's rights in this bucket's tenant, or null (anonymous, or another tenant). */
function ownRights(r: S3Request, bucket: Bucket) {
  return r.tenantId !== null && r.tenantId === bucket.tenant_id ? r.permissions : null;
}

function publicallyListable(bucket: Bucket): boolean {
  return bucket.acl === 'public-read' || storedPolicyGrants(bucket.policy, bucket.name).list;
}

/** May the caller list where `key` lives? If not, a missing key must look like a refused one. */
function mayListAt(r: S3Request, bucket: Bucket, key: string): boolean {
  const own = ownRights(r, bucket);
  if (own?.allows('list', { kind: 'prefix', bucket: bucket.name, prefix: key })) return true;
  if (own?.denies('list', { kind: 'prefix', bucket: bucket.name, prefix: key })) return false;
  return publicallyListable(bucket);
}

function resourceOf(r: S3Request, bucket: Bucket, kind: string): Resource | null {
  switch (kind) {
    case 'object':
      return { kind: 'object', bucket: bucket.name, key: r.addr.key! };
    case 'prefix':
      return { kind: 'prefix', bucket: bucket.name, prefix: r.addr.query.get('prefix') ?? '' };
    case 'bucket':
      return { kind: 'bucket', bucket: bucket.name };
    default:
      return null;
  }
}

/**
 * Checks the caller may perform the request's operation on `bucket`; throws
 * AccessDenied otherwise. For GetObject/HeadObject allowed only if the object
 * itself is public-read, it sets r.requireObjectAcl (see checkObjectAcl).
 */
export function authorize(r: S3Request, bucket: Bucket, op = r.stats.op, key = r.addr.key): void {
  const need = OPERATION_ACCESS[op];
  const own = ownRights(r, bucket);
  if (!need) {
    // Not in the table: only unrestricted owners (nothing is allowed by default).
    if (own?.unrestricted) return;
    throw errors.accessDenied();
  }
  const resource = resourceOf({ ...r, addr: { ...r.addr, key } }, bucket, need.resource);
  if (key !== undefined && need.resource === 'object') r.hideMissing = !mayListAt(r, bucket, key);
  if (own) {
    // Per-key operations (DeleteObjects) check each key with mayAccessKey.
    if (resource === null) return;
    if (own.allows(need.action, resource)) {
      if (WRITES_WITH_ACL.has(op)) requireAclRight(r, bucket, key!, r.req.headers['x-amz-acl']);
      // A conditional write answers differently for present and absent keys (412 vs 404/200):
      // only a caller who may read the key may ask.
      if (CONDITIONAL_WRITES.has(op) && (r.req.headers['if-match'] !== undefined || r.req.headers['if-none-match'] !== undefined)) {
        if (!own.allows('read', resource)) throw errors.accessDenied();
      }
      return;
    }
    if (own.denies(need.action, resource)) throw errors.accessDenied();
  }
  const pub = PUBLIC_OPERATIONS[op];
  if (pub === 'list' && publicallyListable(bucket)) return;
  if (pub === 'read' && key !== undefined) {
    if (grantsRead(storedPolicyGrants(bucket.policy, bucket.name), bucket.name, key)) return;
    // Perhaps the object's own ACL makes it public: decided once it is read, and
    // answered AccessDenied whether it is private or missing (unless listable).
    r.requireObjectAcl = true;
    return;
  }
  throw errors.accessDenied();
}

/** Writes that accept If-Match / If-None-Match on the object they replace. */
const CONDITIONAL_WRITES = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload']);

/** Writes that may name an ACL for the object they create (x-amz-acl, x-amz-grant-*). */
const WRITES_WITH_ACL = new Set(['PutObject', 'CopyObject', 'CreateMultipartUpload', 'PostObject']);

/**
 * Naming a non-private ACL while writing changes who may read the object:
 * that needs `admin` on it, as PutObjectAcl does (S3 likewise wants
 * s3:PutObjectAcl for ACL headers on a PUT). Otherwise a key allowed only to
 * write could publish what it writes.
 */
export function requireAclRight(r: S3Request, bucket: Bucket, key: string, acl: string | string[] | undefined): void {
  const value = (Array.isArray(acl) ? acl.join(',') : acl)?.trim();
  const grants = Object.keys(r.req.headers).some((h) => h.startsWith('x-amz-grant-'));
  if (!grants && (value === undefined || value === '' || value === 'private' || value.startsWith('bucket-owner-'))) return;
  if (!ownRights(r, bucket)?.allows('admin', { kind: 'object', bucket: bucket.name, key })) throw errors.accessDenied();
}

/** The addressed bucket, if it exists and the caller may perform the request's operation on it. */
export async function requireBucket(r: S3Request): Promise<Bucket> {
  const name = r.addr.bucket!;
  const bucket = await r.services.buckets.get(name);
  if (!bucket) throw errors.noSuchBucket(name);
  authorize(r, bucket);
  if (bucket.view) refuseThroughAlias(r, bucket, bucket.view);
  return bucket;
}

const READS = new Set(['GET', 'HEAD']);

/**
 * What an alias (`bucket--ref`, core/branches/) cannot do: write through a
 * tag or a commit (read-only points), change the bucket's settings (they
 * are the bucket's, shared by every branch). Points in time are read-only too.
 */
function refuseThroughAlias(r: S3Request, bucket: Bucket, view: RefView): void {
  const method = r.req.method ?? 'GET';
  if (view.readOnly && !READS.has(method)) {
    throw errors.accessDenied(
      `${bucket.name} is a read-only view of ${view.kind} ${view.ref}${view.commitId ? ` (commit ${view.commitId})` : ''} of bucket ${view.bucketName}: write to a branch instead.`,
    );
  }
  const need = OPERATION_ACCESS[r.stats.op];
  if (need?.resource === 'bucket' && !READS.has(method)) {
    throw errors.accessDenied(
      `${bucket.name} is an alias of bucket ${view.bucketName}; its settings are changed on ${view.bucketName} itself.`,
    );
  }
}

/** After reading an object for GetObject/HeadObject: refuses it unless the caller's access did not depend on its ACL, or it is public-read. */
export function checkObjectAcl(r: S3Request, version: ObjectVersion): void {
  if (r.requireObjectAcl && version.acl !== 'public-read') throw errors.accessDenied();
}

/** For per-key checks inside one request (DeleteObjects): the caller's own rights only. */
export function mayAccessKey(r: S3Request, bucket: Bucket, action: Action, key: string): boolean {
  return ownRights(r, bucket)?.allows(action, { kind: 'object', bucket: bucket.name, key }) ?? false;
}

/**
 * The source of a copy (CopyObject, UploadPartCopy): it must belong to the
 * caller's tenant and the caller must be allowed to read the source key.
 */
export async function requireCopySource(r: S3Request, bucketName: string, key: string): Promise<Bucket> {
  const bucket = await r.services.buckets.get(bucketName);
  if (!bucket) throw errors.noSuchBucket(bucketName);
  const own = ownRights(r, bucket);
  if (!own?.allows('read', { kind: 'object', bucket: bucket.name, key })) throw errors.accessDenied();
  if (!mayListAt(r, bucket, key)) r.hideMissing = true;
  return bucket;
}

/** May the caller create a bucket of this name (admin on it)? */
export function authorizeCreateBucket(r: S3Request, name: string): string {
  const tenantId = requireTenant(r);
  if (!r.permissions?.allows('admin', { kind: 'bucket', bucket: name })) throw errors.accessDenied();
  return tenantId;
}

/** Filters a tenant's buckets to those the caller's rights reach (ListBuckets). */
export function reachableBuckets<T extends { name: string }>(r: S3Request, buckets: T[]): T[] {
  return buckets.filter((b) => r.permissions?.reachesBucket(b.name));
}
