/** GetObjectAttributes: size, ETag, checksums, parts and storage class without the body. */
import { header, type S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendXml } from '../respond.js';
import type { XmlNode } from '../xml.js';
import { requireBucket } from './access.js';
import { readableVersion, versionHeader } from './versions.js';

const KNOWN = new Set(['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']);

export async function getObjectAttributes(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const wanted = (header(r, 'x-amz-object-attributes') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.length === 0 || wanted.some((w) => !KNOWN.has(w))) {
    throw errors.invalidArgument(
      'Invalid attribute name specified.',
      'x-amz-object-attributes',
      header(r, 'x-amz-object-attributes') ?? '',
    );
  }
  const v = await readableVersion(r, bucket, r.addr.key!);
  const body: XmlNode = {};
  if (wanted.includes('ETag')) body.ETag = v.etag;
  if (wanted.includes('Checksum') && Object.keys(v.checksums).length > 0) {
    const sums: XmlNode = {};
    for (const [alg, value] of Object.entries(v.checksums)) sums[`Checksum${alg.toUpperCase()}`] = value;
    body.Checksum = sums;
  }
  if (wanted.includes('ObjectParts') && v.partSizes.length > 0) {
    const maxParts = Math.max(0, Math.min(Number(r.addr.query.get('max-parts') ?? header(r, 'x-amz-max-parts') ?? 1000) || 1000, 1000));
    const marker = Math.min(Number(header(r, 'x-amz-part-number-marker') ?? 0) || 0, 10000);
    const parts = v.partSizes.map((size, i) => ({ PartNumber: i + 1, Size: size })).filter((p) => p.PartNumber > marker);
    const page = parts.slice(0, maxParts);
    body.ObjectParts = {
      PartsCount: v.partSizes.length,
      PartNumberMarker: marker,
      NextPartNumberMarker: page.length ? page[page.length - 1].PartNumber : marker,
      MaxParts: maxParts,
      IsTruncated: parts.length > page.length,
      Part: page,
    };
  }
  if (wanted.includes('StorageClass')) body.StorageClass = 'STANDARD';
  if (wanted.includes('ObjectSize')) body.ObjectSize = v.size;
  sendXml(r, 200, 'GetObjectAttributesResponse', body, { 'Last-Modified': v.lastModified.toUTCString(), ...versionHeader(bucket, v) });
}
