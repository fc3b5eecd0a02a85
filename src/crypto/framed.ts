/**
 * Why one file of ~470 lines: it is the whole specification of a storage
 * format (layout, writer, reader, range reads); splitting it would scatter
 * the bytes on disk over several files.
 *
 * Anvil's encrypted blob format ("ANVE", version 1): AES-256-GCM in fixed
 * frames, so a range read decrypts only the frames it needs and any change to
 * the stored bytes is detected.
 *
 * This is our storage format, so it is hand-written on purpose on node:crypto
 * alone: every byte on disk is specified here and nowhere else, and no
 * dependency upgrade can change what we can read back.
 *
 * Byte layout (all integers big-endian):
 *
 *   header   12 bytes   "ANVE" | version 0x01 | 0x00 0x00 0x00 | frame size u32 (65536)
 *   frame 0  nonce(12) | ciphertext(n0) | tag(16)
 *   frame 1  nonce(12) | ciphertext(n1) | tag(16)
 *   ...
 *
 * Every frame but the last holds exactly FRAME_PLAINTEXT (64 KiB) of
 * plaintext; the last holds 1..64 KiB, or 0 bytes for an empty blob, which
 * still has one authenticated (empty) final frame, so cutting a blob down to
 * its header (or to nothing) is detected. A blob of n plaintext bytes has
 * max(1, ceil(n / 64 Ki)) frames and encryptedSize(n) bytes.
 *
 * Each frame's AAD is  header(12) | frame index u64 | final flag (1 byte),
 * computed by the reader from the frame's *position* and the blob's known
 * plaintext size (from the blob row), never read from the frame. Hence:
 *  - reorder (frames swapped): a frame authenticates only at its own index;
 *  - truncation at a frame boundary: the new last frame was sealed with
 *    final = 0 and fails when the reader expects final = 1 (and the byte
 *    count no longer matches plainSize either);
 *  - extension: the old last frame was sealed with final = 1 and fails at a
 *    non-final position; surplus bytes after the expected end are an error;
 *  - splicing between blobs: every blob has its own random data key, so a
 *    frame from another blob does not authenticate. The data key *is* the
 *    blob's identity: never encrypt two blobs with one data key (rotation
 *    re-wraps keys, it never re-encrypts data with an old key).
 *  - header: bound into every frame's AAD and, on reads that start in frame
 *    0, compared byte for byte. Reads starting later skip it: the header is a
 *    constant of the format version, so it carries nothing those reads need.
 *
 * Why the header pays for 12 bytes: it lets any tool (scrub, migration from
 * plaintext blobs, a human with a hex dump) tell an encrypted blob from a
 * plain one and which format version wrote it, and the version byte leaves
 * room for another frame size or cipher later (which the blob row would then
 * record, since a range read computes offsets before reading anything).
 *
 * Nonces: random 96-bit, one per frame. A nonce repeat under one key breaks
 * GCM, so what matters is the number of frames per key. Keys are per blob and
 * a blob has at most 2^32 frames (enforced: 256 TiB, far beyond S3's 5 TiB
 * object limit), which is NIST SP 800-38D's bound for random IVs. The
 * collision probability for q frames is about q^2 / 2^97: for a 5 TiB object
 * (2^26.3 frames) that is ~2^-44. Per-key data volume stays far below GCM's
 * limits (2^39 - 256 bits per message; here 2^19 bits per frame).
 *
 * Decryption never emits a byte of a frame before that frame's tag has been
 * verified (the whole frame is buffered, verified, then pushed), and holds
 * the last frame of a read until the input has ended, so surplus input fails
 * the read before its end is delivered.
 */
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const FORMAT_VERSION = 1;
export const FRAME_PLAINTEXT = 65536;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const FRAME_OVERHEAD = NONCE_BYTES + TAG_BYTES;
export const FRAME_CIPHERTEXT = FRAME_PLAINTEXT + FRAME_OVERHEAD;
export const HEADER_BYTES = 12;
export const DATA_KEY_BYTES = 32;
/** Random-nonce bound per key (NIST SP 800-38D); a blob never has more frames. */
export const MAX_FRAMES = 2 ** 32;

const MAGIC = Buffer.from('ANVE', 'ascii');
const HEADER: Buffer = (() => {
  const h = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(h, 0);
  h[4] = FORMAT_VERSION;
  h.writeUInt32BE(FRAME_PLAINTEXT, 8);
  return h;
})();
const AAD_BYTES = HEADER_BYTES + 8 + 1;

/** The 12-byte header of a version-1 blob (a copy). */
export function formatHeader(): Buffer {
  return Buffer.from(HEADER);
}

/** True when bytes start with the encrypted-blob magic (any version). */
export function looksEncrypted(bytes: Buffer): boolean {
  return bytes.length >= MAGIC.length && bytes.subarray(0, MAGIC.length).equals(MAGIC);
}

export type FramedErrorReason = 'header' | 'auth' | 'truncated' | 'trailing' | 'range' | 'key' | 'too-large';

/**
 * A stored blob that does not decrypt: wrong key, tampered or corrupted
 * bytes, or a short/long read. Like BlobCorruptError, the caller treats the
 * replica as bad (try another one; never send the bytes as good).
 */
export class FramedCryptoError extends Error {
  constructor(
    readonly reason: FramedErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'FramedCryptoError';
  }
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== DATA_KEY_BYTES) {
    throw new FramedCryptoError('key', `data key must be ${DATA_KEY_BYTES} bytes`);
  }
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new FramedCryptoError('range', `${what} must be a non-negative integer, got ${n}`);
}

/** Number of frames of a blob of plainSize bytes (an empty blob has one, empty, final frame). */
export function frameCount(plainSize: number): number {
  checkSize(plainSize, 'plainSize');
  return Math.max(1, Math.ceil(plainSize / FRAME_PLAINTEXT));
}

/** Plaintext bytes in frame `index` of a blob of plainSize bytes. */
function framePlainLength(index: number, plainSize: number): number {
  return Math.min(FRAME_PLAINTEXT, plainSize - index * FRAME_PLAINTEXT);
}

/** Stored (ciphertext) size of a blob of plainSize plaintext bytes. */
export function encryptedSize(plainSize: number): number {
  return HEADER_BYTES + frameCount(plainSize) * FRAME_OVERHEAD + plainSize;
}

/** Inverse of encryptedSize; throws if no plaintext size maps to cipherSize. */
export function plainSizeFor(cipherSize: number): number {
  checkSize(cipherSize, 'cipherSize');
  const body = cipherSize - HEADER_BYTES;
  if (body < FRAME_OVERHEAD) throw new FramedCryptoError('truncated', `${cipherSize} bytes is too short for an encrypted blob`);
  const full = Math.floor(body / FRAME_CIPHERTEXT);
  const rest = body - full * FRAME_CIPHERTEXT;
  let plain: number;
  if (rest === 0) plain = full * FRAME_PLAINTEXT;
  else if (rest > FRAME_OVERHEAD) plain = full * FRAME_PLAINTEXT + rest - FRAME_OVERHEAD;
  else if (rest === FRAME_OVERHEAD && full === 0) plain = 0;
  else throw new FramedCryptoError('truncated', `${cipherSize} bytes is not the size of an encrypted blob`);
  return plain;
}

export interface FrameRange {
  /** First ciphertext byte to read (0 when the range starts in frame 0: the header is read and checked too). */
  cipherStart: number;
  /** Last ciphertext byte to read, INCLUSIVE (like plainEnd, HTTP Range and fs.createReadStream's `end`). */
  cipherEnd: number;
  /** cipherEnd - cipherStart + 1 */
  cipherLength: number;
  firstFrame: number;
  lastFrame: number;
  /** Plaintext bytes of firstFrame before plainStart, dropped after decryption. */
  skipBytes: number;
  /** Whether [cipherStart, cipherEnd] begins with the header (exactly when firstFrame is 0). */
  includesHeader: boolean;
}

/**
 * The ciphertext bytes a backend must read to return plaintext
 * [plainStart, plainEnd] (inclusive) of a blob of plainSize bytes. For an
 * empty blob the only range is (0, -1): the whole stored blob.
 */
export function frameRangeFor(plainStart: number, plainEnd: number, plainSize: number): FrameRange {
  checkSize(plainSize, 'plainSize');
  if (!Number.isSafeInteger(plainStart) || !Number.isSafeInteger(plainEnd)) {
    throw new FramedCryptoError('range', `range bounds must be integers, got ${plainStart}-${plainEnd}`);
  }
  const empty = plainSize === 0 && plainStart === 0 && plainEnd === -1;
  if (!empty && (plainStart < 0 || plainEnd < plainStart || plainEnd >= plainSize)) {
    throw new FramedCryptoError('range', `range ${plainStart}-${plainEnd} is not within a blob of ${plainSize} bytes`);
  }
  const firstFrame = Math.floor(plainStart / FRAME_PLAINTEXT);
  const lastFrame = empty ? 0 : Math.floor(plainEnd / FRAME_PLAINTEXT);
  const includesHeader = firstFrame === 0;
  const cipherStart = includesHeader ? 0 : HEADER_BYTES + firstFrame * FRAME_CIPHERTEXT;
  const cipherEnd = HEADER_BYTES + lastFrame * FRAME_CIPHERTEXT + FRAME_OVERHEAD + framePlainLength(lastFrame, plainSize) - 1;
  return {
    cipherStart,
    cipherEnd,
    cipherLength: cipherEnd - cipherStart + 1,
    firstFrame,
    lastFrame,
    skipBytes: plainStart - firstFrame * FRAME_PLAINTEXT,
    includesHeader,
  };
}

function frameAad(index: number, final: boolean): Buffer {
  const aad = Buffer.allocUnsafe(AAD_BYTES);
  HEADER.copy(aad, 0);
  aad.writeUInt32BE(Math.floor(index / 2 ** 32), HEADER_BYTES);
  aad.writeUInt32BE(index >>> 0, HEADER_BYTES + 4);
  aad[HEADER_BYTES + 8] = final ? 1 : 0;
  return aad;
}

/** Seals one frame: nonce | ciphertext | tag, in one new buffer. */
function sealFrame(key: Buffer, index: number, final: boolean, plain: Buffer): Buffer {
  if (index >= MAX_FRAMES) throw new FramedCryptoError('too-large', `a blob may not exceed ${MAX_FRAMES} frames`);
  const out = Buffer.allocUnsafe(NONCE_BYTES + plain.length + TAG_BYTES);
  crypto.randomFillSync(out, 0, NONCE_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, out.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  cipher.setAAD(frameAad(index, final));
  const body = cipher.update(plain);
  const tail = cipher.final(); // empty for GCM, kept for form
  body.copy(out, NONCE_BYTES);
  tail.copy(out, NONCE_BYTES + body.length);
  cipher.getAuthTag().copy(out, NONCE_BYTES + plain.length);
  return out;
}

/** Opens one frame (nonce | ciphertext | tag); throws FramedCryptoError('auth') unless it verifies at (index, final). */
function openFrame(key: Buffer, index: number, final: boolean, frame: Buffer): Buffer {
  const ctLength = frame.length - FRAME_OVERHEAD;
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, frame.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(frameAad(index, final));
  decipher.setAuthTag(frame.subarray(NONCE_BYTES + ctLength));
  const body = decipher.update(frame.subarray(NONCE_BYTES, NONCE_BYTES + ctLength));
  try {
    decipher.final();
  } catch {
    body.fill(0);
    throw new FramedCryptoError(
      'auth',
      `frame ${index} failed authentication (wrong key, or the stored bytes were altered, reordered, truncated or extended)`,
    );
  }
  return body;
}

/**
 * Plaintext in, framed ciphertext out (header first). Holds at most one frame
 * of plaintext: a full frame is sealed only once the next byte arrives (so it
 * is known not to be the last); the final frame is sealed at end of input.
 */
export function createEncryptStream(dataKey: Buffer): Transform {
  checkKey(dataKey);
  const key = Buffer.from(dataKey); // the caller may zero its copy
  const frame = Buffer.allocUnsafe(FRAME_PLAINTEXT);
  let filled = 0;
  let index = 0;
  let headerSent = false;
  const sendHeader = (t: Transform): void => {
    if (!headerSent) {
      headerSent = true;
      t.push(Buffer.from(HEADER));
    }
  };
  return new Transform({
    transform(this: Transform, chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      try {
        sendHeader(this);
        let pos = 0;
        while (pos < chunk.length) {
          if (filled === FRAME_PLAINTEXT) {
            this.push(sealFrame(key, index, false, frame));
            index += 1;
            filled = 0;
          }
          const n = Math.min(FRAME_PLAINTEXT - filled, chunk.length - pos);
          chunk.copy(frame, filled, pos, pos + n);
          filled += n;
          pos += n;
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(this: Transform, done: TransformCallback): void {
      try {
        sendHeader(this);
        this.push(sealFrame(key, index, true, frame.subarray(0, filled)));
        frame.fill(0);
        key.fill(0);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    destroy(err: Error | null, done: (error: Error | null) => void): void {
      frame.fill(0);
      key.fill(0);
      done(err);
    },
  });
}

export interface DecryptOptions {
  /** The blob's plaintext size (from the blob row, never from the stored bytes). */
  plainSize: number;
  /** First plaintext byte wanted; default 0. */
  plainStart?: number;
  /** Last plaintext byte wanted, INCLUSIVE; default plainSize - 1. */
  plainEnd?: number;
}

/**
 * Takes exactly the ciphertext bytes frameRangeFor(plainStart, plainEnd,
 * plainSize) names, outputs exactly plaintext[plainStart..plainEnd]. Fails
 * the stream with FramedCryptoError on a bad header, a frame that does not
 * authenticate at its position, or an input shorter or longer than the range.
 */
export function createDecryptStream(dataKey: Buffer, opts: DecryptOptions): Transform {
  checkKey(dataKey);
  const key = Buffer.from(dataKey);
  const { plainSize } = opts;
  checkSize(plainSize, 'plainSize');
  const plainStart = opts.plainStart ?? 0;
  const plainEnd = opts.plainEnd ?? plainSize - 1;
  const range = frameRangeFor(plainStart, plainEnd, plainSize);
  const lastOfBlob = frameCount(plainSize) - 1;

  let index = range.firstFrame;
  let inHeader = range.includesHeader;
  let need = inHeader ? HEADER_BYTES : FRAME_OVERHEAD + framePlainLength(index, plainSize);
  const buf = Buffer.allocUnsafe(Math.max(HEADER_BYTES, FRAME_OVERHEAD + Math.min(FRAME_PLAINTEXT, plainSize)));
  let filled = 0;
  let finished = false; // all frames of the range verified
  let held: Buffer | undefined; // the range's last plaintext, released at end of input

  // Frames opened from one input chunk are pushed together once the chunk is done (joining them
  // into one buffer measured no faster: it trades stream overhead for a copy).
  let out: Buffer[] = [];
  const flushOut = (t: Transform): void => {
    for (const b of out) t.push(b);
    out = [];
  };
  /** One complete unit of input: the header, or the next frame (`bytes` holds exactly `need` bytes). */
  const unit = (_t: Transform, bytes: Buffer): void => {
    if (inHeader) {
      const got = bytes.subarray(0, HEADER_BYTES);
      if (!got.equals(HEADER)) {
        throw new FramedCryptoError(
          'header',
          got.subarray(0, 4).equals(MAGIC)
            ? `unsupported encrypted blob format (version ${got[4]}, frame size ${got.readUInt32BE(8)})`
            : 'not an encrypted blob (bad header)',
        );
      }
      inHeader = false;
    } else {
      let plain = openFrame(key, index, index === lastOfBlob, bytes);
      const from = index === range.firstFrame ? range.skipBytes : 0;
      const to = index === range.lastFrame ? plainEnd - index * FRAME_PLAINTEXT + 1 : plain.length;
      plain = plain.subarray(from, Math.max(from, to));
      if (index === range.lastFrame) {
        held = plain;
        finished = true;
        return;
      }
      if (plain.length) out.push(plain);
      index += 1;
    }
    need = FRAME_OVERHEAD + framePlainLength(index, plainSize);
  };

  return new Transform({
    transform(this: Transform, chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      try {
        let pos = 0;
        while (pos < chunk.length) {
          if (finished) {
            throw new FramedCryptoError('trailing', 'encrypted blob has bytes past its last frame');
          }
          if (filled === 0 && chunk.length - pos >= need) {
            // A whole unit inside this chunk: opened where it is, without copying it first.
            const at = pos;
            pos += need;
            unit(this, chunk.subarray(at, pos));
            continue;
          }
          const n = Math.min(need - filled, chunk.length - pos);
          chunk.copy(buf, filled, pos, pos + n);
          filled += n;
          pos += n;
          if (filled === need) {
            filled = 0;
            unit(this, buf.subarray(0, need));
          }
        }
        flushOut(this);
        done();
      } catch (err) {
        // Frames verified before the bad one may still go out; the bad one never does.
        flushOut(this);
        done(err as Error);
      }
    },
    flush(this: Transform, done: TransformCallback): void {
      key.fill(0);
      if (!finished) {
        done(
          new FramedCryptoError('truncated', `encrypted blob ended early (in frame ${index} of ${range.firstFrame}..${range.lastFrame})`),
        );
        return;
      }
      if (held && held.length) this.push(held);
      done();
    },
    destroy(err: Error | null, done: (error: Error | null) => void): void {
      key.fill(0);
      done(err);
    },
  });
}

/**
 * Seals consecutive whole frames of a blob being written in batches (the
 * staging writer): `plain` starts at frame `firstFrame` and holds whole
 * frames, except that the batch holding the blob's end may end with a short
 * frame; `last` says whether it does hold the end (its last frame is then
 * final). Frame 0 brings the header. Returns the bytes to write at
 * cipherOffset(firstFrame).
 */
export function sealFrames(dataKey: Buffer, firstFrame: number, plain: Buffer, last: boolean): Buffer[] {
  checkKey(dataKey);
  if (!last && plain.length % FRAME_PLAINTEXT !== 0)
    throw new FramedCryptoError('range', 'a batch that is not the last must hold whole frames');
  const n = Math.max(1, Math.ceil(plain.length / FRAME_PLAINTEXT));
  const parts: Buffer[] = firstFrame === 0 ? [Buffer.from(HEADER)] : [];
  for (let i = 0; i < n; i++) {
    parts.push(sealFrame(dataKey, firstFrame + i, last && i === n - 1, plain.subarray(i * FRAME_PLAINTEXT, (i + 1) * FRAME_PLAINTEXT)));
  }
  return parts;
}

/** Where frame `index` starts in the stored bytes. */
export function cipherOffset(index: number): number {
  return index === 0 ? 0 : HEADER_BYTES + index * FRAME_CIPHERTEXT;
}

/** Whole-buffer encryption (small or inline blobs); same format as createEncryptStream. */
export function encryptBuffer(dataKey: Buffer, plain: Buffer): Buffer {
  checkKey(dataKey);
  const n = frameCount(plain.length);
  const parts: Buffer[] = [Buffer.from(HEADER)];
  for (let i = 0; i < n; i++) {
    parts.push(sealFrame(dataKey, i, i === n - 1, plain.subarray(i * FRAME_PLAINTEXT, (i + 1) * FRAME_PLAINTEXT)));
  }
  return Buffer.concat(parts);
}

/** Whole-buffer decryption of a complete stored blob; same checks as createDecryptStream. */
export function decryptBuffer(dataKey: Buffer, cipher: Buffer, plainSize: number): Buffer {
  checkKey(dataKey);
  const expected = encryptedSize(plainSize);
  if (cipher.length < expected) throw new FramedCryptoError('truncated', 'encrypted blob ended early');
  if (cipher.length > expected) throw new FramedCryptoError('trailing', 'encrypted blob has bytes past its last frame');
  if (!cipher.subarray(0, HEADER_BYTES).equals(HEADER)) throw new FramedCryptoError('header', 'not an encrypted blob (bad header)');
  const n = frameCount(plainSize);
  const out = Buffer.allocUnsafe(plainSize);
  for (let i = 0; i < n; i++) {
    const at = HEADER_BYTES + i * FRAME_CIPHERTEXT;
    const len = framePlainLength(i, plainSize);
    openFrame(dataKey, i, i === n - 1, cipher.subarray(at, at + FRAME_OVERHEAD + len)).copy(out, i * FRAME_PLAINTEXT);
  }
  return out;
}

/** A fresh random data key: one per blob, never reused for another blob. */
export function generateDataKey(): Buffer {
  return crypto.randomBytes(DATA_KEY_BYTES);
}
