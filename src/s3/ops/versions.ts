/**
 * The S3 face of versioning: the versionId parameter, the x-amz-version-id
 * and delete-marker headers, Object Lock headers on reads, and the bucket's
 * versioning configuration (Get/PutBucketVersioning).
 */
import type { Bucket } from '../../core/buckets.js';
import { isVersionIdSyntax, type ObjectVersion } from '../../core/objects.js';
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors, S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXml } from '../xml.js';
import { requireBucket } from './access.js';

/** The request's versionId parameter, checked for syntax (undefined when absent). */
export function versionIdParam(r: S3Request): string | undefined {
  const id = r.addr.query.get('versionId');
  if (id === null) return undefined;
  if (!isVersionIdSyntax(id)) throw errors.invalidArgument('Invalid version id specified', 'versionId', id);
  return id;
}

/** x-amz-version-id as S3 sends it: on buckets that have (or had) versioning, "null" included. */
export function versionHeader(bucket: Pick<Bucket, 'versioning'>, v: Pick<ObjectVersion, 'versionId'>): Record<string, string> {
  return bucket.versioning ? { 'x-amz-version-id': v.versionId } : {};
}

/**
 * x-amz-version-id on the answer to a write (PUT, POST, copy, Complete): S3
 * sends it only when the write made a version with an id of its own, never
 * "null" (a Suspended bucket's writes answer without it).
 */
export function writtenVersionHeader(v: Pick<ObjectVersion, 'versionId'>): Record<string, string> {
  return v.versionId === 'null' ? {} : { 'x-amz-version-id': v.versionId };
}

/** The Object Lock state of a version, as GET and HEAD show it. */
export function lockHeaders(v: ObjectVersion): Record<string, string> {
  const out: Record<string, string> = {};
  if (v.lock.mode && v.lock.until !== undefined) {
    out['x-amz-object-lock-mode'] = v.lock.mode;
    out['x-amz-object-lock-retain-until-date'] = new Date(v.lock.until).toISOString();
  }
  if (v.lock.legalHold) out['x-amz-object-lock-legal-hold'] = 'ON';
  return out;
}

/**
 * A read that met a delete marker: 404 NoSuchKey when it is the key's
 * latest, 405 MethodNotAllowed when it was named by id, both with the
 * marker's headers (as S3 answers).
 */
export function deleteMarkerError(bucket: Pick<Bucket, 'versioning'>, v: ObjectVersion, named: boolean): S3Error {
  const headers = { 'x-amz-delete-marker': 'true', ...versionHeader(bucket, v), 'Last-Modified': v.lastModified.toUTCString() };
  if (named) {
    return new S3Error(
      'MethodNotAllowed',
      'The specified method is not allowed against this resource.',
      405,
      {
        Method: 'GET',
        ResourceType: 'DeleteMarker',
      },
      { ...headers, Allow: 'DELETE' },
    );
  }
  return new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: v.key }, headers);
}

/** The version a read addresses, refusing delete markers with S3's answers. */
export async function readableVersion(r: S3Request, bucket: Bucket, key: string): Promise<ObjectVersion> {
  const versionId = versionIdParam(r);
  const v = await r.services.objects.head(bucket, key, versionId);
  if (v.isDeleteMarker) throw deleteMarkerError(bucket, v, versionId !== undefined);
  return v;
}

/** S3 requires an integrity check (Content-MD5 or an x-amz-checksum-*) on some requests. */
export function requireIntegrityHeader(r: S3Request): void {
  const has =
    header(r, 'content-md5') !== undefined ||
    Object.keys(r.req.headers).some((h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-algorithm') ||
    (header(r, 'x-amz-trailer') ?? '').includes('x-amz-checksum-');
  if (!has) throw errors.invalidRequest('Missing required header for this request: Content-MD5 or x-amz-checksum-*');
}

export async function getBucketVersioning(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  // A bucket that never had versioning answers an empty configuration, as S3 does.
  sendXml(r, 200, 'VersioningConfiguration', bucket.versioning ? { Status: bucket.versioning, MfaDelete: 'Disabled' } : {});
}

export async function putBucketVersioning(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const doc = parseXml(await readSmallBody(r));
  const conf = doc.VersioningConfiguration as Record<string, unknown> | undefined;
  if (!conf || typeof conf !== 'object') throw errors.malformedXML();
  const mfa = conf.MfaDelete;
  if (mfa !== undefined && mfa !== 'Enabled' && mfa !== 'Disabled') throw errors.malformedXML();
  if (mfa === 'Enabled') throw errors.notImplemented('MFA Delete is not supported');
  const status = conf.Status;
  if (status === undefined) {
    sendEmpty(r, 200);
    return;
  }
  if (status !== 'Enabled' && status !== 'Suspended') throw errors.malformedXML();
  await r.services.buckets.setVersioning(bucket, status);
  sendEmpty(r, 200);
}
