/**
 * Conditional reads (If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since) with S3's precedence: a true If-Match overrides a
 * false If-Unmodified-Since, and a false If-None-Match overrides a true
 * If-Modified-Since.
 */
import type { ObjectVersion, WriteCondition } from '../../core/objects.js';
import { header, type S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendEmpty } from '../respond.js';

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const s = t.trim().replace(/^W\//, '');
    return s === '*' || s.replace(/^"|"$/g, '') === etag;
  });
}

function parseDate(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** If-Match / If-None-Match on writes (PutObject, CompleteMultipartUpload): only `*` is meaningful for If-None-Match. */
export function writeCondition(r: S3Request): WriteCondition | undefined {
  const ifMatch = header(r, 'if-match');
  const ifNoneMatch = header(r, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw errors.notImplemented('If-None-Match on writes supports only the value *');
  }
  return { ifMatch, ifNoneMatch: ifNoneMatch === undefined ? undefined : '*' };
}

/** Returns true when a 304 was sent; throws 412 PreconditionFailed; false to carry on. */
export function evaluateConditions(r: S3Request, v: ObjectVersion): boolean {
  const ifMatch = header(r, 'if-match');
  const ifNoneMatch = header(r, 'if-none-match');
  const modified = Math.floor(v.lastModified.getTime() / 1000) * 1000;
  const ifUnmodifiedSince = parseDate(header(r, 'if-unmodified-since'));
  const ifModifiedSince = parseDate(header(r, 'if-modified-since'));

  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, v.etag)) throw errors.preconditionFailed('If-Match');
  } else if (ifUnmodifiedSince !== undefined && modified > ifUnmodifiedSince) {
    throw errors.preconditionFailed('If-Unmodified-Since');
  }
  const notModified = () => {
    sendEmpty(r, 304, { ETag: `"${v.etag}"`, 'Last-Modified': v.lastModified.toUTCString() });
    return true;
  };
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, v.etag)) return notModified();
  } else if (ifModifiedSince !== undefined && modified <= ifModifiedSince) {
    return notModified();
  }
  return false;
}
