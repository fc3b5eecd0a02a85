/** DeleteObjects: up to 1000 keys in one request, with per-key results and Quiet mode. */
import { validateKey } from '../../core/objects.js';
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors, toS3Error } from '../errors.js';
import { sendXml } from '../respond.js';
import { parseXml, type XmlNode } from '../xml.js';
import { mayAccessKey, requireBucket } from './access.js';

const MAX_KEYS = 1000;

export async function deleteObjects(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  // S3 requires an integrity check on this request: Content-MD5 or an x-amz-checksum-*.
  const hasChecksum =
    header(r, 'content-md5') !== undefined ||
    Object.keys(r.req.headers).some((h) => h.startsWith('x-amz-checksum-')) ||
    (header(r, 'x-amz-trailer') ?? '').includes('x-amz-checksum-');
  if (!hasChecksum) {
    throw errors.invalidRequest('Missing required header for this request: Content-MD5 or x-amz-checksum-*');
  }
  const doc = parseXml(await readSmallBody(r, 2 << 20));
  const del = doc.Delete as { Object?: Array<Record<string, unknown>>; Quiet?: unknown } | undefined;
  if (!del || typeof del !== 'object' || !Array.isArray(del.Object) || del.Object.length === 0) throw errors.malformedXML();
  if (del.Object.length > MAX_KEYS) throw errors.malformedXML();
  const quiet =
    String(del.Quiet ?? 'false')
      .trim()
      .toLowerCase() === 'true';

  const deleted: XmlNode[] = [];
  const failed: XmlNode[] = [];
  const valid: string[] = [];
  for (const o of del.Object) {
    if (typeof o.Key !== 'string') throw errors.malformedXML();
    if (typeof o.VersionId === 'string' && o.VersionId !== 'null') {
      failed.push({ Key: o.Key, VersionId: o.VersionId, Code: 'NoSuchVersion', Message: 'The specified version does not exist.' });
      continue;
    }
    try {
      validateKey(o.Key);
      // Each key is judged on its own, as S3 does: refused keys are reported, the others deleted.
      if (!mayAccessKey(r, bucket, 'delete', o.Key)) throw errors.accessDenied();
      valid.push(o.Key);
    } catch (err) {
      const e = toS3Error(err);
      failed.push({ Key: o.Key, Code: e.code, Message: e.message });
    }
  }
  if (valid.length) await r.services.objects.deleteMany(bucket, valid);
  if (!quiet) for (const key of valid) deleted.push({ Key: key });
  sendXml(r, 200, 'DeleteResult', { Deleted: deleted, Error: failed });
}
