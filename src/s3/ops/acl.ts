/**
 * ACLs as S3 clients speak them, mapped onto the two canned ACLs Anvil
 * stores (canned-acl.ts): `private` (the owner has FULL_CONTROL) and
 * `public-read` (plus READ for the AllUsers group). PUT ?acl takes either
 * the x-amz-acl header or an AccessControlPolicy body (what s3cmd setacl
 * sends); a body granting anything else is refused, never half-applied.
 */
import type { CannedAcl } from '../../core/objects.js';
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXml, type XmlNode } from '../xml.js';
import { checkObjectAcl, requireBucket } from './access.js';
import { cannedAclFromHeaders } from './canned-acl.js';
import { ownerOf } from './list-params.js';
import { readableVersion, versionHeader, versionIdParam } from './versions.js';

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

async function sendAcl(r: S3Request, tenantId: string, acl: CannedAcl, headers: Record<string, string> = {}): Promise<void> {
  const owner = await ownerOf(r, tenantId);
  const grants: XmlNode[] = [{ Grantee: { '@_xmlns:xsi': XSI, '@_xsi:type': 'CanonicalUser', ...owner }, Permission: 'FULL_CONTROL' }];
  if (acl === 'public-read') grants.push({ Grantee: { '@_xmlns:xsi': XSI, '@_xsi:type': 'Group', URI: ALL_USERS }, Permission: 'READ' });
  sendXml(r, 200, 'AccessControlPolicy', { Owner: owner, AccessControlList: { Grant: grants } }, headers);
}

export async function getBucketAcl(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await sendAcl(r, bucket.tenant_id, bucket.acl as CannedAcl);
}

export async function getObjectAcl(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const version = await readableVersion(r, bucket, r.addr.key!);
  checkObjectAcl(r, version);
  await sendAcl(r, bucket.tenant_id, version.acl, versionHeader(bucket, version));
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Reads an AccessControlPolicy body into a canned ACL, if it is one of the two Anvil stores. */
function cannedAclFromBody(text: Buffer, ownerId: string): CannedAcl {
  const doc = parseXml(text);
  const policy = doc.AccessControlPolicy as Record<string, unknown> | undefined;
  const list = policy?.AccessControlList as Record<string, unknown> | undefined;
  if (!policy || typeof policy !== 'object' || !list || typeof list !== 'object') throw errors.malformedACL();
  let ownerFull = false;
  let publicRead = false;
  for (const g of asArray(list.Grant as Record<string, unknown> | Record<string, unknown>[])) {
    const grantee = (g?.Grantee ?? {}) as Record<string, unknown>;
    const permission = g?.Permission;
    if (typeof grantee.ID === 'string' && grantee.ID === ownerId && permission === 'FULL_CONTROL') ownerFull = true;
    else if (grantee.URI === ALL_USERS && permission === 'READ') publicRead = true;
    else
      throw errors.notImplemented(
        "Only the owner's FULL_CONTROL and AllUsers READ grants (the canned ACLs private and public-read) are supported",
      );
  }
  if (!ownerFull) throw errors.notImplemented('The owner must keep FULL_CONTROL');
  return publicRead ? 'public-read' : 'private';
}

export async function putAcl(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const body = await readSmallBody(r);
  let acl: CannedAcl;
  if (header(r, 'x-amz-acl') !== undefined || Object.keys(r.req.headers).some((h) => h.startsWith('x-amz-grant-'))) {
    if (body.length > 0) throw errors.unexpectedContent();
    acl = cannedAclFromHeaders(r.req.headers);
  } else {
    if (body.length === 0) throw errors.malformedACL();
    const owner = await r.services.tenants.getTenantById(bucket.tenant_id);
    acl = cannedAclFromBody(body, owner!.canonicalId);
  }
  if (r.addr.key !== undefined) {
    const v = await r.services.objects.setAcl(bucket, r.addr.key, acl, versionIdParam(r));
    sendEmpty(r, 200, versionHeader(bucket, v));
    return;
  }
  await r.services.buckets.setAcl(bucket, acl);
  sendEmpty(r, 200);
}
