/**
 * ACLs, answered truthfully for the clients that ask (s3cmd info, boto3):
 * until public access exists, the owner has FULL_CONTROL and nobody else has
 * anything. Setting the canned ACL "private" is accepted as the no-op it is;
 * any other ACL is refused rather than silently ignored.
 */
import { header, type S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { requireBucket } from './access.js';
import { ownerOf } from './list-params.js';

async function sendOwnerAcl(r: S3Request, tenantId: string): Promise<void> {
  const owner = await ownerOf(r, tenantId);
  sendXml(r, 200, 'AccessControlPolicy', {
    Owner: owner,
    AccessControlList: {
      Grant: {
        Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ...owner },
        Permission: 'FULL_CONTROL',
      },
    },
  });
}

export async function getBucketAcl(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await sendOwnerAcl(r, bucket.tenant_id);
}

export async function getObjectAcl(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await r.services.objects.head(bucket, r.addr.key!);
  await sendOwnerAcl(r, bucket.tenant_id);
}

export async function putAcl(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  if (r.addr.key !== undefined) await r.services.objects.head(bucket, r.addr.key);
  const canned = header(r, 'x-amz-acl');
  const hasGrants = Object.keys(r.req.headers).some((h) => h.startsWith('x-amz-grant-'));
  const length = Number(header(r, 'content-length') ?? 0);
  if (canned === 'private' && !hasGrants && length === 0) {
    sendEmpty(r, 200);
    return;
  }
  throw errors.notImplemented('Only the canned ACL "private" is supported; public access comes with bucket policies');
}
