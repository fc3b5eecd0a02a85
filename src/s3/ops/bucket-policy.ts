/** GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy and GetBucketPolicyStatus (the supported subset: core/bucket-policy.ts). */
import { parseBucketPolicy } from '../../core/bucket-policy.js';
import { readSmallBody } from '../body.js';
import type { S3Request } from '../context.js';
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
  const text = strictUtf8(await readSmallBody(r));
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

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The policy is stored as sent: bytes that are not UTF-8, or a NUL, are refused rather than altered or sent to the database. */
function strictUtf8(body: Buffer): string {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw errors.malformedPolicy('Policies must be valid UTF-8 JSON');
  }
  if (text.includes('\0')) throw errors.malformedPolicy('Policies must not contain a NUL character');
  return text;
}
