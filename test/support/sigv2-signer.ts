/**
 * A second, independent AWS Signature Version 2 signer for the tests,
 * written from AWS's "Signing and Authenticating REST Requests" page (not
 * from src/s3/auth/sigv2.ts): header-signed requests, presigned URLs and
 * POST policy forms.
 */
import { createHmac } from 'node:crypto';

import { awsEncode, type WireTarget } from './wire.js';

/** The sub-resources AWS's page lists, the response-* overrides, and the newer ones S3 routes on. */
const SIGNED_SUBRESOURCES = new Set([
  'acl',
  'cors',
  'delete',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'object-lock',
  'partNumber',
  'policy',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'retention',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

export type Credentials = Pick<WireTarget, 'accessKeyId' | 'secretAccessKey'>;

export function hmacSha1Base64(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

/** `/bucket/key` (already encoded as sent) plus the signed sub-resources of `query` (decoded values), sorted by name. */
export function canonicalResource(path: string, query: string): string {
  const signed = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? [decodeURIComponent(p), ''] : [decodeURIComponent(p.slice(0, eq)), decodeURIComponent(p.slice(eq + 1))];
    })
    .filter(([name]) => SIGNED_SUBRESOURCES.has(name))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`));
  return signed.length === 0 ? path : `${path}?${signed.join('&')}`;
}

/** Verb, Content-MD5, Content-Type, the date line, then the x-amz-* headers and the resource. */
export function stringToSign(method: string, headers: Record<string, string>, dateLine: string, resource: string): string {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const amz = [...lower.keys()]
    .filter((k) => k.startsWith('x-amz-'))
    .sort()
    .map((k) => `${k}:${lower.get(k)}\n`)
    .join('');
  return `${method}\n${lower.get('content-md5') ?? ''}\n${lower.get('content-type') ?? ''}\n${dateLine}\n${amz}${resource}`;
}

export interface HeaderSignOptions {
  /** Signing time (default now). */
  date?: Date;
  /** Send the time as x-amz-date (the Date line is then empty) instead of Date. */
  amzDate?: boolean;
  /** Secret to sign with (default the credentials'). */
  secret?: string;
  /** Virtual-host-style: the bucket named by Host, signed as `/bucket` + path. */
  virtualBucket?: string;
}

/** Headers (Date or x-amz-date, Authorization) for `Authorization: AWS AKID:signature`. */
export function headerSignV2(
  creds: Credentials,
  method: string,
  path: string,
  query: string,
  headers: Record<string, string> = {},
  opts: HeaderSignOptions = {},
): Record<string, string> {
  const when = (opts.date ?? new Date()).toUTCString();
  const out = { ...headers, ...(opts.amzDate ? { 'x-amz-date': when } : { date: when }) };
  const resource = canonicalResource((opts.virtualBucket ? `/${opts.virtualBucket}` : '') + path, query);
  const sts = stringToSign(method, out, opts.amzDate ? '' : when, resource);
  return { ...out, authorization: `AWS ${creds.accessKeyId}:${hmacSha1Base64(opts.secret ?? creds.secretAccessKey, sts)}` };
}

/** A presigned URL's path and query: the request's own query, then AWSAccessKeyId, Expires, Signature. */
export function presignV2(
  creds: Credentials,
  method: string,
  path: string,
  query: string,
  opts: { expires: number; headers?: Record<string, string>; secret?: string },
): { pathAndQuery: string; query: string; signature: string } {
  const sts = stringToSign(method, opts.headers ?? {}, String(opts.expires), canonicalResource(path, query));
  const signature = hmacSha1Base64(opts.secret ?? creds.secretAccessKey, sts);
  const auth = `AWSAccessKeyId=${awsEncode(creds.accessKeyId)}&Expires=${opts.expires}&Signature=${awsEncode(signature)}`;
  const q = query ? `${query}&${auth}` : auth;
  return { pathAndQuery: `${path}?${q}`, query: q, signature };
}

/** Form fields of a SigV2 POST policy (boto3's generate_presigned_post on Debian makes the same). */
export function policyFormV2(
  creds: Credentials,
  conditions: unknown[],
  fields: Record<string, string>,
  opts: { expiresInMs?: number; secret?: string } = {},
): Record<string, string> {
  const policy = Buffer.from(
    JSON.stringify({ expiration: new Date(Date.now() + (opts.expiresInMs ?? 600_000)).toISOString(), conditions }),
  ).toString('base64');
  return {
    ...fields,
    AWSAccessKeyId: creds.accessKeyId,
    policy,
    signature: hmacSha1Base64(opts.secret ?? creds.secretAccessKey, policy),
  };
}
