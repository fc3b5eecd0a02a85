/**
 * Server-side encryption headers.
 *
 * - SSE-S3 (`x-amz-server-side-encryption: AES256`): every blob is already
 *   encrypted at rest under the master key when encryption is on, so the
 *   header is accepted, remembered with the object and echoed. KMS variants
 *   are not implemented (501).
 * - SSE-C (`x-amz-server-side-encryption-customer-*`): the object's blobs
 *   get data keys sealed to the customer's key (crypto/sse-c.ts); the object
 *   remembers the algorithm and a salted fingerprint of the key (never the
 *   key or its MD5), so a read without the key, or with another one, is
 *   refused before any blob is touched.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ObjectAttributes, ObjectVersion } from '../../core/objects.js';
import { generateDataKey } from '../../crypto/framed.js';
import {
  customerKeyMatches,
  parseSseCustomerHeaders,
  sealDataKeyForCustomer,
  sseCustomerErrors,
  SseCustomerError,
  type SseCustomerKey,
} from '../../crypto/sse-c.js';
import { errors, S3Error } from '../errors.js';

export const SSE_HEADER = 'x-amz-server-side-encryption';
export const SSE_C_ALGORITHM = 'x-amz-server-side-encryption-customer-algorithm';
export const SSE_C_KEY_MD5 = 'x-amz-server-side-encryption-customer-key-md5';
/** Stored with an SSE-C object (never sent): a sealed record whose salted fingerprint identifies the key. */
export const SSE_C_FINGERPRINT = 'x-anvil-sse-c-fingerprint';

export interface SseRequest {
  /** SSE-S3 was asked for. */
  s3: boolean;
  customer?: SseCustomerKey;
}

function rethrow(err: unknown): never {
  if (err instanceof SseCustomerError) throw new S3Error(err.code, err.message, err.status, err.extra);
  throw err;
}

/** The encryption a write asks for (PutObject, CreateMultipartUpload, CopyObject's destination). */
export function sseFromRequest(h: IncomingHttpHeaders): SseRequest {
  let customer: SseCustomerKey | undefined;
  try {
    customer = parseSseCustomerHeaders(h);
  } catch (err) {
    rethrow(err);
  }
  const value = h[SSE_HEADER];
  const sse = Array.isArray(value) ? value.join(',') : value;
  if (sse !== undefined && sse !== 'AES256') {
    if (sse === 'aws:kms' || sse === 'aws:kms:dsse') throw errors.notImplemented('Server-side encryption with AWS KMS keys is not implemented; use AES256');
    throw errors.invalidArgument('The encryption method specified is not supported', SSE_HEADER, sse);
  }
  return { s3: sse === 'AES256', customer };
}

/** Records the requested encryption in the attributes stored with the object (or upload). */
export function rememberSse(attributes: ObjectAttributes, sse: SseRequest): void {
  if (sse.s3) attributes.headers[SSE_HEADER] = 'AES256';
  if (sse.customer) {
    attributes.headers[SSE_C_ALGORITHM] = 'AES256';
    attributes.headers[SSE_C_FINGERPRINT] = sealDataKeyForCustomer(generateDataKey(), sse.customer);
  }
}

export function isSseC(headers: Record<string, string>): boolean {
  return headers[SSE_C_ALGORITHM] !== undefined;
}

/**
 * The customer key a read of `headers`' object must use: required (400) for
 * an SSE-C object and checked against its fingerprint (403), refused (400)
 * for any other object. `copySource` reads the x-amz-copy-source-… headers.
 */
export function customerKeyFor(h: IncomingHttpHeaders, headers: Record<string, string>, opts: { copySource?: boolean } = {}): SseCustomerKey | undefined {
  let customer: SseCustomerKey | undefined;
  try {
    customer = parseSseCustomerHeaders(h, opts);
    if (!isSseC(headers)) {
      if (customer) throw sseCustomerErrors.notApplicable();
      return undefined;
    }
    if (!customer) throw sseCustomerErrors.keyRequired();
    const fingerprint = headers[SSE_C_FINGERPRINT];
    if (!fingerprint || !customerKeyMatches(fingerprint, customer)) throw sseCustomerErrors.wrongKey();
  } catch (err) {
    rethrow(err);
  }
  return customer;
}

/** Response headers that describe an object's encryption (PUT echoes the request's key MD5; GET/HEAD the reader's). */
export function sseResponseHeaders(headers: Record<string, string>, customer?: SseCustomerKey): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers[SSE_HEADER]) out[SSE_HEADER] = headers[SSE_HEADER];
  if (isSseC(headers)) {
    out[SSE_C_ALGORITHM] = 'AES256';
    if (customer) out[SSE_C_KEY_MD5] = customer.keyMd5;
  }
  return out;
}

/** Headers of an object as stored, without the ones that are never sent. */
export function visibleStoredHeaders(v: Pick<ObjectVersion, 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v.headers)) if (name !== SSE_C_FINGERPRINT) out[name] = value;
  return out;
}
