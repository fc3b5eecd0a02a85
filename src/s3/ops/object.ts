/** Object operations: PutObject, GetObject, HeadObject, DeleteObject. */
import http from 'node:http';
import { pipeline } from 'node:stream/promises';

import type { ObjectVersion } from '../../core/objects.js';
import { rememberEncryption } from '../../core/objects/encryption.js';
import { expectedBody, requestBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors, S3Error } from '../errors.js';
import { sendEmpty } from '../respond.js';
import { checkObjectAcl, requireBucket } from './access.js';
import { evaluateConditions, writeCondition } from './conditions.js';
import { attributesFromHeaders, checksumHeaders, objectResponseHeaders, RESPONSE_OVERRIDES } from './object-headers.js';
import { bypassGovernance, lockForWrite } from './object-lock.js';
import { type ByteRange, parseRange } from './range.js';
import { customerKeyFor, sseFromRequest, sseResponseHeaders } from './sse.js';
import { lockHeaders, readableVersion, versionHeader, versionIdParam, writtenVersionHeader } from './versions.js';

export async function putObject(r: S3Request): Promise<void> {
  const sse = sseFromRequest(r.req.headers);
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const attributes = attributesFromHeaders(r.req.headers);
  rememberEncryption(attributes, sse);
  const lock = lockForWrite(r, bucket, { needsIntegrity: true });
  const body = requestBody(r, { requireLength: true });
  if (body.declaredLength !== undefined && body.declaredLength > r.config.maxObjectSize) {
    throw errors.entityTooLarge(r.config.maxObjectSize);
  }
  const version = await r.services.objects.put(bucket, key, body.stream, {
    attributes,
    expect: expectedBody(r, body),
    condition: writeCondition(r),
    customerKey: sse.customer,
    lock,
  });
  r.stats.bytesIn += version.size;
  const headers: Record<string, string> = {
    ETag: `"${version.etag}"`,
    ...writtenVersionHeader(version),
    ...sseResponseHeaders(attributes.headers, sse.customer),
  };
  for (const [alg, value] of Object.entries(version.checksums)) headers[`x-amz-checksum-${alg}`] = value!;
  sendEmpty(r, 200, headers);
}

export async function getObject(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const partNumber = partNumberParam(r);
  // The object may be replaced (and its blob collected) between reading its
  // row and opening its files: then read the row again.
  for (let attempt = 0; attempt < 5; attempt++) {
    const version = await readableVersion(r, bucket, key);
    checkObjectAcl(r, version);
    const customer = customerKeyFor(r.req.headers, version.headers);
    if (evaluateConditions(r, version)) return;
    const headers = {
      ...objectResponseHeaders(version),
      ...versionHeader(bucket, version),
      ...lockHeaders(version),
      ...sseResponseHeaders(version.headers, customer),
    };
    const range = partNumber ? partRange(version, partNumber) : parseRange(header(r, 'range'), version.size);
    let status = 200;
    let start = 0;
    let end = version.size - 1;
    if (range) {
      status = 206;
      ({ start, end } = range);
      headers['Content-Range'] = `bytes ${start}-${end}/${version.size}`;
    } else if (header(r, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
      Object.assign(headers, checksumHeaders(version));
    }
    if (r.auth.kind === 'signed') {
      for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
        const value = r.addr.query.get(param);
        if (value === null) continue;
        try {
          http.validateHeaderValue(name, value);
        } catch {
          throw errors.invalidArgument(`Header value for ${param} is not allowed in an HTTP header`, param, value);
        }
        headers[name] = value;
      }
    }
    headers['Content-Length'] = String(end - start + 1);
    if (r.req.method === 'HEAD') {
      r.res.writeHead(status, headers);
      r.res.end();
      return;
    }
    const stream = version.size === 0 ? null : await r.services.objects.openBody(version, start, end, customer);
    if (version.size > 0 && stream === null) continue;
    try {
      r.res.writeHead(status, headers);
    } catch (err) {
      stream?.destroy();
      throw err;
    }
    if (!stream) {
      r.res.end();
      return;
    }
    stream.on('data', (c: Buffer) => (r.stats.bytesOut += c.length));
    await pipeline(stream, r.res);
    return;
  }
  throw errors.internal();
}

function partNumberParam(r: S3Request): number | undefined {
  const raw = r.addr.query.get('partNumber');
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 10000) {
    throw errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
  }
  if (header(r, 'range') !== undefined) throw errors.invalidRequest('Cannot specify both Range header and partNumber query parameter');
  return Number(raw);
}

/** The bytes of one part of a multipart object (a single-part object has only part 1: all of it). */
function partRange(v: ObjectVersion, partNumber: number): ByteRange | undefined {
  const sizes = v.partSizes.length > 0 ? v.partSizes : [v.size];
  if (partNumber > sizes.length) {
    throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', 416, {
      PartNumberRequested: partNumber,
      ActualPartCount: sizes.length,
    });
  }
  if (v.partSizes.length === 0) return undefined;
  const start = sizes.slice(0, partNumber - 1).reduce((a, b) => a + b, 0);
  return { start, end: start + sizes[partNumber - 1] - 1 };
}

export async function deleteObject(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const versionId = versionIdParam(r);
  const ifMatch = header(r, 'if-match');
  const done = await r.services.objects.delete(bucket, { key, versionId, ifMatch }, { bypassGovernance: bypassGovernance(r, bucket, key) });
  const headers: Record<string, string> = {};
  if (done.versionId !== undefined && (bucket.versioning || versionId !== undefined)) headers['x-amz-version-id'] = done.versionId;
  if (done.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  sendEmpty(r, 204, headers);
}
