/** Mapping between HTTP headers and stored object attributes (standard headers, user metadata, checksums). */
import type { IncomingHttpHeaders } from 'node:http';

import type { ObjectAttributes, ObjectVersion } from '../../core/objects.js';
import { visibleStoredHeaders } from '../../core/objects/encryption.js';
import { S3Error } from '../errors.js';
import { cannedAclFromHeaders } from './canned-acl.js';
import { taggingCountHeader, tagsFromHeader } from './tagging.js';

/** Standard headers S3 stores with an object and returns on GET/HEAD. */
export const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
const MAX_USER_METADATA = 2048;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

export function attributesFromHeaders(h: IncomingHttpHeaders): ObjectAttributes {
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    let value = one(h[name]);
    if (name === 'content-encoding' && value !== undefined) {
      // aws-chunked is transport framing, not a property of the object.
      value = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s && s.toLowerCase() !== 'aws-chunked')
        .join(',');
    }
    if (value) headers[name] = value;
  }
  const userMeta: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(h)) {
    if (!name.startsWith('x-amz-meta-')) continue;
    const key = name.slice('x-amz-meta-'.length);
    const v = one(value) ?? '';
    userMeta[key] = v;
    metaBytes += Buffer.byteLength(key) + Buffer.byteLength(v);
  }
  if (metaBytes > MAX_USER_METADATA) {
    throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', 400, {
      Size: metaBytes,
      MaxSizeAllowed: MAX_USER_METADATA,
    });
  }
  const contentType = one(h['content-type']) || 'application/octet-stream';
  return { contentType, headers, userMeta, tags: tagsFromHeader(one(h['x-amz-tagging'])), acl: cannedAclFromHeaders(h) };
}

/** Headers describing a stored object, as GET and HEAD return them. */
export function objectResponseHeaders(v: ObjectVersion): Record<string, string> {
  const out: Record<string, string> = {
    ETag: `"${v.etag}"`,
    'Last-Modified': v.lastModified.toUTCString(),
    'Content-Type': v.contentType,
    'Accept-Ranges': 'bytes',
  };
  for (const [name, value] of Object.entries(visibleStoredHeaders(v))) out[name] = value;
  for (const [name, value] of Object.entries(v.userMeta)) out[`x-amz-meta-${name}`] = value;
  if (v.partSizes.length > 0) out['x-amz-mp-parts-count'] = String(v.partSizes.length);
  Object.assign(out, taggingCountHeader(v.tags));
  return out;
}

export function checksumHeaders(v: ObjectVersion): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [alg, value] of Object.entries(v.checksums)) if (value) out[`x-amz-checksum-${alg}`] = value;
  if (Object.keys(out).length > 0) out['x-amz-checksum-type'] = v.partSizes.length > 0 ? 'COMPOSITE' : 'FULL_OBJECT';
  return out;
}

/** response-* query parameters override response headers on signed GETs. */
export const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};
