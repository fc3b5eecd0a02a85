/**
 * Verify-on-read of whole blobs. A blob is addressed by the BLAKE3 of its
 * plaintext, so a read of all of it can be checked as it streams: every
 * chunk is hashed before it is passed on, and the chunk that completes the
 * blob is passed on only once the hash matches its address. A corrupt blob
 * therefore ends its read with an error before its last bytes leave: the
 * client sees a short, aborted response, never a complete wrong one.
 */
import { Blake3Hasher } from '@napi-rs/blake-hash';

export class BlobCorruptError extends Error {
  constructor(
    readonly hash: string,
    message = `blob ${hash} does not match its hash`,
  ) {
    super(message);
    this.name = 'BlobCorruptError';
  }
}

/** Hashes a whole blob's plaintext, in order, and checks it once the last byte is in. */
export class WholeBlobCheck {
  private hasher = new Blake3Hasher();
  private seen = 0;

  constructor(
    readonly hash: string,
    readonly size: number,
  ) {}

  /**
   * Takes the next chunk; throws BlobCorruptError if the bytes so far are
   * more than the blob holds, or if this chunk completes the blob and the
   * hash does not match (then the chunk must not be sent).
   */
  update(chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.seen > this.size) throw new BlobCorruptError(this.hash, `blob ${this.hash} read past its ${this.size} bytes`);
    this.hasher.update(chunk);
    if (this.seen === this.size && this.hasher.digest('hex') !== this.hash) throw new BlobCorruptError(this.hash);
  }

  /** Starts over (the read restarts from the blob's first byte on another replica). */
  reset(): void {
    this.hasher = new Blake3Hasher();
    this.seen = 0;
  }
}

/** Checks a whole blob's bytes at once (reads small enough to be fetched whole). */
export function checkWholeBlob(hash: string, bytes: Buffer): void {
  if (new Blake3Hasher().update(bytes).digest('hex') !== hash) throw new BlobCorruptError(hash);
}
