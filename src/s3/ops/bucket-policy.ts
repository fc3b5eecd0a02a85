/** GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy and GetBucketPolicyStatus (the supported subset: core/bucket-policy.ts). */
import { parseBucketPolicy } from '../../core/bucket-policy.js';
import type { S3Request } from '../context.js';
import { readSmallBody } from '../body.js';
import { errors } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { requireBucket } from './access.js';

export async function getBucketPolicy(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  if (bucket.policy === null) throw errors.noSuchBucketPolicy(bucket.name);
  r.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(bucket.policy) });
  r.res.end(bucket.policy);
}

export async function putBucketPolicy(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const text = (await readSmallBody(r)).toString('utf8');
  parseBucketPolicy(text, bucket.name);
  await r.services.buckets.setPolicy(bucket, text);
  sendEmpty(r, 204);
}

export async function deleteBucketPolicy(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await r.services.buckets.setPolicy(bucket, null);
  sendEmpty(r, 204);
}

/** Public when the policy grants anything to everyone (every supported statement does). */
export async function getBucketPolicyStatus(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  if (bucket.policy === null) throw errors.noSuchBucketPolicy(bucket.name);
  sendXml(r, 200, 'PolicyStatus', { IsPublic: 'TRUE' });
}
