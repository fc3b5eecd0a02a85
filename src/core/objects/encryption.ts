/**
 * The one place that decides how an object's bytes are encrypted.
 *
 * - Every blob is encrypted at rest under the master key when encryption is
 *   on (Blobs.newDataKey); SSE-S3 (`AES256`) asks for exactly that, so it
 *   is only remembered with the object and echoed.
 * - SSE-C: the body is always encrypted, with a fresh data key that is
 *   sealed to the customer's key (crypto/sse-c.ts) instead of the master
 *   key, and the blob is addressed by the hash of its stored bytes (unique to
 *   this upload: never deduplicated). The object remembers the algorithm and
 *   a salted fingerprint of the key (never the key or its MD5), so a read
 *   without the key, or with another one, is refused before any blob is
 *   touched.
 *
 * The protocol layer parses the request headers into an SseCustomerKey and
 * renders the response headers; everything in between is decided here.
 */
import type { StagedFile } from '../../blobs/index.js';
import { generateDataKey } from '../../crypto/framed.js';
import { customerKeyMatches, sealDataKeyForCustomer, sseCustomerErrors, type SseCustomerKey } from '../../crypto/sse-c.js';
import { fail } from '../../errors.js';
import type { ObjectAttributes } from '../../meta/objects/types.js';
import type { CoreContext } from '../context.js';

/** Stored headers (and their wire names) that record an object's encryption. */
export const SSE_HEADER = 'x-amz-server-side-encryption';
export const SSE_C_ALGORITHM = 'x-amz-server-side-encryption-customer-algorithm';
/** Stored with an SSE-C object (never sent): a sealed record whose salted fingerprint identifies the key. */
export const SSE_C_FINGERPRINT = 'x-anvil-sse-c-fingerprint';

/** The encryption a write asks for (PutObject, CreateMultipartUpload, CopyObject's destination). */
export interface EncryptionRequest {
  /** SSE-S3 was asked for. */
  s3: boolean;
  customer?: SseCustomerKey;
}

/** How a body being staged is encrypted: the data key, and whether its stored bytes are its address. */
export function stagingEncryption(
  ctx: CoreContext,
  customerKey: SseCustomerKey | undefined,
): { dataKey?: Buffer; addressByStoredBytes: boolean } {
  if (customerKey) return { dataKey: generateDataKey(), addressByStoredBytes: true };
  return { dataKey: ctx.blobs.newDataKey(), addressByStoredBytes: false };
}

/**
 * The address and sealed data key a staged body is committed under: its
 * plaintext hash (shared with identical bodies), or for SSE-C the hash of
 * its stored bytes and its data key sealed to the customer key. (An empty
 * body has no bytes to encrypt.)
 */
export function commitEncryption(
  staged: StagedFile,
  plainHash: string,
  customerKey: SseCustomerKey | undefined,
): { hash: string; sealed?: string } {
  if (!customerKey || staged.size === 0) return { hash: plainHash };
  return { hash: staged.storedHash!, sealed: sealDataKeyForCustomer(staged.dataKey!, customerKey) };
}

export function isSseC(headers: Record<string, string>): boolean {
  return headers[SSE_C_ALGORITHM] !== undefined;
}

/** Records the requested encryption in the attributes stored with the object (or upload). */
export function rememberEncryption(attributes: ObjectAttributes, req: EncryptionRequest): void {
  if (req.s3) attributes.headers[SSE_HEADER] = 'AES256';
  if (req.customer) {
    attributes.headers[SSE_C_ALGORITHM] = 'AES256';
    attributes.headers[SSE_C_FINGERPRINT] = sealDataKeyForCustomer(generateDataKey(), req.customer);
  }
}

/**
 * The customer key a read of an object stored with `headers` must use:
 * required (400) for an SSE-C object and checked against its fingerprint
 * (403), refused (400) for any other object.
 */
export function customerKeyForRead(headers: Record<string, string>, presented: SseCustomerKey | undefined): SseCustomerKey | undefined {
  if (!isSseC(headers)) {
    if (presented) throw sseCustomerErrors.notApplicable();
    return undefined;
  }
  if (!presented) throw sseCustomerErrors.keyRequired();
  const fingerprint = headers[SSE_C_FINGERPRINT];
  if (!fingerprint || !customerKeyMatches(fingerprint, presented)) throw sseCustomerErrors.wrongKey();
  return presented;
}

/**
 * A copy shares the source's blobs, so it keeps the source's encryption:
 * SSE-C blobs stay sealed to the same customer key. Refused (501) unless
 * source and destination are both plain or both SSE-C with the same key.
 */
export function checkCopyEncryption(
  sourceHeaders: Record<string, string>,
  sourceKey: SseCustomerKey | undefined,
  dest: EncryptionRequest,
): void {
  const fingerprint = sourceHeaders[SSE_C_FINGERPRINT];
  const sameKey =
    sourceKey !== undefined && dest.customer !== undefined && fingerprint !== undefined && customerKeyMatches(fingerprint, dest.customer);
  if ((sourceKey || dest.customer) && !sameKey) {
    throw fail.notImplemented(
      'CopyObject between different server-side encryption keys is not implemented (copy with UploadPartCopy, or use the same customer key for source and destination)',
    );
  }
}

/** The encryption headers a copy stores: the source's SSE-C record, SSE-S3 if the request asks for it. */
export function copyEncryptionHeaders(
  headers: Record<string, string>,
  sourceHeaders: Record<string, string>,
  dest: EncryptionRequest,
): void {
  delete headers[SSE_HEADER];
  delete headers[SSE_C_ALGORITHM];
  delete headers[SSE_C_FINGERPRINT];
  if (isSseC(sourceHeaders)) {
    headers[SSE_C_ALGORITHM] = sourceHeaders[SSE_C_ALGORITHM];
    headers[SSE_C_FINGERPRINT] = sourceHeaders[SSE_C_FINGERPRINT];
  }
  if (dest.s3) headers[SSE_HEADER] = 'AES256';
}

/** Headers of an object as stored, without the ones that are never sent. */
export function visibleStoredHeaders(v: { headers: Record<string, string> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v.headers)) if (name !== SSE_C_FINGERPRINT) out[name] = value;
  return out;
}
