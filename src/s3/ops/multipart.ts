/** Multipart upload operations: Create, UploadPart, Complete, Abort, ListParts. */
import { Readable } from 'node:stream';

import { objectLockOf } from '../../core/object-lock.js';
import { rememberEncryption } from '../../core/objects/encryption.js';
import { expectedBody, readSmallBody, requestBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXml, xmlDate } from '../xml.js';
import { requireBucket, requireCopySource } from './access.js';
import { writeCondition } from './conditions.js';
import { checkCopySourceConditions, copySourceVersion, parseCopySource } from './copy.js';
import { attributesFromHeaders } from './object-headers.js';
import { lockForWrite } from './object-lock.js';
import { customerKeyFor, sseFromRequest, sseResponseHeaders } from './sse.js';
import { requireIntegrityHeader, writtenVersionHeader } from './versions.js';

export async function createMultipartUpload(r: S3Request): Promise<void> {
  const sse = sseFromRequest(r.req.headers);
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const alg = header(r, 'x-amz-checksum-algorithm')?.toLowerCase();
  const attributes = attributesFromHeaders(r.req.headers);
  rememberEncryption(attributes, sse);
  const lock = lockForWrite(r, bucket, { needsIntegrity: false });
  const uploadId = await r.services.multipart.create(bucket, key, attributes, alg, lock);
  sendXml(
    r,
    200,
    'InitiateMultipartUploadResult',
    { Bucket: bucket.name, Key: key, UploadId: uploadId },
    {
      ...(alg ? { 'x-amz-checksum-algorithm': alg.toUpperCase() } : {}),
      ...sseResponseHeaders(attributes.headers, sse.customer),
    },
  );
}

function partNumberParam(r: S3Request): number {
  const raw = r.addr.query.get('partNumber') ?? '';
  if (!/^\d+$/.test(raw)) {
    throw errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
  }
  return Number(raw);
}

export async function uploadPart(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const uploadId = r.addr.query.get('uploadId')!;
  const partNumber = partNumberParam(r);
  // Parts of an SSE-C upload carry the key given at its creation (checked against its fingerprint).
  const upload = await r.services.multipart.get(bucket, key, uploadId);
  const customer = customerKeyFor(r.req.headers, upload.attributes.headers);
  // As on S3, the parts of an upload that Object Lock will protect carry an integrity check.
  if (upload.lock || objectLockOf(bucket)?.rule) requireIntegrityHeader(r);
  const body = requestBody(r, { requireLength: true });
  const part = await r.services.multipart.uploadPart(bucket, key, uploadId, partNumber, body.stream, {
    expect: expectedBody(r, body),
    customerKey: customer,
  });
  r.stats.bytesIn += part.size;
  const headers: Record<string, string> = { ETag: `"${part.etag}"`, ...sseResponseHeaders(upload.attributes.headers, customer) };
  for (const [alg, value] of Object.entries(part.checksums)) headers[`x-amz-checksum-${alg}`] = value;
  sendEmpty(r, 200, headers);
}

/**
 * UploadPartCopy: the part's bytes are read from the source object (or a
 * range of it) and stored as a new part blob; identical content dedups to
 * the source's blob, so a whole-object copy stores nothing twice.
 */
export async function uploadPartCopy(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const uploadId = r.addr.query.get('uploadId')!;
  const partNumber = partNumberParam(r);
  const source = parseCopySource(header(r, 'x-amz-copy-source')!);
  const src = await requireCopySource(r, source.bucket, source.key);
  if (src.tenant_id !== bucket.tenant_id) throw errors.accessDenied();
  const upload = await r.services.multipart.get(bucket, key, uploadId);
  const customer = customerKeyFor(r.req.headers, upload.attributes.headers);
  for (let attempt = 0; attempt < 5; attempt++) {
    const version = await copySourceVersion(r, src, source);
    checkCopySourceConditions(r, version);
    const sourceKey = customerKeyFor(r.req.headers, version.headers, { copySource: true });
    const range = copySourceRange(header(r, 'x-amz-copy-source-range'), version.size);
    const stream =
      range.end < range.start ? Readable.from([]) : await r.services.objects.openBody(version, range.start, range.end, sourceKey);
    if (!stream) continue; // the source changed under us: read it again
    let part;
    try {
      part = await r.services.multipart.uploadPart(bucket, key, uploadId, partNumber, stream, { customerKey: customer });
    } finally {
      stream.destroy(); // closes the source's files if the part was refused before reading them
    }
    sendXml(
      r,
      200,
      'CopyPartResult',
      { ETag: `"${part.etag}"`, LastModified: xmlDate(new Date()) },
      src.versioning ? { 'x-amz-copy-source-version-id': version.versionId } : {},
    );
    return;
  }
  throw errors.internal();
}

function copySourceRange(value: string | undefined, size: number): { start: number; end: number } {
  if (value === undefined) return { start: 0, end: size - 1 };
  const m = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= size) {
    throw errors.invalidArgument(
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      'x-amz-copy-source-range',
      value,
    );
  }
  return { start: Number(m[1]), end: Number(m[2]) };
}

export async function completeMultipartUpload(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const uploadId = r.addr.query.get('uploadId')!;
  const doc = parseXml(await readSmallBody(r));
  const root = doc.CompleteMultipartUpload as { Part?: Array<Record<string, unknown>> } | undefined;
  if (!root || typeof root !== 'object' || !Array.isArray(root.Part)) throw errors.malformedXML();
  const parts = root.Part.map((p) => {
    const n = String(p.PartNumber ?? '');
    if (!/^\d+$/.test(n) || typeof p.ETag !== 'string') throw errors.malformedXML();
    const checksums: Record<string, string> = {};
    for (const alg of ['CRC32', 'CRC32C', 'SHA1', 'SHA256']) {
      const v = p[`Checksum${alg}`];
      if (typeof v === 'string') checksums[alg.toLowerCase()] = v;
    }
    return { partNumber: Number(n), etag: p.ETag, checksums };
  });
  // A retry of a Complete that succeeded within the retry window gets the same answer (core/multipart.ts).
  const done = await r.services.multipart.complete(bucket, key, uploadId, parts, writeCondition(r));
  const host = r.req.headers.host ?? 'localhost';
  const sums: Record<string, string> = {};
  for (const [alg, value] of Object.entries(done.checksums)) sums[`Checksum${alg.toUpperCase()}`] = value!;
  sendXml(
    r,
    200,
    'CompleteMultipartUploadResult',
    {
      Location: `http://${host}/${bucket.name}/${encodeURIComponent(key)}`,
      Bucket: bucket.name,
      Key: key,
      ETag: `"${done.etag}"`,
      ...sums,
    },
    { ...writtenVersionHeader(done), ...sseResponseHeaders(done.headers) },
  );
}

/** Aborting an upload completed within the retry window answers 204 and keeps the object, as S3 does for a while. */
export async function abortMultipartUpload(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await r.services.multipart.abort(bucket, r.addr.key!, r.addr.query.get('uploadId')!);
  sendEmpty(r, 204);
}

export async function listParts(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const uploadId = r.addr.query.get('uploadId')!;
  await r.services.multipart.get(bucket, key, uploadId);
  const maxParts = Math.max(0, Math.min(Number(r.addr.query.get('max-parts') ?? 1000) || 1000, 1000));
  // Clamped: a marker past the last possible part lists nothing, and never reaches the database out of integer range.
  const marker = Math.min(Number(r.addr.query.get('part-number-marker') ?? 0) || 0, 10000);
  const all = (await r.services.multipart.listParts(uploadId)).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  sendXml(r, 200, 'ListPartsResult', {
    Bucket: bucket.name,
    Key: key,
    UploadId: uploadId,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.length ? page[page.length - 1].partNumber : marker,
    MaxParts: maxParts,
    IsTruncated: truncated,
    StorageClass: 'STANDARD',
    Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: xmlDate(p.lastModified), ETag: `"${p.etag}"`, Size: p.size })),
  });
}
