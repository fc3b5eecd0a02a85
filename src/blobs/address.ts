/**
 * How a blob is named. A blob row (tenant, hash, file_id) names one
 * locator, `<tenant>/<h2>/<h2>/<hash>.<fileId>`, identical on every
 * backend; the blob_locations rows say which backends hold it and whether
 * each replica is good (LOCATION_OK) or to be repaired (LOCATION_BAD).
 */
import { encryptedSize } from '../crypto/framed.js';

export { LOCATION_BAD, LOCATION_OK, type StoredBlob } from '../meta/blobs/index.js';

/**
 * blobs.enc_master_key_id of an SSE-C blob: its data key is sealed to the
 * customer's key (crypto/sse-c.ts), and its address is the BLAKE3 of its
 * stored bytes, so the scrub can check it without that key.
 */
export const SSE_C_KEY_ID = 'sse-c';

export interface BlobAddress {
  tenantId: string;
  hash: string;
  fileId: string;
}

export function locatorOf(a: BlobAddress): string {
  return `${a.tenantId}/${a.hash.slice(0, 2)}/${a.hash.slice(2, 4)}/${a.hash}.${a.fileId}`;
}

/** The blob a locator names (the inverse of locatorOf); undefined for names that are not ours. */
export function parseLocator(locator: string): BlobAddress | undefined {
  const m = /^([^/]+)\/[0-9a-f]{2}\/[0-9a-f]{2}\/([0-9a-f]{64})\.([A-Za-z0-9_-]+)$/.exec(locator);
  return m ? { tenantId: m[1], hash: m[2], fileId: m[3] } : undefined;
}

/** Bytes of a stored blob (ciphertext size when encrypted). */
export function storedSizeOf(blob: { size: number; encKey: string | null }): number {
  return blob.encKey ? encryptedSize(blob.size) : blob.size;
}

/** Stored bytes and replica counts by which backends' usage moves (see Accounting.account). */
export type UsageMoves = Map<string, { bytes: number; count: number }>;

/** Adds bytes and count to the moves of each backend. */
export function addMove(moves: UsageMoves, backends: string[], bytes: number, count: number): UsageMoves {
  for (const b of backends) {
    const m = moves.get(b) ?? { bytes: 0, count: 0 };
    m.bytes += bytes;
    m.count += count;
    moves.set(b, m);
  }
  return moves;
}
