/** Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation. */
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXml, xmlDate } from '../xml.js';
import { authorizeCreateBucket, reachableBuckets, requireBucket, requireTenant } from './access.js';
import { cannedAclFromHeaders } from './canned-acl.js';
import { ownerOf } from './list-params.js';

export async function listBuckets(r: S3Request): Promise<void> {
  const tenantId = requireTenant(r);
  const buckets = reachableBuckets(r, await r.services.buckets.listForTenant(tenantId));
  sendXml(r, 200, 'ListAllMyBucketsResult', {
    Owner: await ownerOf(r, tenantId),
    Buckets: {
      Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: xmlDate(new Date(Number(b.created_at))), BucketRegion: b.region })),
    },
  });
}

export async function createBucket(r: S3Request): Promise<void> {
  const name = r.addr.bucket!;
  const tenantId = authorizeCreateBucket(r, name);
  const acl = cannedAclFromHeaders(r.req.headers);
  let location: string | undefined;
  const body = await readSmallBody(r);
  if (body.length > 0) {
    const doc = parseXml(body);
    const conf = doc.CreateBucketConfiguration as Record<string, unknown> | undefined;
    if (!conf || typeof conf !== 'object') throw errors.malformedXML();
    const lc = conf.LocationConstraint;
    if (lc !== undefined && typeof lc !== 'string') throw errors.malformedXML();
    location = lc;
  }
  const objectLock = header(r, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true';
  await r.services.buckets.create(tenantId, name, location, acl, { objectLock });
  sendEmpty(r, 200, { Location: `/${name}` });
}

export async function headBucket(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  sendEmpty(r, 200, { 'x-amz-bucket-region': bucket.region });
}

export async function deleteBucket(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await r.services.buckets.delete(bucket);
  sendEmpty(r, 204);
}

export async function getBucketLocation(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  // S3 reports us-east-1 as an empty constraint.
  sendXml(r, 200, 'LocationConstraint', { '#text': bucket.region === 'us-east-1' ? '' : bucket.region });
}
