/**
 * AWS Signature Version 4 verification for S3 requests: Authorization-header
 * auth and presigned-URL (query) auth. Written by hand for Anvil — this is our
 * own code; the AWS SDK's signer is only used by the unit tests as the
 * reference implementation we must agree with byte for byte.
 *
 * The result tells the caller how the body is protected (PayloadMode) and, for
 * signed aws-chunked bodies, the state the chunk decoder needs to verify every
 * chunk signature (see chunked.ts).
 */
import { errors, S3Error } from '../errors.js';
import {
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  headerValue,
  parseQuery,
  type QueryParam,
  splitUrl,
} from './canonical.js';
import { checkScope, parseAmzDate, parseCredential, parseSignedHeaders, requestDate } from './scope.js';
import { deriveSigningKey, hmac, scopeString, sha256Hex, signaturesEqual } from './signing.js';

/** The admin API's SigV4 check hashes bodies with the same function. */
export { sha256Hex };

export interface AuthRequest {
  method: string;
  /** req.url exactly as received: raw percent-encoded path plus optional ?query */
  url: string;
  /** node IncomingMessage.headers (lower-case names; values string | string[] | undefined) */
  headers: Record<string, string | string[] | undefined>;
}
export interface AuthContext {
  region: string; // e.g. 'us-east-1'
  now(): Date;
  maxSkewMs: number; // 15 minutes
  /** Returns the secret for the key id, or null if unknown. Called once per request. */
  lookupSecret(accessKeyId: string): Promise<string | null>;
}
export type PayloadMode =
  | { type: 'unsigned' } // UNSIGNED-PAYLOAD, and presigned URLs
  | { type: 'sha256'; expectedHex: string } // the body must hash to this (caller verifies while streaming)
  | { type: 'streaming-signed'; trailer: boolean } // STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
  | { type: 'streaming-unsigned-trailer' }; // STREAMING-UNSIGNED-PAYLOAD-TRAILER
export interface ChunkSigningState {
  signingKey: Buffer;
  seedSignature: string;
  amzDate: string;
  scope: string;
}
export type AuthResult =
  { kind: 'anonymous' } | { kind: 'signed'; accessKeyId: string; payload: PayloadMode; chunkSigning?: ChunkSigningState };

export const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const MAX_PRESIGN_EXPIRES_S = 604800;
const UNSUPPORTED_MECHANISM = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

/** Everything needed to compute and check one request signature, whichever way it arrived. */
interface SignedRequestParts {
  accessKeyId: string;
  scopeDate: string;
  scopeRegion: string;
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  payloadHash: string;
  /** query parameters excluded from the canonical query (X-Amz-Signature for presigned URLs) */
  excludeParam?: string;
}

/** What a signature covers: the credential scope, the request time and fields, the payload hash. */
function signedParts(
  scope: { accessKeyId: string; date: string; region: string },
  amzDate: string,
  signedHeaders: string[],
  signature: string,
  payloadHash: string,
  excludeParam?: string,
): SignedRequestParts {
  const parts: SignedRequestParts = {
    accessKeyId: scope.accessKeyId,
    scopeDate: scope.date,
    scopeRegion: scope.region,
    amzDate,
    signedHeaders,
    signature,
    payloadHash,
  };
  if (excludeParam !== undefined) parts.excludeParam = excludeParam;
  return parts;
}

export async function authenticate(req: AuthRequest, ctx: AuthContext): Promise<AuthResult> {
  const { rawPath, rawQuery } = splitUrl(req.url);
  const query = parseQuery(rawQuery, false);
  const authorization = headerValue(req.headers, 'authorization');
  const queryAuth = hasQueryAuth(query);

  if (authorization !== undefined && queryAuth) {
    throw errors.invalidArgument(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      'Authorization',
      authorization,
    );
  }
  if (authorization !== undefined) return verifyHeaderAuth(req, ctx, authorization, rawPath, rawQuery);
  if (queryAuth) return verifyPresigned(req, ctx, query, rawPath, rawQuery);
  if (query.some((p) => p.rawName === 'AWSAccessKeyId' || p.rawName === 'Signature')) {
    throw errors.invalidRequest(UNSUPPORTED_MECHANISM); // SigV2 query auth
  }
  return { kind: 'anonymous' };
}

/** SigV4 presigned-URL parameters (authenticate.ts tells them from SigV2's). */
export function hasQueryAuth(query: QueryParam[]): boolean {
  return query.some((p) => p.rawName === 'X-Amz-Algorithm' || p.rawName === 'X-Amz-Credential');
}

// ---------------------------------------------------------------- header auth

async function verifyHeaderAuth(
  req: AuthRequest,
  ctx: AuthContext,
  authorization: string,
  rawPath: string,
  rawQuery: string,
): Promise<AuthResult> {
  const fields = parseAuthorizationHeader(authorization);
  const scope = parseCredential(fields.credential, malformedHeader);
  const signedHeaders = parseSignedHeaders(fields.signedHeaders, malformedHeader);
  checkScope(scope, ctx.region, malformedHeader);

  const contentSha = headerValue(req.headers, 'x-amz-content-sha256');
  if (contentSha === undefined) {
    throw errors.invalidRequest('Missing required header for this request: x-amz-content-sha256');
  }
  const payload = payloadModeOf(contentSha.trim());
  const { amzDate, date } = requestDate(req.headers);
  if (scope.date !== amzDate.slice(0, 8)) {
    throw malformedHeader('Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  checkSkew(date, amzDate, ctx);

  const parts = signedParts(scope, amzDate, signedHeaders, fields.signature, contentSha.trim());
  const signingKey = await verifySignature(req, ctx, parts, rawPath, rawQuery);
  refuseUnsignedAmzHeaders(req.headers, signedHeaders, HEADER_AUTH_EXEMPT);
  const result: AuthResult = { kind: 'signed', accessKeyId: scope.accessKeyId, payload };
  if (payload.type === 'streaming-signed') {
    result.chunkSigning = {
      signingKey,
      seedSignature: fields.signature.toLowerCase(),
      amzDate,
      scope: scopeString(scope.date, scope.region),
    };
  }
  return result;
}

interface AuthorizationFields {
  credential: string;
  signedHeaders: string;
  signature: string;
}

/**
 * `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. Like S3 we
 * accept the fields in any order with any spacing around the commas.
 */
function parseAuthorizationHeader(header: string): AuthorizationFields {
  const trimmed = header.trim();
  const space = trimmed.search(/\s/);
  const scheme = space < 0 ? trimmed : trimmed.slice(0, space);
  if (scheme !== ALGORITHM) {
    // 'AWS ' is SigV2 (S3 requests reach sigv2.ts through authenticate.ts first; the admin API refuses it);
    // AWS4-ECDSA-P256-SHA256 is SigV4a, which Anvil does not implement.
    throw errors.invalidRequest(UNSUPPORTED_MECHANISM);
  }
  const fields = new Map<string, string>();
  for (const item of trimmed.slice(space + 1).split(',')) {
    const part = item.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw malformedHeader(`the authorization header requires '=' in each component`);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (space < 0 || !credential || !signedHeaders || !signature) {
    throw malformedHeader('the authorization header requires Credential, SignedHeaders and Signature');
  }
  return { credential, signedHeaders, signature };
}

function malformedHeader(detail: string): S3Error {
  return errors.authorizationHeaderMalformed(`The authorization header is malformed; ${detail}`);
}

function malformedQuery(detail: string): S3Error {
  return errors.authorizationQueryParametersError(detail);
}

/** What an x-amz-content-sha256 value says about the body (SigV2 requests may send one too: authenticate.ts). */
export function payloadModeOf(contentSha: string): PayloadMode {
  switch (contentSha) {
    case UNSIGNED_PAYLOAD:
      return { type: 'unsigned' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { type: 'streaming-signed', trailer: false };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { type: 'streaming-signed', trailer: true };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { type: 'streaming-unsigned-trailer' };
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD':
    case 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER':
      throw errors.notImplemented('SigV4a (ECDSA) streaming signatures are not supported; use AWS4-HMAC-SHA256.');
  }
  if (/^[0-9a-fA-F]{64}$/.test(contentSha)) return { type: 'sha256', expectedHex: contentSha.toLowerCase() };
  throw errors.invalidArgument(
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    'x-amz-content-sha256',
    contentSha,
  );
}

function checkSkew(date: Date, amzDate: string, ctx: AuthContext): void {
  const now = ctx.now();
  if (Math.abs(now.getTime() - date.getTime()) > ctx.maxSkewMs) {
    throw errors.requestTimeTooSkewed(amzDate, now.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
}

// ------------------------------------------------------------- presigned URLs

async function verifyPresigned(
  req: AuthRequest,
  ctx: AuthContext,
  query: QueryParam[],
  rawPath: string,
  rawQuery: string,
): Promise<AuthResult> {
  const get = (name: string) => query.find((p) => p.rawName === name)?.rawValue;
  const algorithm = get('X-Amz-Algorithm');
  const credential = get('X-Amz-Credential');
  const amzDate = get('X-Amz-Date');
  const expires = get('X-Amz-Expires');
  const signedHeaderList = get('X-Amz-SignedHeaders');
  const signature = get('X-Amz-Signature');
  if (!algorithm || !credential || !amzDate || !expires || !signedHeaderList || !signature) {
    throw malformedQuery(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (algorithm !== ALGORITHM) throw malformedQuery('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const scope = parseCredential(credential, (m) => malformedQuery(`Error parsing the X-Amz-Credential parameter; ${m}`));
  checkScope(scope, ctx.region, (m) => malformedQuery(`Error parsing the X-Amz-Credential parameter; ${m}`));
  const signedHeaders = parseSignedHeaders(signedHeaderList, malformedQuery);
  const date = parseAmzDate(amzDate);
  if (!date) throw malformedQuery("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  if (scope.date !== amzDate.slice(0, 8)) {
    throw malformedQuery('Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  const expiresS = checkExpires(expires);
  checkPresignWindow(date, expiresS, ctx);

  const parts = signedParts(scope, amzDate, signedHeaders, signature, presignPayloadHash(req, signedHeaders), 'X-Amz-Signature');
  await verifySignature(req, ctx, parts, rawPath, rawQuery);
  refuseUnsignedAmzHeaders(req.headers, signedHeaders, PRESIGNED_EXEMPT);
  const payload: PayloadMode = /^[0-9a-fA-F]{64}$/.test(parts.payloadHash)
    ? { type: 'sha256', expectedHex: parts.payloadHash.toLowerCase() }
    : { type: 'unsigned' };
  return { kind: 'signed', accessKeyId: scope.accessKeyId, payload };
}

function checkExpires(expires: string): number {
  if (!/^\d+$/.test(expires)) throw malformedQuery('X-Amz-Expires should be a number');
  const seconds = Number(expires);
  if (seconds < 1) throw malformedQuery('X-Amz-Expires must be non-negative');
  if (seconds > MAX_PRESIGN_EXPIRES_S) {
    throw malformedQuery('X-Amz-Expires must be less than a week (in seconds) that is 604800');
  }
  return seconds;
}

/** A presigned URL is valid from its date (minus allowed skew) until date + expires. */
function checkPresignWindow(date: Date, expiresS: number, ctx: AuthContext): void {
  const now = ctx.now().getTime();
  if (date.getTime() - now > ctx.maxSkewMs) throw errors.accessDenied('Request is not valid yet');
  if (now > date.getTime() + expiresS * 1000) throw errors.expiredToken();
}

/** Presigned URLs sign UNSIGNED-PAYLOAD unless the client also signed an x-amz-content-sha256 header. */
function presignPayloadHash(req: AuthRequest, signedHeaders: string[]): string {
  const header = headerValue(req.headers, 'x-amz-content-sha256');
  return header !== undefined && signedHeaders.includes('x-amz-content-sha256') ? header.trim() : UNSIGNED_PAYLOAD;
}

// ------------------------------------------------------- unsigned headers

/**
 * Every x-amz-* header changes what a request does (x-amz-copy-source turns a
 * PUT into a copy, x-amz-acl publishes, x-amz-meta-* and SSE-C headers are
 * stored), so one that the signature does not cover would let whoever holds a
 * signed request — a presigned URL handed to a browser — rewrite it. S3
 * refuses them; so do we. The exemptions are S3's: a presigned URL's payload
 * hash header is only honoured when it is signed (presignPayloadHash).
 */
const HEADER_AUTH_EXEMPT = new Set<string>();
const PRESIGNED_EXEMPT = new Set(['x-amz-content-sha256']);

function refuseUnsignedAmzHeaders(headers: AuthRequest['headers'], signedHeaders: string[], exempt: Set<string>): void {
  const signed = new Set(signedHeaders);
  const unsigned = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('x-amz-') && !signed.has(name) && !exempt.has(name));
  if (unsigned.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', 403, {
      HeadersNotSigned: unsigned.sort().join(', '),
    });
  }
}

// ---------------------------------------------------------- signature check

/** Looks the secret up, recomputes the signature and compares in constant time; returns the signing key. */
async function verifySignature(
  req: AuthRequest,
  ctx: AuthContext,
  parts: SignedRequestParts,
  rawPath: string,
  rawQuery: string,
): Promise<Buffer> {
  const secret = await ctx.lookupSecret(parts.accessKeyId);
  if (secret === null) throw errors.invalidAccessKeyId();
  const signingKey = deriveSigningKey(secret, parts.scopeDate, parts.scopeRegion);
  const scope = scopeString(parts.scopeDate, parts.scopeRegion);

  let first: { canonical: string; stringToSign: string } | undefined;
  for (const plusAsSpace of queryReadings(rawQuery)) {
    const canonical = buildCanonicalRequest(req, parts, rawPath, rawQuery, plusAsSpace);
    const stringToSign = [ALGORITHM, parts.amzDate, scope, sha256Hex(canonical)].join('\n');
    const expected = hmac(signingKey, stringToSign).toString('hex');
    if (signaturesEqual(expected, parts.signature)) return signingKey;
    first ??= { canonical, stringToSign };
  }
  throw errors.signatureDoesNotMatch({
    AWSAccessKeyId: parts.accessKeyId,
    StringToSign: first!.stringToSign,
    SignatureProvided: parts.signature,
    CanonicalRequest: first!.canonical,
  });
}

/**
 * A literal '+' in the query is ambiguous: form encoding means a space, RFC 3986
 * means a plus. SDKs never send one, so we accept a signature computed either way.
 */
function queryReadings(rawQuery: string): boolean[] {
  return rawQuery.includes('+') ? [true, false] : [false];
}

function buildCanonicalRequest(
  req: AuthRequest,
  parts: SignedRequestParts,
  rawPath: string,
  rawQuery: string,
  plusAsSpace: boolean,
): string {
  return canonicalRequest({
    method: req.method.toUpperCase(),
    uri: canonicalUri(rawPath),
    query: canonicalQuery(parseQuery(rawQuery, plusAsSpace), parts.excludeParam),
    headers: canonicalHeaders(req.headers, parts.signedHeaders),
    signedHeaders: parts.signedHeaders.join(';'),
    payloadHash: parts.payloadHash,
  });
}
