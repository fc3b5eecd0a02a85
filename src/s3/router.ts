/**
 * Maps a request (method, bucket, key, sub-resource query parameters) to an
 * S3 operation. Known operations that Anvil does not implement yet answer
 * NotImplemented (501) with the S3 XML body, never a wrong success.
 */
import type { S3Request } from './context.js';
import { errors } from './errors.js';
import * as aclOps from './ops/acl.js';
import * as attributesOps from './ops/attributes.js';
import * as bucketOps from './ops/bucket.js';
import * as bucketPolicyOps from './ops/bucket-policy.js';
import * as copyOps from './ops/copy.js';
import * as corsOps from './ops/cors.js';
import * as deleteObjectOps from './ops/delete-objects.js';
import * as listOps from './ops/list.js';
import * as listingExtraOps from './ops/listing-extra.js';
import * as multipartOps from './ops/multipart.js';
import * as objectOps from './ops/object.js';
import * as lockOps from './ops/object-lock.js';
import * as postObjectOps from './ops/post-object.js';
import * as taggingOps from './ops/tagging.js';
import * as versionOps from './ops/versions.js';
import type { S3Address } from './request.js';

export type Handler = (r: S3Request) => Promise<void>;
export interface Route {
  op: string;
  handler: Handler;
}

/** Query parameters that select a sub-resource (a different operation) rather than filter one. */
const SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'tagging',
  'torrent',
  'uploads',
  'versioning',
  'versions',
  'website',
  'uploadId',
];

function notImplemented(op: string): Route {
  return {
    op,
    handler: async () => {
      throw errors.notImplemented(`${op} is not implemented`);
    },
  };
}

function methodNotAllowed(method: string, allow: string): Route {
  return {
    op: 'MethodNotAllowed',
    handler: async () => {
      throw errors.methodNotAllowed(method, allow);
    },
  };
}

function subresourceOf(query: URLSearchParams): string | undefined {
  return SUBRESOURCES.find((s) => query.has(s));
}

export function route(method: string, addr: S3Address): Route {
  const { bucket, key, query } = addr;
  if (method === 'OPTIONS') return { op: 'PreflightCORS', handler: corsOps.preflight };
  if (bucket === undefined) {
    if (method === 'GET' || method === 'HEAD') return { op: 'ListBuckets', handler: bucketOps.listBuckets };
    return methodNotAllowed(method, 'GET');
  }
  const sub = subresourceOf(query);
  if (key === undefined) {
    switch (`${method} ${sub ?? ''}`) {
      case 'GET ':
      case 'HEAD ' /* HEAD with no key is HeadBucket */:
        if (method === 'HEAD') return { op: 'HeadBucket', handler: bucketOps.headBucket };
        return query.get('list-type') === '2'
          ? { op: 'ListObjectsV2', handler: listOps.listObjectsV2 }
          : { op: 'ListObjects', handler: listOps.listObjectsV1 };
      case 'PUT ':
        return { op: 'CreateBucket', handler: bucketOps.createBucket };
      case 'DELETE ':
        return { op: 'DeleteBucket', handler: bucketOps.deleteBucket };
      case 'GET location':
        return { op: 'GetBucketLocation', handler: bucketOps.getBucketLocation };
      case 'GET versioning':
        return { op: 'GetBucketVersioning', handler: versionOps.getBucketVersioning };
      case 'PUT versioning':
        return { op: 'PutBucketVersioning', handler: versionOps.putBucketVersioning };
      case 'GET object-lock':
        return { op: 'GetObjectLockConfiguration', handler: lockOps.getObjectLockConfiguration };
      case 'PUT object-lock':
        return { op: 'PutObjectLockConfiguration', handler: lockOps.putObjectLockConfiguration };
      case 'POST ':
        return { op: 'PostObject', handler: postObjectOps.postObject };
      case 'POST delete':
        return { op: 'DeleteObjects', handler: deleteObjectOps.deleteObjects };
      case 'GET uploads':
        return { op: 'ListMultipartUploads', handler: listingExtraOps.listMultipartUploads };
      case 'GET versions':
        return { op: 'ListObjectVersions', handler: listingExtraOps.listObjectVersions };
      case 'GET acl':
        return { op: 'GetBucketAcl', handler: aclOps.getBucketAcl };
      case 'GET tagging':
        return { op: 'GetBucketTagging', handler: taggingOps.getBucketTagging };
      case 'GET cors':
        return { op: 'GetBucketCors', handler: corsOps.getBucketCors };
      case 'PUT cors':
        return { op: 'PutBucketCors', handler: corsOps.putBucketCors };
      case 'DELETE cors':
        return { op: 'DeleteBucketCors', handler: corsOps.deleteBucketCors };
      case 'PUT tagging':
        return { op: 'PutBucketTagging', handler: taggingOps.putBucketTagging };
      case 'DELETE tagging':
        return { op: 'DeleteBucketTagging', handler: taggingOps.deleteBucketTagging };
      case 'PUT acl':
        return { op: 'PutBucketAcl', handler: aclOps.putAcl };
      case 'GET policy':
        return { op: 'GetBucketPolicy', handler: bucketPolicyOps.getBucketPolicy };
      case 'PUT policy':
        return { op: 'PutBucketPolicy', handler: bucketPolicyOps.putBucketPolicy };
      case 'DELETE policy':
        return { op: 'DeleteBucketPolicy', handler: bucketPolicyOps.deleteBucketPolicy };
      case 'GET policyStatus':
        return { op: 'GetBucketPolicyStatus', handler: bucketPolicyOps.getBucketPolicyStatus };
      default:
        if (!['GET', 'PUT', 'DELETE', 'POST', 'HEAD'].includes(method)) return methodNotAllowed(method, 'GET, PUT, DELETE, HEAD');
        return notImplemented(sub ? `${method} bucket ?${sub}` : `${method} on a bucket`);
    }
  }
  switch (`${method} ${sub ?? ''}`) {
    case 'GET ':
      return { op: 'GetObject', handler: objectOps.getObject };
    case 'HEAD ':
      return { op: 'HeadObject', handler: objectOps.getObject };
    case 'PUT ':
      return addr.copySource ? { op: 'CopyObject', handler: copyOps.copyObject } : { op: 'PutObject', handler: objectOps.putObject };
    case 'DELETE ':
      return { op: 'DeleteObject', handler: objectOps.deleteObject };
    case 'POST uploads':
      return { op: 'CreateMultipartUpload', handler: multipartOps.createMultipartUpload };
    case 'PUT uploadId':
      return addr.copySource
        ? { op: 'UploadPartCopy', handler: multipartOps.uploadPartCopy }
        : { op: 'UploadPart', handler: multipartOps.uploadPart };
    case 'POST uploadId':
      return { op: 'CompleteMultipartUpload', handler: multipartOps.completeMultipartUpload };
    case 'DELETE uploadId':
      return { op: 'AbortMultipartUpload', handler: multipartOps.abortMultipartUpload };
    case 'GET uploadId':
      return { op: 'ListParts', handler: multipartOps.listParts };
    case 'GET attributes':
      return { op: 'GetObjectAttributes', handler: attributesOps.getObjectAttributes };
    case 'GET acl':
      return { op: 'GetObjectAcl', handler: aclOps.getObjectAcl };
    case 'GET tagging':
      return { op: 'GetObjectTagging', handler: taggingOps.getObjectTagging };
    case 'PUT tagging':
      return { op: 'PutObjectTagging', handler: taggingOps.putObjectTagging };
    case 'DELETE tagging':
      return { op: 'DeleteObjectTagging', handler: taggingOps.deleteObjectTagging };
    case 'PUT acl':
      return { op: 'PutObjectAcl', handler: aclOps.putAcl };
    case 'GET retention':
      return { op: 'GetObjectRetention', handler: lockOps.getObjectRetention };
    case 'PUT retention':
      return { op: 'PutObjectRetention', handler: lockOps.putObjectRetention };
    case 'GET legal-hold':
      return { op: 'GetObjectLegalHold', handler: lockOps.getObjectLegalHold };
    case 'PUT legal-hold':
      return { op: 'PutObjectLegalHold', handler: lockOps.putObjectLegalHold };
    default:
      if (!['GET', 'PUT', 'DELETE', 'POST', 'HEAD'].includes(method)) return methodNotAllowed(method, 'GET, PUT, DELETE, HEAD, POST');
      return notImplemented(sub ? `${method} object ?${sub}` : `${method} on an object`);
  }
}
