/** ListObjects (v1) and ListObjectsV2. */
import type { ListResult } from '../../core/listing.js';
import type { S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendXml } from '../respond.js';
import { xmlDate, type XmlNode } from '../xml.js';
import { requireBucket } from './access.js';
import { intParam, keyEncoder, ownerOf } from './list-params.js';

function contents(r: S3Request, result: ListResult, enc: (s: string) => string, owner: XmlNode | undefined): XmlNode[] {
  return result.objects.map((o) => ({
    Key: enc(o.key),
    LastModified: xmlDate(o.lastModified),
    ETag: `"${o.etag}"`,
    Size: o.size,
    Owner: owner,
    StorageClass: 'STANDARD',
  }));
}

export async function listObjectsV2(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const q = r.addr.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = intParam(r, 'max-keys', 1000);
  const enc = keyEncoder(r);
  const token = q.get('continuation-token');
  let after = q.get('start-after') ?? '';
  if (token !== null) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    // A forged token could carry NUL past the query-string check (U+FFFD may be a real key's).
    if (token === '' || !decoded.startsWith('1:') || decoded.includes('\0')) {
      throw errors.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
    }
    after = decoded.slice(2);
  }
  const result = await r.services.listing.list(bucket, { prefix, delimiter, after, maxKeys });
  const owner = q.get('fetch-owner') === 'true' ? await ownerOf(r, bucket.tenant_id) : undefined;
  sendXml(r, 200, 'ListBucketResult', {
    Name: bucket.name,
    Prefix: enc(prefix),
    Delimiter: delimiter ? enc(delimiter) : undefined,
    StartAfter: q.get('start-after') !== null ? enc(q.get('start-after')!) : undefined,
    ContinuationToken: token ?? undefined,
    NextContinuationToken:
      result.isTruncated && result.lastEmitted !== undefined
        ? Buffer.from('1:' + result.lastEmitted, 'utf8').toString('base64url')
        : undefined,
    KeyCount: result.objects.length + result.commonPrefixes.length,
    MaxKeys: maxKeys,
    EncodingType: q.get('encoding-type') ?? undefined,
    IsTruncated: result.isTruncated,
    Contents: contents(r, result, enc, owner),
    CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
}

export async function listObjectsV1(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const q = r.addr.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const marker = q.get('marker') ?? '';
  const maxKeys = intParam(r, 'max-keys', 1000);
  const enc = keyEncoder(r);
  const result = await r.services.listing.list(bucket, { prefix, delimiter, after: marker, maxKeys });
  const owner = await ownerOf(r, bucket.tenant_id);
  sendXml(r, 200, 'ListBucketResult', {
    Name: bucket.name,
    Prefix: enc(prefix),
    Marker: enc(marker),
    // S3 returns NextMarker only when a delimiter was given; otherwise clients use the last key.
    NextMarker: result.isTruncated && delimiter && result.lastEmitted !== undefined ? enc(result.lastEmitted) : undefined,
    MaxKeys: maxKeys,
    Delimiter: delimiter ? enc(delimiter) : undefined,
    EncodingType: q.get('encoding-type') ?? undefined,
    IsTruncated: result.isTruncated,
    Contents: contents(r, result, enc, owner),
    CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  });
}
