/** DeleteObjects: up to 1000 keys in one request, with per-key results and Quiet mode. */
import { type DeleteTarget, isVersionIdSyntax, validateKey } from '../../core/objects.js';
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors, toS3Error } from '../errors.js';
import { sendXml } from '../respond.js';
import { parseXml, type XmlNode } from '../xml.js';
import { mayAccessKey, requireBucket } from './access.js';
import { requireIntegrityHeader } from './versions.js';

const MAX_KEYS = 1000;

export async function deleteObjects(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  // S3 requires an integrity check on this request: Content-MD5 or an x-amz-checksum-*.
  requireIntegrityHeader(r);
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
  const valid: DeleteTarget[] = [];
  for (const o of del.Object) {
    if (typeof o.Key !== 'string') throw errors.malformedXML();
    if (o.VersionId !== undefined && typeof o.VersionId !== 'string') throw errors.malformedXML();
    const versionId = o.VersionId as string | undefined;
    try {
      validateKey(o.Key);
      if (versionId !== undefined && !isVersionIdSyntax(versionId)) {
        throw errors.invalidArgument('Invalid version id specified', 'versionId', versionId);
      }
      // Each key is judged on its own, as S3 does: refused keys are reported, the others deleted.
      if (!mayAccessKey(r, bucket, 'delete', o.Key)) throw errors.accessDenied();
      valid.push({ key: o.Key, versionId });
    } catch (err) {
      const e = toS3Error(err);
      failed.push({ Key: o.Key, VersionId: versionId, Code: e.code, Message: e.message });
    }
  }
  const bypass = header(r, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() === 'true';
  // The bypass right is judged per key, as the deletes are.
  for (const t of valid) t.bypassGovernance = bypass && mayAccessKey(r, bucket, 'admin', t.key);
  const results = valid.length ? await r.services.objects.deleteMany(bucket, valid) : [];
  for (const res of results) {
    if ('error' in res) {
      const e = toS3Error(res.error);
      failed.push({ Key: res.key, VersionId: res.versionId, Code: e.code, Message: e.message });
      continue;
    }
    if (quiet) continue;
    const entry: XmlNode = { Key: res.key };
    const named = valid.find((t) => t.key === res.key && t.versionId === res.versionId)?.versionId !== undefined;
    if (named) entry.VersionId = res.versionId;
    if (res.deleteMarker) {
      entry.DeleteMarker = true;
      if (res.versionId !== undefined) entry.DeleteMarkerVersionId = res.versionId;
    }
    deleted.push(entry);
  }
  sendXml(r, 200, 'DeleteResult', { Deleted: deleted, Error: failed });
}
