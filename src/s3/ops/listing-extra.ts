/** ListMultipartUploads and ListObjectVersions (which lists current versions until versioning lands). */
import type { S3Request } from '../context.js';
import { sendXml } from '../respond.js';
import { xmlDate, type XmlNode } from '../xml.js';
import { requireBucket } from './access.js';
import { intParam, keyEncoder, ownerOf } from './list-params.js';

export async function listMultipartUploads(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const q = r.addr.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = keyMarker ? (q.get('upload-id-marker') ?? '') : '';
  const maxUploads = intParam(r, 'max-uploads', 1000);
  const enc = keyEncoder(r);
  const who = await ownerOf(r, bucket.tenant_id);

  const uploads: XmlNode[] = [];
  const prefixes: string[] = [];
  const prefixOf = (key: string) => {
    const i = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    return i >= 0 ? key.slice(0, i + delimiter.length) : undefined;
  };
  // A page that ended on a common prefix resumes after everything under it.
  const markerPrefix = keyMarker.startsWith(prefix) && prefixOf(keyMarker) === keyMarker ? keyMarker : undefined;
  let truncated = false;
  let last: { key: string; uploadId: string } | undefined;
  let cursor = { keyMarker, uploadIdMarker };
  outer: for (;;) {
    const batch = await r.services.multipart.listUploads(bucket, { prefix, ...cursor, limit: 1000 });
    if (batch.length === 0) break;
    for (const u of batch) {
      cursor = { keyMarker: u.key, uploadIdMarker: u.uploadId };
      const cp = prefixOf(u.key);
      if (cp !== undefined && (prefixes.includes(cp) || cp === markerPrefix)) continue;
      if (uploads.length + prefixes.length === maxUploads) {
        truncated = true;
        break outer;
      }
      if (cp !== undefined) prefixes.push(cp);
      else
        uploads.push({
          Key: enc(u.key),
          UploadId: u.uploadId,
          Initiator: who,
          Owner: who,
          StorageClass: 'STANDARD',
          Initiated: xmlDate(u.initiated),
        });
      last = { key: cp ?? u.key, uploadId: cp ? '' : u.uploadId };
    }
    if (batch.length < 1000) break;
  }
  sendXml(r, 200, 'ListMultipartUploadsResult', {
    Bucket: bucket.name,
    KeyMarker: enc(keyMarker),
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: truncated && last ? enc(last.key) : undefined,
    NextUploadIdMarker: truncated && last ? last.uploadId : undefined,
    Delimiter: delimiter ? enc(delimiter) : undefined,
    Prefix: enc(prefix),
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    EncodingType: q.get('encoding-type') ?? undefined,
    Upload: uploads,
    CommonPrefixes: prefixes.map((p) => ({ Prefix: enc(p) })),
  });
}

export async function listObjectVersions(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const q = r.addr.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const maxKeys = intParam(r, 'max-keys', 1000);
  const enc = keyEncoder(r);
  // Every object has exactly one version ("null") until versioning exists.
  const result = await r.services.listing.list(bucket, { prefix, delimiter, after: keyMarker, maxKeys });
  const who = await ownerOf(r, bucket.tenant_id);
  sendXml(r, 200, 'ListVersionsResult', {
    Name: bucket.name,
    Prefix: enc(prefix),
    KeyMarker: enc(keyMarker),
    VersionIdMarker: q.get('version-id-marker') ?? '',
    NextKeyMarker: result.isTruncated && result.lastEmitted !== undefined ? enc(result.lastEmitted) : undefined,
    NextVersionIdMarker: result.isTruncated ? 'null' : undefined,
    MaxKeys: maxKeys,
    Delimiter: delimiter ? enc(delimiter) : undefined,
    EncodingType: q.get('encoding-type') ?? undefined,
    IsTruncated: result.isTruncated,
    Version: result.objects.map((o) => ({
      Key: enc(o.key),
      VersionId: 'null',
      IsLatest: true,
      LastModified: xmlDate(o.lastModified),
      ETag: `"${o.etag}"`,
      Size: o.size,
      Owner: who,
      StorageClass: 'STANDARD',
    })),
    CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
}
