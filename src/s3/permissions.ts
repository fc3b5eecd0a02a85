/**
 * The one table of what each S3 operation needs: exactly one action on one
 * resource. s3/access.ts reads it for every request; the isolation tests walk
 * it operation by operation. An operation missing here is refused to
 * everyone but unrestricted owners (see access.ts), never silently allowed.
 *
 * Resources:
 * - `object`: the addressed key (`bucket/key`);
 * - `prefix`: a listing, under the request's `prefix` parameter;
 * - `bucket`: the bucket itself (its settings, its existence);
 * - `keys`: each key named in the request body (DeleteObjects checks them one by one);
 * - `service`: no bucket (ListBuckets filters the answer to reachable buckets).
 * Copies additionally need `read` on their source object (copy.ts, multipart.ts).
 */
import type { Action } from '../core/policy.js';

export type ResourceKind = 'object' | 'prefix' | 'bucket' | 'keys' | 'service';

export interface OperationAccess {
  action: Action;
  resource: ResourceKind;
}

const access = (action: Action, resource: ResourceKind): OperationAccess => ({ action, resource });

export const OPERATION_ACCESS: Record<string, OperationAccess> = {
  ListBuckets: access('list', 'service'),
  CreateBucket: access('admin', 'bucket'),
  DeleteBucket: access('admin', 'bucket'),
  HeadBucket: access('list', 'bucket'),
  GetBucketLocation: access('list', 'bucket'),
  GetBucketVersioning: access('list', 'bucket'),
  PutBucketVersioning: access('admin', 'bucket'),
  GetObjectLockConfiguration: access('admin', 'bucket'),
  PutObjectLockConfiguration: access('admin', 'bucket'),
  GetObjectRetention: access('read', 'object'),
  // Setting a retention can make a version undeletable for years: an owner's decision, not a writer's.
  PutObjectRetention: access('admin', 'object'),
  GetObjectLegalHold: access('read', 'object'),
  PutObjectLegalHold: access('write', 'object'),
  ListObjects: access('list', 'prefix'),
  ListObjectsV2: access('list', 'prefix'),
  ListObjectVersions: access('list', 'prefix'),
  ListMultipartUploads: access('list', 'prefix'),
  GetBucketAcl: access('admin', 'bucket'),
  PutBucketAcl: access('admin', 'bucket'),
  GetBucketPolicy: access('admin', 'bucket'),
  PutBucketPolicy: access('admin', 'bucket'),
  DeleteBucketPolicy: access('admin', 'bucket'),
  GetBucketPolicyStatus: access('admin', 'bucket'),
  GetBucketTagging: access('admin', 'bucket'),
  PutBucketTagging: access('admin', 'bucket'),
  DeleteBucketTagging: access('admin', 'bucket'),
  GetBucketCors: access('admin', 'bucket'),
  PutBucketCors: access('admin', 'bucket'),
  DeleteBucketCors: access('admin', 'bucket'),
  GetObject: access('read', 'object'),
  HeadObject: access('read', 'object'),
  GetObjectAttributes: access('read', 'object'),
  GetObjectAcl: access('read', 'object'),
  GetObjectTagging: access('read', 'object'),
  PutObject: access('write', 'object'),
  PostObject: access('write', 'object'),
  CopyObject: access('write', 'object'),
  PutObjectTagging: access('write', 'object'),
  DeleteObjectTagging: access('write', 'object'),
  PutObjectAcl: access('admin', 'object'),
  CreateMultipartUpload: access('write', 'object'),
  UploadPart: access('write', 'object'),
  UploadPartCopy: access('write', 'object'),
  CompleteMultipartUpload: access('write', 'object'),
  AbortMultipartUpload: access('write', 'object'),
  ListParts: access('write', 'object'),
  DeleteObject: access('delete', 'object'),
  DeleteObjects: access('delete', 'keys'),
};

/**
 * What anonymous callers may be granted by public settings, per operation:
 * `read` through an object's public-read ACL or a bucket policy allowing
 * s3:GetObject, `list` through a bucket's public-read ACL or a policy
 * allowing s3:ListBucket. Nothing else is ever public.
 */
export const PUBLIC_OPERATIONS: Record<string, 'read' | 'list'> = {
  GetObject: 'read',
  HeadObject: 'read',
  ListObjects: 'list',
  ListObjectsV2: 'list',
  HeadBucket: 'list',
};
