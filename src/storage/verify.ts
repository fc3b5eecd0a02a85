/**
 * Verify-on-read: passes a whole blob's bytes through while hashing them
 * with BLAKE3, and holds the last chunk back until the hash is known. A blob
 * whose bytes do not match its address ends the stream with an error before
 * its final bytes are sent, so the client sees a failed (short) response,
 * never a complete wrong one.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Blake3Hasher } from '@napi-rs/blake-hash';

export class BlobCorruptError extends Error {
  constructor(readonly hash: string) {
    super(`blob ${hash} failed verification`);
  }
}

export class VerifyingStream extends Transform {
  private readonly hasher = new Blake3Hasher();
  private held: Buffer | undefined;

  constructor(private readonly expected: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hasher.update(chunk);
    if (this.held) this.push(this.held);
    this.held = chunk;
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.hasher.digest('hex') !== this.expected) {
      done(new BlobCorruptError(this.expected));
      return;
    }
    if (this.held) this.push(this.held);
    done();
  }
}
