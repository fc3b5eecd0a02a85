/**
 * Data keys wrapped by the master key. Each blob has its own random 256-bit
 * data key (generateDataKey); the blob row stores the wrapped key and the id
 * of the master key that wrapped it, so `anvil admin rotate-master-key` can
 * re-wrap keys (rewrapDataKey) without touching any blob's bytes.
 *
 * Wrapping reuses MasterKeyring.encrypt/decrypt (AES-256-GCM, random IV,
 * base64(iv | tag | ct)), which brings the keyring's behaviour for free:
 * decrypt finds previous keys by id and re-reads the key files when another
 * node has rotated. The wrapped plaintext is "dk1:" + base64(key), so a value
 * that is not a data key (say, an encrypted access-key secret copied into a
 * blob row) is refused rather than used as one.
 *
 * Limitation: the keyring's encryption takes no associated data, so data-key
 * wraps and access-key secrets share one master key without cryptographic
 * domain separation. A `MasterKeyring.keyFor(id): MasterKey` (with the same
 * reload) would let this module wrap with its own AAD; see the report.
 */
import { DATA_KEY_BYTES } from './framed.js';
import type { MasterKeyring } from './master-keys.js';

const WRAP_PREFIX = 'dk1:';

export interface WrappedDataKey {
  /** What the blob row stores (base64 text). */
  wrapped: string;
  /** The master key that wrapped it (MasterKey.id). */
  masterKeyId: string;
}

/** A wrapped key that cannot be unwrapped: unknown master key, altered row, or not a data key. */
export class DataKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataKeyError';
  }
}

export function wrapDataKey(ring: MasterKeyring, key: Buffer): WrappedDataKey {
  if (!Buffer.isBuffer(key) || key.length !== DATA_KEY_BYTES) throw new DataKeyError(`data key must be ${DATA_KEY_BYTES} bytes`);
  const { ciphertext, keyId } = ring.encrypt(WRAP_PREFIX + key.toString('base64'));
  return { wrapped: ciphertext, masterKeyId: keyId };
}

export function unwrapDataKey(ring: MasterKeyring, wrapped: string, masterKeyId: string): Buffer {
  let text: string;
  try {
    text = ring.decrypt(wrapped, masterKeyId);
  } catch (err) {
    const why = err instanceof Error && /master key/.test(err.message) ? err.message : 'it does not authenticate';
    throw new DataKeyError(`cannot unwrap data key with master key ${masterKeyId}: ${why}`);
  }
  const key = text.startsWith(WRAP_PREFIX) ? Buffer.from(text.slice(WRAP_PREFIX.length), 'base64') : undefined;
  if (!key || key.length !== DATA_KEY_BYTES || key.toString('base64') !== text.slice(WRAP_PREFIX.length)) {
    throw new DataKeyError('wrapped value is not a data key');
  }
  return key;
}

/** True when the row's key was wrapped by a master key other than the primary. */
export function needsRewrap(ring: MasterKeyring, masterKeyId: string): boolean {
  return masterKeyId !== ring.primary.id;
}

/**
 * Rotation: unwraps with the key the row names and wraps with the primary.
 * A row already under the primary comes back unchanged (so a re-run of the
 * rotation is a no-op for it).
 */
export function rewrapDataKey(ring: MasterKeyring, wrapped: string, masterKeyId: string): WrappedDataKey {
  const key = unwrapDataKey(ring, wrapped, masterKeyId);
  try {
    if (!needsRewrap(ring, masterKeyId)) return { wrapped, masterKeyId };
    return wrapDataKey(ring, key);
  } finally {
    key.fill(0);
  }
}
