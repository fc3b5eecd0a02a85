/**
 * The parts of a SigV4 request that name who signed and when: the
 * credential scope (key id, date, region, service), the signed header list,
 * and the request time. Errors are built by the caller's `fail` (header or
 * query auth word them differently).
 */
import { errors, type S3Error } from '../errors.js';
import { headerValue } from './canonical.js';

export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
}

/** `AKID/yyyymmdd/region/service/aws4_request`; the key id is everything before the last four parts. */
export function parseCredential(credential: string, fail: (msg: string) => S3Error): CredentialScope {
  const parts = credential.split('/');
  if (parts.length < 5 || parts.slice(0, -4).join('/') === '' || !/^\d{8}$/.test(parts[parts.length - 4])) {
    throw fail('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [date, region, service, terminator] = parts.slice(-4);
  return { accessKeyId: parts.slice(0, -4).join('/'), date, region, service, terminator };
}

export function checkScope(scope: CredentialScope, region: string, fail: (msg: string) => S3Error): void {
  if (scope.region !== region) {
    throw fail(`the region '${scope.region}' is wrong; expecting '${region}'`);
  }
  if (scope.service !== 's3') {
    throw fail(`incorrect service '${scope.service}'. This endpoint belongs to 's3'.`);
  }
  if (scope.terminator !== 'aws4_request') {
    throw fail(`incorrect terminal '${scope.terminator}'. This endpoint uses 'aws4_request'.`);
  }
}

/** Signed header names: lower-case, ';'-separated; `host` must be among them (SigV4 requires it). */
export function parseSignedHeaders(list: string, fail: (msg: string) => S3Error): string[] {
  const names = list.split(';').map((n) => n.trim().toLowerCase());
  if (names.some((n) => n === '')) throw fail('the SignedHeaders list is mal-formed');
  if (!names.includes('host')) throw fail('the host header must be signed');
  return names;
}
/** The request time: x-amz-date (ISO 8601 basic) wins over Date (RFC 7231). */
export function requestDate(headers: Record<string, string | string[] | undefined>): { amzDate: string; date: Date } {
  const amz = headerValue(headers, 'x-amz-date');
  if (amz !== undefined) {
    const date = parseAmzDate(amz.trim());
    if (date) return { amzDate: amz.trim(), date };
  } else {
    const http = headerValue(headers, 'date');
    const ms = http === undefined ? NaN : Date.parse(http);
    if (!Number.isNaN(ms)) {
      const date = new Date(ms);
      return { amzDate: formatAmzDate(date), date };
    }
  }
  throw errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
}

export function parseAmzDate(text: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject impossible dates (month 13, Feb 30) that Date.UTC would silently roll over.
  return formatAmzDate(date) === text ? date : null;
}

export function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}
