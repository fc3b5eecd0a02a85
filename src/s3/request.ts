/**
 * Turns an HTTP request into S3 terms: which bucket and key it addresses
 * (path-style `/bucket/key` or virtual-host-style `bucket.<domain>/key`) and
 * its decoded query parameters.
 */
import type { IncomingMessage } from 'node:http';

import { errors } from './errors.js';

export interface S3Address {
  bucket?: string;
  key?: string;
  query: URLSearchParams;
  virtualHost: boolean;
  /** True when x-amz-copy-source is present (PUT becomes CopyObject / UploadPartCopy). */
  copySource?: boolean;
}

function hostName(req: IncomingMessage): string {
  const host = (req.headers.host ?? '').toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

/** Does the Host header name a bucket (`bucket.<domain>`)? Then every path is a key of that bucket. */
export function isVirtualHostRequest(req: IncomingMessage, domain: string): boolean {
  const host = hostName(req);
  const suffix = '.' + domain.toLowerCase();
  return host.endsWith(suffix) && host.length > suffix.length;
}

export function parseAddress(req: IncomingMessage, domain: string): S3Address {
  return { ...parseTarget(req, domain), copySource: req.headers['x-amz-copy-source'] !== undefined };
}

function parseTarget(req: IncomingMessage, domain: string): S3Address {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q >= 0 ? url.slice(0, q) : url;
  const rawQuery = q >= 0 ? url.slice(q + 1) : '';
  checkQueryText(rawQuery);
  // URLSearchParams decodes '+' as a space, as S3 does in query strings.
  const query = new URLSearchParams(rawQuery);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw errors.invalidURI();
  }
  if (!path.startsWith('/')) throw errors.invalidURI();
  if (path.includes('\0')) throw errors.invalidArgument('Object key must not contain a NUL character', 'key', rawPath);

  const host = hostName(req);
  const suffix = '.' + domain.toLowerCase();
  if (host.endsWith(suffix) && host.length > suffix.length) {
    const bucket = host.slice(0, -suffix.length);
    const key = path.slice(1);
    return { bucket, key: key === '' ? undefined : key, query, virtualHost: true };
  }
  const rest = path.slice(1);
  if (rest === '') return { query, virtualHost: false };
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: rest, query, virtualHost: false };
  const key = rest.slice(slash + 1);
  return { bucket: rest.slice(0, slash), key: key === '' ? undefined : key, query, virtualHost: false };
}

/**
 * Query values name keys (prefix, marker, start-after…), upload ids and
 * tokens that reach the database. URLSearchParams would quietly turn bytes
 * that are not UTF-8 into U+FFFD — another key — and lets NUL through, which
 * PostgreSQL refuses with an internal error. Both get a precise 400 here,
 * before any query runs, the same on every engine. (A lone '%' that starts no
 * escape is taken literally, as URLSearchParams does.)
 */
function checkQueryText(rawQuery: string): void {
  if (rawQuery === '') return;
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    for (const raw of eq < 0 ? [part] : [name, part.slice(eq + 1)]) {
      let text: string;
      try {
        text = decodeURIComponent(raw.replace(/\+/g, ' ').replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
      } catch {
        throw errors.invalidURI();
      }
      if (text.includes('\0')) {
        throw errors.invalidArgument('Query parameters must not contain a NUL character', safeName(name), '');
      }
    }
  }
}

/** A parameter name fit to echo in an error: decoded without NULs, or empty when it does not decode. */
function safeName(raw: string): string {
  try {
    return decodeURIComponent(raw).replace(/\0/g, '');
  } catch {
    // Only the error's ArgumentName is lost: the request is refused either way.
    return '';
  }
}
