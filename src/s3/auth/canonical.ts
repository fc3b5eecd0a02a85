/**
 * Canonical-request building blocks of AWS Signature Version 4, as S3 applies
 * them. Written by hand for Anvil (our own code, not derived from an SDK): the
 * AWS SDK's signer is used only in the unit tests, as the reference to agree with.
 *
 * All encoding is done on bytes, not on JS strings, because AWS encodes each
 * UTF-8 byte outside the unreserved set as %XX (upper-case hex), and because a
 * key may legally contain percent-escapes that do not form valid UTF-8.
 */
import { errors } from '../errors.js';

/** RFC 3986 unreserved bytes: A-Z a-z 0-9 - . _ ~ are never encoded. */
const UNRESERVED = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const c = String.fromCharCode(b);
  if (/[A-Za-z0-9\-._~]/.test(c)) UNRESERVED[b] = 1;
}
const HEX = '0123456789ABCDEF';

/** URI-encode bytes the AWS way: unreserved bytes as is, all others %XX. */
export function uriEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    out += UNRESERVED[b] ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * Percent-decode to bytes. Characters that are not escapes are taken as UTF-8
 * (node's HTTP parser rejects raw non-ASCII request targets, so in practice the
 * input is ASCII). A '%' not followed by two hex digits is a malformed URI.
 */
export function percentDecode(text: string, plusAsSpace: boolean): Buffer {
  if (!text.includes('%') && !(plusAsSpace && text.includes('+'))) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '%') {
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hexValue(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) throw errors.invalidURI();
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.of(hi * 16 + lo));
      i += 2;
    } else if (ch === '+' && plusAsSpace) {
      run += ' ';
    } else {
      run += ch;
    }
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** Split req.url into raw path and raw query (without '?'); tolerates absolute-form targets. */
export function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  let target = url;
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(target);
  if (scheme) target = target.slice(scheme[0].length);
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  return { rawPath: rawPath === '' ? '/' : rawPath, rawQuery };
}

/**
 * Canonical URI for S3: each '/'-separated segment decoded once and encoded
 * once. S3 signs the path as sent: no removal of empty, '.' or '..' segments
 * (the SDKs sign S3 requests with uriEscapePath=false for the same reason).
 */
export function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncodeBytes(percentDecode(segment, false)))
    .join('/');
}

export interface QueryParam {
  /** encoded per AWS rules */
  name: string;
  value: string;
  /** decoded (UTF-8) — for reading auth parameters */
  rawName: string;
  rawValue: string;
}

/**
 * Parse a raw query string. `plusAsSpace` decides how a literal '+' reads:
 * SDKs never send one (they send %2B and %20) but form-encoding clients send
 * '+' for a space, so the verifier tries both readings when one occurs.
 */
export function parseQuery(rawQuery: string, plusAsSpace: boolean): QueryParam[] {
  const params: QueryParam[] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const nameText = eq < 0 ? part : part.slice(0, eq);
    const valueText = eq < 0 ? '' : part.slice(eq + 1);
    const nameBytes = percentDecode(nameText, plusAsSpace);
    const valueBytes = percentDecode(valueText, plusAsSpace);
    params.push({
      name: uriEncodeBytes(nameBytes),
      value: uriEncodeBytes(valueBytes),
      rawName: nameBytes.toString('utf8'),
      rawValue: valueBytes.toString('utf8'),
    });
  }
  return params;
}

/** Canonical query: encoded pairs sorted by name then value (byte order, all ASCII), minus the signature. */
export function canonicalQuery(params: QueryParam[], exclude?: string): string {
  return params
    .filter((p) => p.rawName !== exclude)
    .map((p) => [p.name, p.value] as const)
    .sort((a, b) => compareAscii(a[0], b[0]) || compareAscii(a[1], b[1]))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Header value canonical form: trimmed, runs of spaces/tabs (and folded newlines) collapsed to one space. */
export function canonicalHeaderValue(value: string): string {
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

export type HeaderMap = Record<string, string | string[] | undefined>;

/** A header as one string; repeated values (node gives arrays only for a few headers) joined with ','. */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.map(canonicalHeaderValue).join(',') : v;
}

/** Canonical header block (each "name:value\n") for the signed header names, already lower-case and sorted by the client. */
export function canonicalHeaders(headers: HeaderMap, signed: string[]): string {
  let out = '';
  for (const name of signed) {
    out += `${name}:${canonicalHeaderValue(headerValue(headers, name) ?? '')}\n`;
  }
  return out;
}

export function canonicalRequest(parts: {
  method: string;
  uri: string;
  query: string;
  headers: string;
  signedHeaders: string;
  payloadHash: string;
}): string {
  return [parts.method, parts.uri, parts.query, parts.headers, parts.signedHeaders, parts.payloadHash].join('\n');
}
