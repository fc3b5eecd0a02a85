/**
 * Data keys, decided in one place. A blob written with encryption at rest
 * on gets its own random data key; the staged file already holds
 * ciphertext, so replicas copy stored bytes as they are. The data key,
 * wrapped by the master key, lives in the blob row. An SSE-C blob's key is
 * sealed to the customer's key instead (SSE_C_KEY_ID) and opens only with
 * it.
 */
import { generateDataKey } from '../crypto/framed.js';
import { unwrapDataKey, wrapDataKey, type WrappedDataKey } from '../crypto/keys.js';
import { openDataKeyForCustomer, SseCustomerError, type SseCustomerKey } from '../crypto/sse-c.js';
import { AnvilError, fail } from '../errors.js';
import { SSE_C_KEY_ID } from './address.js';

/** The master keyring (core/secrets.ts), as the key wrapping in crypto/keys.ts takes it. */
export type Keyring = Parameters<typeof wrapDataKey>[0];

export class DataKeys {
  constructor(
    private readonly keyring: Keyring,
    /** Encryption at rest of new blobs (config encryptAtRest). */
    readonly encrypt: boolean,
  ) {}

  /** A fresh data key for a body about to be staged, when encryption at rest is on. */
  newDataKey(): Buffer | undefined {
    return this.encrypt ? generateDataKey() : undefined;
  }

  wrap(key: Buffer): WrappedDataKey {
    return wrapDataKey(this.keyring, key);
  }

  /**
   * The data key a read of this blob decrypts with (undefined: plaintext).
   * An SSE-C blob needs the customer's key: without it the read is refused.
   */
  open(blob: { encKey: string | null; encMasterKeyId: string | null }, customer?: SseCustomerKey): Buffer | undefined {
    if (!blob.encKey) return undefined;
    if (blob.encMasterKeyId === SSE_C_KEY_ID) {
      if (!customer) {
        throw fail.invalid(
          'InvalidRequest',
          'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
        );
      }
      try {
        return openDataKeyForCustomer(blob.encKey, customer);
      } catch (err) {
        if (err instanceof SseCustomerError) throw sseCustomerFailure(err);
        throw err;
      }
    }
    return unwrapDataKey(this.keyring, blob.encKey, blob.encMasterKeyId!);
  }

  /** The data key of a blob encrypted under the master key (undefined: plain, or SSE-C). */
  forScrub(blob: { encKey: string | null; encMasterKeyId: string | null }): Buffer | undefined {
    return blob.encMasterKeyId === SSE_C_KEY_ID ? undefined : this.open(blob);
  }
}

/** An SSE-C refusal as a domain error: the same S3 code as reason (403 AccessDenied for a wrong key, else 400). */
function sseCustomerFailure(err: SseCustomerError): AnvilError {
  return new AnvilError(err.status === 403 ? 'Forbidden' : 'Invalid', err.code, err.message, err.extra);
}
