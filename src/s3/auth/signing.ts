/** The cryptographic primitives of SigV4 (shared by header, presigned, chunk and POST-policy signatures). */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export function signaturesEqual(expectedHex: string, providedHex: string): boolean {
  const provided = providedHex.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(provided)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(provided, 'hex'));
}

export function scopeString(date: string, region: string): string {
  return `${date}/${region}/s3/aws4_request`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

// ------------------------------------------------------- signing key cache

/**
 * Derived keys cached per (secret, date, region). The map is keyed by a hash
 * of the secret, not the key id, so a rotated or deleted key's entry can never
 * be found again; entries age out in insertion order.
 */
const SIGNING_KEY_CACHE_MAX = 256;
const signingKeyCache = new Map<string, Buffer>();

export function deriveSigningKey(secret: string, date: string, region: string): Buffer {
  const cacheKey = `${sha256Hex(secret)}/${date}/${region}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached) return cached;
  const kDate = hmac(`AWS4${secret}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, 's3');
  const key = hmac(kService, 'aws4_request');
  if (signingKeyCache.size >= SIGNING_KEY_CACHE_MAX) {
    signingKeyCache.delete(signingKeyCache.keys().next().value as string);
  }
  signingKeyCache.set(cacheKey, key);
  return key;
}
