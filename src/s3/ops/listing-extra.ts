/** ListMultipartUploads and ListObjectVersions. */
import { isVersionIdSyntax } from '../../core/objects.js';
import type { S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendXml } from '../respond.js';
import { withSequence, xmlDate, type XmlNode } from '../xml.js';
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
  const versionIdMarker = q.get('version-id-marker') ?? undefined;
  if (versionIdMarker !== undefined && !keyMarker) {
    throw errors.invalidArgument('A version-id marker cannot be specified without a key marker.', 'version-id-marker', versionIdMarker);
  }
  if (versionIdMarker !== undefined && versionIdMarker !== '' && !isVersionIdSyntax(versionIdMarker)) {
    throw errors.invalidArgument('Invalid version id specified', 'version-id-marker', versionIdMarker);
  }
  const maxKeys = intParam(r, 'max-keys', 1000);
  const enc = keyEncoder(r);
  const result = await r.services.objects.listVersions(bucket, {
    prefix,
    delimiter,
    keyMarker,
    versionIdMarker: versionIdMarker || undefined,
    maxKeys,
  });
  const who = await ownerOf(r, bucket.tenant_id);
  // Versions and delete markers interleaved in the listing's one order, as S3 sends them.
  const entries: Array<[string, XmlNode]> = result.entries.map((e) => {
    const common = { Key: enc(e.key), VersionId: e.versionId, IsLatest: e.isLatest, LastModified: xmlDate(e.lastModified), Owner: who };
    if (e.isDeleteMarker) return ['DeleteMarker', common];
    return [
      'Version',
      {
        Key: common.Key,
        VersionId: common.VersionId,
        IsLatest: common.IsLatest,
        LastModified: common.LastModified,
        ETag: `"${e.etag}"`,
        Size: e.size,
        Owner: who,
        StorageClass: 'STANDARD',
      },
    ];
  });
  const body = withSequence(
    {
      Name: bucket.name,
      Prefix: enc(prefix),
      KeyMarker: enc(keyMarker),
      VersionIdMarker: versionIdMarker ?? '',
      NextKeyMarker: result.nextKeyMarker !== undefined ? enc(result.nextKeyMarker) : undefined,
      NextVersionIdMarker: result.nextKeyMarker !== undefined ? (result.nextVersionIdMarker ?? '') : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter ? enc(delimiter) : undefined,
      EncodingType: q.get('encoding-type') ?? undefined,
      IsTruncated: result.isTruncated,
      CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    },
    'IsTruncated',
    entries,
  );
  sendXml(r, 200, 'ListVersionsResult', body);
}
