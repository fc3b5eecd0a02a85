/**
 * AWS Signature Version 2 verification, as S3 and MinIO accept it: the
 * `Authorization: AWS AKID:signature` header, presigned query URLs
 * (`AWSAccessKeyId`, `Expires`, `Signature`) and the POST policy signature.
 * Written by hand for Anvil — this is our own code, like sigv4.ts; the
 * tests check it against clients that really sign this way (Debian's boto3,
 * s3cmd) and against a second signer written in the test.
 *
 * Why it exists: Debian's boto3 presigns URLs and POST forms with SigV2
 * unless told `signature_version='s3v4'`, and `s3cmd signurl` only speaks it.
 * The `sigv2` option turns it off (authenticate.ts and post-object.ts ask).
 *
 *   StringToSign = Verb \n Content-MD5 \n Content-Type \n Date \n
 *                  CanonicalizedAmzHeaders CanonicalizedResource
 *   Signature    = base64(HMAC-SHA1(secret, StringToSign))
 *
 * SigV2 signs no payload (Content-MD5 is checked when sent, as for any
 * request), and it signs only the query parameters S3 lists as
 * sub-resources: every other parameter (prefix, max-keys…) can be changed
 * by whoever holds a signed request. That is the protocol, on S3 too; what
 * we make sure of is that no parameter that turns one operation into
 * another that writes (SUBRESOURCES) goes unsigned.
 *
 * This module imports nothing from sigv4.ts (authenticate.ts dispatches); its
 * request and context types are the structural subset it needs.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { errors, type S3Error } from '../errors.js';
import { type HeaderMap, headerValue, parseQuery, percentDecode, type QueryParam } from './canonical.js';
import { parseAmzDate } from './scope.js';

/** What the S3 front tells the verifier about SigV2 (the admin API passes nothing: SigV4 only). */
export interface SigV2Options {
  /** The `sigv2` setting; false refuses SigV2 requests with sigV2TurnedOff(). */
  enabled: boolean;
  /**
   * The bucket named by the Host header (virtual-host-style requests): SigV2
   * signs the path as `/bucket/key` however the bucket was addressed.
   */
  virtualHostBucket?: string;
}

interface V2Request {
  method: string;
  headers: HeaderMap;
}
interface V2Context {
  now(): Date;
  maxSkewMs: number;
  lookupSecret(accessKeyId: string): Promise<string | null>;
}

/**
 * The query parameters SigV2 signs (the CanonicalizedResource's
 * sub-resources): S3's documented list and response-* overrides, plus every
 * name MinIO and botocore also sign. Every sub-resource that selects an
 * operation that writes (router.ts) is here, so it cannot be added to a
 * signed request unnoticed. A client that does not sign one of these (s3cmd
 * does not sign `tagging`, botocore not `retention`) fails that one
 * operation with SignatureDoesNotMatch, exactly as on MinIO. Left out on
 * purpose: `attributes` and `policyStatus`, newer than SigV2 and signed by
 * no SigV2 client, which only read what a GET of the same path reads.
 */
const SUBRESOURCES = new Set([
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'delete',
  'encryption',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'partNumber',
  'policy',
  'replication',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'retention',
  'select',
  'select-type',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

/** The fixed queries of botocore's S3 operation URIs (`/{Bucket}?versions`…): see canonicalResources. */
const BOTOCORE_FIXED_QUERIES = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'list-type=2',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'tagging',
  'torrent',
  'uploads',
  'versioning',
  'versions',
  'website',
]);

/** The query parameters of a presigned SigV2 URL. */
const ACCESS_KEY_PARAM = 'AWSAccessKeyId';
const SIGNATURE_PARAM = 'Signature';
const EXPIRES_PARAM = 'Expires';

/** `Authorization: AWS AKID:signature` (SigV4 starts `AWS4-`). */
export function isSigV2Authorization(authorization: string): boolean {
  return /^AWS\s/.test(authorization.trimStart());
}

/** A presigned SigV2 URL names its key or its signature in the query. */
export function hasSigV2Query(query: QueryParam[]): boolean {
  return query.some((p) => p.rawName === ACCESS_KEY_PARAM || p.rawName === SIGNATURE_PARAM);
}

/** The answer to any SigV2 request (header, query or POST form) when the `sigv2` option is off. */
export function sigV2TurnedOff(): S3Error {
  return errors.accessDenied(
    'AWS Signature Version 2 is turned off on this server (option sigv2); sign the request with AWS Signature Version 4 (AWS4-HMAC-SHA256)',
  );
}

// ---------------------------------------------------------------- header auth

/** Verifies `Authorization: AWS AKID:signature`; returns the access key id. */
export async function verifySigV2Header(
  req: V2Request,
  ctx: V2Context,
  opts: SigV2Options,
  authorization: string,
  rawPath: string,
  rawQuery: string,
): Promise<string> {
  const { accessKeyId, signature } = parseV2Authorization(authorization);
  const amzDate = headerValue(req.headers, 'x-amz-date');
  const httpDate = headerValue(req.headers, 'date');
  // x-amz-date wins and then leaves the Date line empty (it is signed among the x-amz-* headers).
  // Some clients (and MinIO's verifier) still put a Date header they also send on that line: a second reading.
  const dateLines = amzDate !== undefined ? ['', ...(httpDate !== undefined ? [httpDate.trim()] : [])] : [httpDate?.trim() ?? ''];
  const requestTime = amzDate ?? httpDate;
  const when = requestTime === undefined ? null : parseV2Date(requestTime.trim());
  if (when === null) throw errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
  const now = ctx.now();
  if (Math.abs(now.getTime() - when.getTime()) > ctx.maxSkewMs) {
    throw errors.requestTimeTooSkewed(requestTime!.trim(), now.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
  await verify(req, ctx, opts, { accessKeyId, signature, dateLines, amzHeaders: amzHeadersOf(req.headers) }, rawPath, rawQuery);
  return accessKeyId;
}

function parseV2Authorization(header: string): { accessKeyId: string; signature: string } {
  const rest = header.trim().slice(3).trim();
  const colon = rest.lastIndexOf(':');
  const accessKeyId = colon < 0 ? '' : rest.slice(0, colon);
  const signature = colon < 0 ? '' : rest.slice(colon + 1);
  if (accessKeyId === '' || signature === '' || /\s/.test(accessKeyId)) {
    throw errors.invalidArgument('AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', 'Authorization', header);
  }
  return { accessKeyId, signature };
}

/** SigV2 dates are RFC 7231 (`Date`, s3cmd's x-amz-date) or, from some clients, ISO 8601 basic. */
function parseV2Date(text: string): Date | null {
  const iso = parseAmzDate(text);
  if (iso) return iso;
  // Date.parse would also take "2025" or "1": insist on an HTTP date's shape (weekday, day, month, year, time).
  if (!/^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d\d:\d\d:\d\d /.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

// ------------------------------------------------------------- presigned URLs

/** Verifies `?AWSAccessKeyId=…&Expires=…&Signature=…`; returns the access key id. */
export async function verifySigV2Presigned(
  req: V2Request,
  ctx: V2Context,
  opts: SigV2Options,
  rawPath: string,
  rawQuery: string,
): Promise<string> {
  const query = parseQuery(rawQuery, false);
  const get = (name: string) => query.find((p) => p.rawName === name)?.rawValue;
  const accessKeyId = get(ACCESS_KEY_PARAM);
  const signature = get(SIGNATURE_PARAM);
  const expires = get(EXPIRES_PARAM);
  if (!accessKeyId || !signature || !expires) {
    throw errors.accessDenied('Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  }
  if (!/^\d{1,12}$/.test(expires)) throw errors.accessDenied(`Invalid date (should be seconds since epoch): ${expires}`);
  if (ctx.now().getTime() > Number(expires) * 1000) throw errors.expiredToken();
  // The signer knew the x-amz-* headers it signed and the user sends them as headers (as MinIO reads it):
  // every x-amz-* header sent is folded in, so one added after signing breaks the signature.
  await verify(req, ctx, opts, { accessKeyId, signature, dateLines: [expires], amzHeaders: amzHeadersOf(req.headers) }, rawPath, rawQuery);
  return accessKeyId;
}

// ---------------------------------------------------------------- POST policy

/** A POST form's `signature` field: base64(HMAC-SHA1(secret, the base64 policy as sent)), compared in constant time. */
export function policySignatureV2Matches(secret: string, policyB64: string, signature: string): boolean {
  return signatureMatches(hmacSha1(secret, policyB64), signature);
}

// ---------------------------------------------------------- signature check

interface V2Parts {
  accessKeyId: string;
  signature: string;
  /** Readings of the Date line (Expires for presigned URLs); the first is S3's. */
  dateLines: string[];
  amzHeaders: string;
}

async function verify(
  req: V2Request,
  ctx: V2Context,
  opts: SigV2Options,
  parts: V2Parts,
  rawPath: string,
  rawQuery: string,
): Promise<void> {
  const secret = await ctx.lookupSecret(parts.accessKeyId);
  if (secret === null) throw errors.invalidAccessKeyId();
  const resourcePath = (opts.virtualHostBucket !== undefined ? `/${opts.virtualHostBucket}` : '') + rawPath;
  // A bucket's own resource is `/bucket/` in AWS's documentation and botocore's `PUT /bucket`, `/bucket` in
  // clients that sign the path as sent and in botocore's virtual-host `?list-type=2`. Both name the bucket.
  const bucketOnly = /^(\/[^/]+)\/?$/.exec(resourcePath);
  const resourcePaths = bucketOnly ? [resourcePath, bucketOnly[1] === resourcePath ? `${resourcePath}/` : bucketOnly[1]] : [resourcePath];
  const head = [
    req.method.toUpperCase(),
    headerValue(req.headers, 'content-md5')?.trim() ?? '',
    headerValue(req.headers, 'content-type')?.trim() ?? '',
  ].join('\n');
  let first: string | undefined;
  for (const resource of resourcePaths.flatMap((path) => canonicalResources(path, rawQuery))) {
    for (const dateLine of parts.dateLines) {
      const stringToSign = `${head}\n${dateLine}\n${parts.amzHeaders}${resource}`;
      if (signatureMatches(hmacSha1(secret, stringToSign), parts.signature)) return;
      first ??= stringToSign;
    }
  }
  throw errors.signatureDoesNotMatch({
    AWSAccessKeyId: parts.accessKeyId,
    StringToSign: first!,
    SignatureProvided: parts.signature,
  });
}

/**
 * CanonicalizedAmzHeaders: every x-amz-* header, lower-case, sorted, as
 * `name:value\n`, the value unfolded and trimmed (repeated headers arrive
 * joined by node; SigV2 joins them with ',').
 */
function amzHeadersOf(headers: HeaderMap): string {
  return Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('x-amz-'))
    .sort()
    .map((name) => {
      const value = (headerValue(headers, name) ?? '').replace(/\r?\n[ \t]*/g, ' ').trim();
      return `${name}:${value}\n`;
    })
    .join('');
}

/**
 * CanonicalizedResource: the path as sent (with the bucket in front for
 * virtual-host-style requests), then the signed sub-resources, sorted by
 * name, with their decoded values (`?acl`, `?partNumber=2&uploadId=…`).
 * Readings where the request is ambiguous, each as strict as the other: a
 * literal '+' in the query (a plus or a form-encoded space), and an
 * explicitly empty value (`?acl=`: botocore signs `acl=`, MinIO `acl`).
 *
 * One more reading is a client's quirk, accepted because Debian's botocore
 * (1.29, the boto3 this option exists for) signs that way: for operations
 * whose model URI carries a fixed query (`/{Bucket}/{Key+}?tagging`,
 * `/{Bucket}?list-type=2`) it signs the path with
 * that query and then the sub-resources again (`/b/k?tagging?tagging`).
 * That fixed query is the first parameter of the URL it sends. The reading
 * still ends with every signed sub-resource, so it signs more than the
 * standard one, never less; and it is taken only for botocore's bare names
 * and `list-type=2` (BOTOCORE_FIXED_QUERIES), which no other request's
 * standard reading can hold before a '?' (its first entry is a signed
 * sub-resource, and those never contain '?' in their names), so it cannot
 * stand in for another request's signature. (`select&select-type=2` is left
 * out for that reason: S3 Select is not implemented.)
 */
function canonicalResources(resourcePath: string, rawQuery: string): string[] {
  const readings = new Set<string>();
  const rawParams = rawQuery.split('&').filter((part) => part !== '');
  const botocoreFixedQueries = rawParams.length > 0 && BOTOCORE_FIXED_QUERIES.has(rawParams[0]) ? [rawParams[0]] : [];
  for (const plusAsSpace of rawQuery.includes('+') ? [false, true] : [false]) {
    const signed: Array<{ name: string; value: string; withEquals: boolean }> = [];
    for (const part of rawParams) {
      const eq = part.indexOf('=');
      const name = percentDecode(eq < 0 ? part : part.slice(0, eq), plusAsSpace).toString('utf8');
      if (!SUBRESOURCES.has(name)) continue;
      const value = eq < 0 ? '' : percentDecode(part.slice(eq + 1), plusAsSpace).toString('utf8');
      signed.push({ name, value, withEquals: eq >= 0 });
    }
    // A stable sort by name (byte order: all names are ASCII); repeated names keep their order.
    signed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const keepEmptyEquals of [false, true]) {
      const rendered = signed.map((p) => (p.value !== '' || (keepEmptyEquals && p.withEquals) ? `${p.name}=${p.value}` : p.name));
      const suffix = rendered.length === 0 ? '' : `?${rendered.join('&')}`;
      readings.add(resourcePath + suffix);
      for (const fixed of botocoreFixedQueries) readings.add(`${resourcePath}?${fixed}${suffix}`);
    }
  }
  return [...readings];
}

function hmacSha1(secret: string, data: string): string {
  return createHmac('sha1', secret).update(data, 'utf8').digest('base64');
}

/**
 * Constant-time comparison of base64 signatures. The provided text is
 * compared as sent (a space stands for a '+' a client left unencoded in a
 * URL), not decoded: base64 has several spellings of the same bytes, and a
 * changed signature must not pass.
 */
function signatureMatches(expectedB64: string, provided: string): boolean {
  const given = Buffer.from(provided.replace(/ /g, '+'), 'utf8');
  const expected = Buffer.from(expectedB64, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
