/**
 * Server-side encryption headers: parsed here, decided in core
 * (core/objects/encryption.ts), echoed here.
 *
 * - SSE-S3 (`x-amz-server-side-encryption: AES256`) is accepted (KMS
 *   variants are not implemented: 501).
 * - SSE-C (`x-amz-server-side-encryption-customer-*`) yields the customer key
 *   (crypto/sse-c.ts validates the three headers as S3 does).
 */
import type { IncomingHttpHeaders } from 'node:http';

import { customerKeyForRead, type EncryptionRequest, isSseC, SSE_C_ALGORITHM, SSE_HEADER } from '../../core/objects/encryption.js';
import { parseSseCustomerHeaders, type SseCustomerKey } from '../../crypto/sse-c.js';
import { errors } from '../errors.js';

export const SSE_C_KEY_MD5 = 'x-amz-server-side-encryption-customer-key-md5';

export type SseRequest = EncryptionRequest;

/** The encryption a write asks for (PutObject, CreateMultipartUpload, CopyObject's destination). */
export function sseFromRequest(h: IncomingHttpHeaders): SseRequest {
  const customer = parseSseCustomerHeaders(h);
  const value = h[SSE_HEADER];
  const sse = Array.isArray(value) ? value.join(',') : value;
  if (sse !== undefined && sse !== 'AES256') {
    if (sse === 'aws:kms' || sse === 'aws:kms:dsse')
      throw errors.notImplemented('Server-side encryption with AWS KMS keys is not implemented; use AES256');
    throw errors.invalidArgument('The encryption method specified is not supported', SSE_HEADER, sse);
  }
  return { s3: sse === 'AES256', customer };
}

/**
 * The customer key a read of the object stored with `headers` uses, from
 * the request's SSE-C headers (`copySource`: the x-amz-copy-source-…
 * ones); core decides whether it fits the object.
 */
export function customerKeyFor(
  h: IncomingHttpHeaders,
  headers: Record<string, string>,
  opts: { copySource?: boolean } = {},
): SseCustomerKey | undefined {
  return customerKeyForRead(headers, parseSseCustomerHeaders(h, opts));
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
