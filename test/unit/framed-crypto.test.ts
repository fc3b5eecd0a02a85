/**
 * The crypto layer of encryption at rest: the framed AES-256-GCM blob format
 * (round trips through the streams fed in random chunk sizes, range reads
 * from only their frame range, tamper/truncate/extend/reorder/splice
 * detection with no unverified plaintext emitted), master-wrapped data keys
 * with rotation, and SSE-C header validation and customer-key binding.
 */
import crypto from 'node:crypto';
import type { Transform } from 'node:stream';

import { describe, expect, it } from 'vitest';

import {
  createDecryptStream,
  createEncryptStream,
  customerDataKeyForRead,
  customerKeyMatches,
  DataKeyError,
  decryptBuffer,
  encryptBuffer,
  encryptedSize,
  formatHeader,
  FRAME_CIPHERTEXT,
  FRAME_OVERHEAD,
  FRAME_PLAINTEXT,
  frameCount,
  FramedCryptoError,
  frameRangeFor,
  generateDataKey,
  HEADER_BYTES,
  looksEncrypted,
  needsRewrap,
  NONCE_BYTES,
  openDataKeyForCustomer,
  parseSseCustomerHeaders,
  plainSizeFor,
  rewrapDataKey,
  sealDataKeyForCustomer,
  SseCustomerError,
  TAG_BYTES,
  unwrapDataKey,
  wrapDataKey,
} from '../../src/crypto/index.js';
import { MasterKeyring, parseMasterKey } from '../../src/crypto/master-keys.js';

const F = FRAME_PLAINTEXT;

/** Deterministic PRNG so a failing split or range is reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Splits data into random pieces (some empty, some single bytes, some > one frame). */
function split(data: Buffer, seed: number, max = 70_000): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    const r = rnd();
    const n = r < 0.05 ? 0 : r < 0.15 ? 1 : r < 0.3 ? 1 + Math.floor(rnd() * 30) : 1 + Math.floor(rnd() * max);
    out.push(data.subarray(pos, pos + n));
    pos += n;
  }
  if (rnd() < 0.5) out.push(Buffer.alloc(0));
  return out;
}

interface RunResult {
  out: Buffer;
  err?: unknown;
}

/**
 * Feeds chunks through a transform; returns exactly what it pushed (also
 * before a failure: push is recorded, so nothing lost in stream buffers
 * hides an early emission) and the failure.
 */
async function run(t: Transform, chunks: Buffer[]): Promise<RunResult> {
  const got: Buffer[] = [];
  const push = t.push.bind(t);
  t.push = (chunk: unknown, enc?: BufferEncoding): boolean => {
    if (Buffer.isBuffer(chunk)) got.push(Buffer.from(chunk));
    return push(chunk, enc);
  };
  const ended = new Promise<unknown>((resolve) => {
    t.once('end', () => resolve(undefined));
    t.once('error', (err) => resolve(err));
  });
  t.resume();
  for (const c of chunks) {
    if (t.destroyed) break;
    t.write(Buffer.from(c));
  }
  if (!t.destroyed) t.end();
  const err = await ended;
  return err === undefined ? { out: Buffer.concat(got) } : { out: Buffer.concat(got), err };
}

async function encrypt(key: Buffer, plain: Buffer, seed = 1): Promise<Buffer> {
  const r = await run(createEncryptStream(key), split(plain, seed));
  if (r.err) throw r.err;
  return r.out;
}

async function decrypt(
  key: Buffer,
  cipher: Buffer,
  opts: { plainSize: number; plainStart?: number; plainEnd?: number },
  seed = 2,
): Promise<RunResult> {
  return run(createDecryptStream(key, opts), split(cipher, seed));
}

function expectFramedError(r: RunResult, reason?: string): void {
  expect(r.err).toBeInstanceOf(FramedCryptoError);
  if (reason) expect((r.err as FramedCryptoError).reason).toBe(reason);
}

/** Offset of frame i in a whole stored blob. */
const frameAt = (i: number): number => HEADER_BYTES + i * FRAME_CIPHERTEXT;

describe('framed format: sizes and ranges', () => {
  it('encryptedSize / plainSizeFor / frameCount agree', () => {
    for (const n of [0, 1, 2, F - 1, F, F + 1, 2 * F, 3 * F, 3 * F + 5, 5 * 1024 ** 3 + 3]) {
      const c = encryptedSize(n);
      expect(c).toBe(HEADER_BYTES + frameCount(n) * FRAME_OVERHEAD + n);
      expect(plainSizeFor(c)).toBe(n);
    }
    expect(encryptedSize(0)).toBe(HEADER_BYTES + FRAME_OVERHEAD);
    expect(frameCount(F)).toBe(1);
    expect(frameCount(F + 1)).toBe(2);
    for (const bad of [0, HEADER_BYTES, HEADER_BYTES + FRAME_OVERHEAD - 1, HEADER_BYTES + FRAME_CIPHERTEXT + 5]) {
      expect(() => plainSizeFor(bad)).toThrow(FramedCryptoError);
    }
  });

  it('frameRangeFor names whole frames, the header only for frame 0, and rejects bad ranges', () => {
    const size = 300 * 1024;
    expect(frameRangeFor(0, size - 1, size)).toMatchObject({
      cipherStart: 0,
      cipherEnd: encryptedSize(size) - 1,
      cipherLength: encryptedSize(size),
      firstFrame: 0,
      lastFrame: 4,
      skipBytes: 0,
      includesHeader: true,
    });
    expect(frameRangeFor(F, F, size)).toMatchObject({
      cipherStart: frameAt(1),
      cipherEnd: frameAt(2) - 1,
      firstFrame: 1,
      lastFrame: 1,
      skipBytes: 0,
      includesHeader: false,
    });
    expect(frameRangeFor(F + 10, 2 * F + 3, size)).toMatchObject({ firstFrame: 1, lastFrame: 2, skipBytes: 10 });
    expect(frameRangeFor(size - 1, size - 1, size)).toMatchObject({ cipherStart: frameAt(4), cipherEnd: encryptedSize(size) - 1 });
    expect(frameRangeFor(0, -1, 0)).toMatchObject({ cipherStart: 0, cipherEnd: encryptedSize(0) - 1, includesHeader: true });
    for (const [s, e, n] of [
      [0, 0, 0],
      [5, 4, 10],
      [-1, 3, 10],
      [0, 10, 10],
      [1.5, 3, 10],
    ]) {
      expect(() => frameRangeFor(s, e, n)).toThrow(FramedCryptoError);
    }
  });

  it('the header is 12 bytes: "ANVE", version 1, three zero bytes, frame size', () => {
    const h = formatHeader();
    expect(h.toString('hex')).toBe(Buffer.from('ANVE').toString('hex') + '01' + '000000' + '00010000');
    expect(looksEncrypted(h)).toBe(true);
    expect(looksEncrypted(Buffer.from('plain text'))).toBe(false);
  });
});

describe('framed format: round trips', () => {
  const sizes = [0, 1, 65535, 65536, 65537, 3 * 65536, 1024 * 1024 + 7];
  for (const [i, size] of sizes.entries()) {
    it(`${size} bytes, fed in random chunk sizes`, async () => {
      const key = generateDataKey();
      const plain = crypto.randomBytes(size);
      const cipher = await encrypt(key, plain, 100 + i);
      expect(cipher.length).toBe(encryptedSize(size));
      expect(cipher.subarray(0, HEADER_BYTES).equals(formatHeader())).toBe(true);
      // nothing of the plaintext shows through (for sizes where a 16-byte run is meaningful)
      if (size >= 16) expect(cipher.includes(plain.subarray(0, 16))).toBe(false);

      for (const seed of [1, 2, 3]) {
        const r = await decrypt(key, cipher, { plainSize: size }, 200 + seed);
        expect(r.err).toBeUndefined();
        expect(r.out.equals(plain)).toBe(true);
      }
      expect(decryptBuffer(key, cipher, size).equals(plain)).toBe(true);
      expect(decryptBuffer(key, encryptBuffer(key, plain), size).equals(plain)).toBe(true);
      const r = await decrypt(key, encryptBuffer(key, plain), { plainSize: size });
      expect(r.out.equals(plain)).toBe(true);
    });
  }

  it('one byte at a time, both directions', async () => {
    const key = generateDataKey();
    const plain = crypto.randomBytes(F + 3);
    const e = await run(
      createEncryptStream(key),
      [...plain].map((b) => Buffer.from([b])),
    );
    expect(e.err).toBeUndefined();
    const d = await run(
      createDecryptStream(key, { plainSize: plain.length }),
      [...e.out].map((b) => Buffer.from([b])),
    );
    expect(d.err).toBeUndefined();
    expect(d.out.equals(plain)).toBe(true);
  });

  it('an empty body still has an authenticated final frame', async () => {
    const key = generateDataKey();
    const noWrites = await run(createEncryptStream(key), []);
    const emptyWrite = await run(createEncryptStream(key), [Buffer.alloc(0)]);
    for (const c of [noWrites.out, emptyWrite.out]) {
      expect(c.length).toBe(HEADER_BYTES + NONCE_BYTES + TAG_BYTES);
      expect((await decrypt(key, c, { plainSize: 0 })).out.length).toBe(0);
      expectFramedError(await decrypt(key, c.subarray(0, HEADER_BYTES), { plainSize: 0 }), 'truncated');
      expectFramedError(await decrypt(key, Buffer.alloc(0), { plainSize: 0 }), 'truncated');
      expectFramedError(await decrypt(generateDataKey(), c, { plainSize: 0 }), 'auth');
    }
  });

  it('encrypting the same plaintext twice gives different ciphertext (random nonces)', async () => {
    const key = generateDataKey();
    const plain = crypto.randomBytes(2 * F);
    const a = await encrypt(key, plain);
    const b = await encrypt(key, plain);
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(frameAt(0), frameAt(0) + NONCE_BYTES).equals(b.subarray(frameAt(0), frameAt(0) + NONCE_BYTES))).toBe(false);
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => createEncryptStream(Buffer.alloc(16))).toThrow(FramedCryptoError);
    expect(() => createDecryptStream(Buffer.alloc(31), { plainSize: 1 })).toThrow(FramedCryptoError);
  });
});

describe('framed format: range reads', () => {
  it('200 random ranges of a 300 KiB blob, each decrypted from only its frame range', async () => {
    const key = generateDataKey();
    const size = 300 * 1024;
    const plain = crypto.randomBytes(size);
    const cipher = await encrypt(key, plain, 7);
    const rnd = prng(42);
    const ranges: Array<[number, number]> = [
      [0, 0],
      [0, size - 1],
      [size - 1, size - 1],
      [F - 1, F],
      [F, 2 * F - 1],
      [4 * F, size - 1],
      [F - 1, F - 1],
    ];
    while (ranges.length < 200) {
      const a = Math.floor(rnd() * size);
      const len = rnd() < 0.5 ? 1 + Math.floor(rnd() * 100) : 1 + Math.floor(rnd() * (size - a));
      ranges.push([a, Math.min(size - 1, a + len - 1)]);
    }
    for (const [n, [start, end]] of ranges.entries()) {
      const r = frameRangeFor(start, end, size);
      const slice = cipher.subarray(r.cipherStart, r.cipherEnd + 1);
      expect(slice.length).toBe(r.cipherLength);
      const got = await decrypt(key, slice, { plainSize: size, plainStart: start, plainEnd: end }, 1000 + n);
      expect(got.err).toBeUndefined();
      expect(got.out.equals(plain.subarray(start, end + 1))).toBe(true);
    }
  });

  it('a range read fed more or fewer bytes than its frame range fails', async () => {
    const key = generateDataKey();
    const size = 300 * 1024;
    const plain = crypto.randomBytes(size);
    const cipher = await encrypt(key, plain);
    const opts = { plainSize: size, plainStart: F + 5, plainEnd: 2 * F + 5 };
    const r = frameRangeFor(opts.plainStart, opts.plainEnd, size);
    expectFramedError(await decrypt(key, cipher.subarray(r.cipherStart, r.cipherEnd), opts), 'truncated');
    const long = await decrypt(key, cipher.subarray(r.cipherStart, r.cipherEnd + 2), opts);
    expectFramedError(long, 'trailing');
    // the first frame of the range verified and was sent; the held last one was not
    expect(long.out.equals(plain.subarray(opts.plainStart, 2 * F))).toBe(true);
    // the whole blob is not a valid input for a range that starts after frame 0
    expect((await decrypt(key, cipher, opts)).err).toBeInstanceOf(FramedCryptoError);
  });

  it('a frame from another position of the same blob does not pass in a range read', async () => {
    const key = generateDataKey();
    const size = 300 * 1024;
    const cipher = await encrypt(key, crypto.randomBytes(size));
    // ask for frame 2 but hand over frame 1's bytes
    const r = await decrypt(key, cipher.subarray(frameAt(1), frameAt(2)), { plainSize: size, plainStart: 2 * F, plainEnd: 3 * F - 1 });
    expectFramedError(r, 'auth');
    expect(r.out.length).toBe(0);
  });
});

describe('framed format: tampering', () => {
  const size = 3 * F + 1000; // frames 0,1,2 full, frame 3 final
  const setup = async () => {
    const key = generateDataKey();
    const plain = crypto.randomBytes(size);
    const cipher = await encrypt(key, plain);
    return { key, plain, cipher };
  };
  const flip = (b: Buffer, at: number): Buffer => {
    const c = Buffer.from(b);
    c[at] ^= 0x01;
    return c;
  };
  /** Emitted bytes must be a prefix of the plaintext ending before the bad frame. */
  const expectNothingFrom = (r: RunResult, plain: Buffer, badFrame: number): void => {
    expect(r.out.length).toBeLessThanOrEqual(badFrame * F);
    expect(r.out.equals(plain.subarray(0, r.out.length))).toBe(true);
  };

  it('a flipped byte in the header, a nonce, the ciphertext or a tag fails, emitting nothing of the bad frame', async () => {
    const { key, plain, cipher } = await setup();
    const cases: Array<[string, number, number]> = [
      ['header magic', 1, 0],
      ['header version', 4, 0],
      ['header reserved', 6, 0],
      ['header frame size', 10, 0],
      ['frame 0 nonce', frameAt(0), 0],
      ['frame 1 nonce', frameAt(1) + 11, 1],
      ['frame 1 ciphertext first', frameAt(1) + NONCE_BYTES, 1],
      ['frame 1 ciphertext middle', frameAt(1) + NONCE_BYTES + 30_000, 1],
      ['frame 2 tag', frameAt(3) - 1, 2],
      ['final frame ciphertext', frameAt(3) + NONCE_BYTES + 500, 3],
      ['final frame tag', cipher.length - 1, 3],
    ];
    for (const [what, at, frame] of cases) {
      const r = await decrypt(key, flip(cipher, at), { plainSize: size });
      expect(r.err, what).toBeInstanceOf(FramedCryptoError);
      expectNothingFrom(r, plain, frame);
      expect(() => decryptBuffer(key, flip(cipher, at), size), what).toThrow(FramedCryptoError);
    }
    expectFramedError(await decrypt(key, flip(cipher, 0), { plainSize: size }), 'header');
  });

  it('100 random single-byte flips all fail', async () => {
    const { key, plain, cipher } = await setup();
    const rnd = prng(9);
    for (let i = 0; i < 100; i++) {
      const at = Math.floor(rnd() * cipher.length);
      const frame = at < HEADER_BYTES ? 0 : Math.floor((at - HEADER_BYTES) / FRAME_CIPHERTEXT);
      const r = await decrypt(key, flip(cipher, at), { plainSize: size }, i);
      expect(r.err, `flip at ${at}`).toBeInstanceOf(FramedCryptoError);
      expectNothingFrom(r, plain, frame);
    }
  });

  it('a flipped byte inside a range read fails that read', async () => {
    const { key, cipher } = await setup();
    const opts = { plainSize: size, plainStart: F + 1, plainEnd: 2 * F + 1 };
    const r = frameRangeFor(opts.plainStart, opts.plainEnd, size);
    const slice = flip(cipher, frameAt(2) + 100).subarray(r.cipherStart, r.cipherEnd + 1);
    const got = await decrypt(key, slice, opts);
    expectFramedError(got, 'auth');
    expect(got.out.length).toBeLessThanOrEqual(F - 1);
  });

  it('truncation: dropping the last frame, or everything after the header, fails', async () => {
    const { key, plain, cipher } = await setup();
    const noLast = cipher.subarray(0, frameAt(3));
    const r1 = await decrypt(key, noLast, { plainSize: size });
    expectFramedError(r1, 'truncated');
    expectNothingFrom(r1, plain, 3);
    // even if the reader were told the shorter size, frame 2 was sealed as non-final
    const r2 = await decrypt(key, noLast, { plainSize: 3 * F });
    expectFramedError(r2, 'auth');
    expectNothingFrom(r2, plain, 2);
    expect(() => decryptBuffer(key, noLast, 3 * F)).toThrow(FramedCryptoError);

    const headerOnly = cipher.subarray(0, HEADER_BYTES);
    expectFramedError(await decrypt(key, headerOnly, { plainSize: size }), 'truncated');
    expectFramedError(await decrypt(key, headerOnly, { plainSize: 0 }), 'truncated');
    // cut mid-frame
    const r3 = await decrypt(key, cipher.subarray(0, cipher.length - 1), { plainSize: size });
    expectFramedError(r3, 'truncated');
    expectNothingFrom(r3, plain, 3);
  });

  it('extension: a frame of another blob under the same key appended fails', async () => {
    const { key, plain, cipher } = await setup();
    const other = await encrypt(key, crypto.randomBytes(5 * F));
    const extended = Buffer.concat([cipher, other.subarray(frameAt(4), frameAt(5))]);
    const r1 = await decrypt(key, extended, { plainSize: size });
    expectFramedError(r1, 'trailing');
    expectNothingFrom(r1, plain, 3); // the held final frame is never released
    // told the longer size: frame 3 was sealed final, so it fails at a non-final position
    const bigger = size + F;
    const r2 = await decrypt(key, Buffer.concat([cipher, other.subarray(frameAt(4), frameAt(5))]), { plainSize: bigger });
    expect(r2.err).toBeInstanceOf(FramedCryptoError);
    expectNothingFrom(r2, plain, 3);
    // an extra empty final frame of a zero-length blob appended
    const emptyBlob = await encrypt(key, Buffer.alloc(0));
    const r3 = await decrypt(key, Buffer.concat([cipher, emptyBlob.subarray(HEADER_BYTES)]), { plainSize: size });
    expectFramedError(r3, 'trailing');
    expect(() => decryptBuffer(key, extended, size)).toThrow(FramedCryptoError);
  });

  it('extension at a frame boundary under the same key is caught by the final flag', async () => {
    // A = 2 full frames (frame 1 final); B = 3 full frames under the same key.
    // A + B's frame 2 has the right length and every frame sits at its own
    // index: only the final flag sealed into A's frame 1 tells.
    const key = generateDataKey();
    const a = crypto.randomBytes(2 * F);
    const ca = await encrypt(key, a);
    const cb = await encrypt(key, crypto.randomBytes(3 * F));
    const forged = Buffer.concat([ca, cb.subarray(frameAt(2))]);
    expect(forged.length).toBe(encryptedSize(3 * F));
    const r = await decrypt(key, forged, { plainSize: 3 * F });
    expectFramedError(r, 'auth');
    expect(r.out.equals(a.subarray(0, F))).toBe(true);
    expect(() => decryptBuffer(key, forged, 3 * F)).toThrow(FramedCryptoError);
    // and the mirror image: B cut after frame 1 and read as a 2-frame blob
    expectFramedError(await decrypt(key, cb.subarray(0, frameAt(2)), { plainSize: 2 * F }), 'auth');
  });

  it('reorder: two frames swapped fails at the first of them', async () => {
    const { key, plain, cipher } = await setup();
    const f0 = cipher.subarray(frameAt(0), frameAt(1));
    const f1 = cipher.subarray(frameAt(1), frameAt(2));
    const f2 = cipher.subarray(frameAt(2), frameAt(3));
    const rest = cipher.subarray(frameAt(3));
    const head = cipher.subarray(0, HEADER_BYTES);
    const swapped12 = Buffer.concat([head, f0, f2, f1, rest]);
    const r = await decrypt(key, swapped12, { plainSize: size });
    expectFramedError(r, 'auth');
    expectNothingFrom(r, plain, 1);
    expect(r.out.equals(plain.subarray(0, F))).toBe(true);
    const swapped01 = Buffer.concat([head, f1, f0, f2, rest]);
    const r2 = await decrypt(key, swapped01, { plainSize: size });
    expectFramedError(r2, 'auth');
    expect(r2.out.length).toBe(0);
  });

  it('splice: a frame of a blob under a different key fails', async () => {
    const { key, plain, cipher } = await setup();
    const other = await encrypt(generateDataKey(), crypto.randomBytes(size));
    const spliced = Buffer.concat([cipher.subarray(0, frameAt(1)), other.subarray(frameAt(1), frameAt(2)), cipher.subarray(frameAt(2))]);
    const r = await decrypt(key, spliced, { plainSize: size });
    expectFramedError(r, 'auth');
    expectNothingFrom(r, plain, 1);
    // the final frame swapped for the other blob's final frame
    const lastSpliced = Buffer.concat([cipher.subarray(0, frameAt(3)), other.subarray(frameAt(3))]);
    const r2 = await decrypt(key, lastSpliced, { plainSize: size });
    expectFramedError(r2, 'auth');
    expectNothingFrom(r2, plain, 3);
  });

  it('the wrong data key fails at the first frame and emits nothing', async () => {
    const { cipher } = await setup();
    const r = await decrypt(generateDataKey(), cipher, { plainSize: size });
    expectFramedError(r, 'auth');
    expect(r.out.length).toBe(0);
    expect(() => decryptBuffer(generateDataKey(), cipher, size)).toThrow(FramedCryptoError);
    const range = frameRangeFor(2 * F, 2 * F + 9, size);
    const r2 = await decrypt(generateDataKey(), cipher.subarray(range.cipherStart, range.cipherEnd + 1), {
      plainSize: size,
      plainStart: 2 * F,
      plainEnd: 2 * F + 9,
    });
    expectFramedError(r2, 'auth');
    expect(r2.out.length).toBe(0);
  });
});

describe('data keys wrapped by the master key', () => {
  const k1 = parseMasterKey(crypto.randomBytes(32).toString('hex'));
  const k2 = parseMasterKey(crypto.randomBytes(32).toString('hex'));

  it('wraps and unwraps under the primary, naming its id', () => {
    const ring = new MasterKeyring(k1);
    const dk = generateDataKey();
    expect(dk.length).toBe(32);
    const w = wrapDataKey(ring, dk);
    expect(w.masterKeyId).toBe(k1.id);
    expect(w.wrapped).not.toContain(dk.toString('base64'));
    expect(unwrapDataKey(ring, w.wrapped, w.masterKeyId).equals(dk)).toBe(true);
    // every wrap is fresh
    expect(wrapDataKey(ring, dk).wrapped).not.toBe(w.wrapped);
    expect(() => wrapDataKey(ring, Buffer.alloc(16))).toThrow(DataKeyError);
  });

  it('rotation: a two-key ring unwraps old rows and re-wraps them under the new primary', () => {
    const oldRing = new MasterKeyring(k1);
    const dk = generateDataKey();
    const old = wrapDataKey(oldRing, dk);

    const ring = new MasterKeyring(k2, [k1]);
    expect(needsRewrap(ring, old.masterKeyId)).toBe(true);
    expect(unwrapDataKey(ring, old.wrapped, old.masterKeyId).equals(dk)).toBe(true);
    const fresh = rewrapDataKey(ring, old.wrapped, old.masterKeyId);
    expect(fresh.masterKeyId).toBe(k2.id);
    expect(needsRewrap(ring, fresh.masterKeyId)).toBe(false);
    expect(unwrapDataKey(ring, fresh.wrapped, fresh.masterKeyId).equals(dk)).toBe(true);
    // already under the primary: unchanged
    expect(rewrapDataKey(ring, fresh.wrapped, fresh.masterKeyId)).toEqual(fresh);

    // once the old key is dropped, only re-wrapped rows still open
    const newOnly = new MasterKeyring(k2);
    expect(unwrapDataKey(newOnly, fresh.wrapped, fresh.masterKeyId).equals(dk)).toBe(true);
    expect(() => unwrapDataKey(newOnly, old.wrapped, old.masterKeyId)).toThrow(DataKeyError);

    // the blob's bytes never changed: data encrypted before rotation still decrypts
    const cipher = encryptBuffer(dk, Buffer.from('hello'));
    expect(decryptBuffer(unwrapDataKey(newOnly, fresh.wrapped, fresh.masterKeyId), cipher, 5).toString()).toBe('hello');
  });

  it('refuses altered rows, the wrong key id, and values that are not data keys', () => {
    const ring = new MasterKeyring(k2, [k1]);
    const w = wrapDataKey(ring, generateDataKey());
    const raw = Buffer.from(w.wrapped, 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => unwrapDataKey(ring, raw.toString('base64'), w.masterKeyId)).toThrow(DataKeyError);
    expect(() => unwrapDataKey(ring, w.wrapped, k1.id)).toThrow(DataKeyError);
    expect(() => unwrapDataKey(ring, w.wrapped, 'unknownkeyid0000')).toThrow(/unknownkeyid0000/);
    // an encrypted secret (same master key) is not a data key
    const secret = ring.encrypt('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    expect(() => unwrapDataKey(ring, secret.ciphertext, secret.keyId)).toThrow(DataKeyError);
  });
});

describe('SSE-C', () => {
  const customerKey = crypto.randomBytes(32);
  const b64 = (b: Buffer): string => b.toString('base64');
  const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('base64');
  const ssec = (over: Record<string, string | undefined> = {}, key = customerKey): Record<string, string | undefined> => ({
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': b64(key),
    'x-amz-server-side-encryption-customer-key-md5': md5(key),
    ...over,
  });
  const fails = (headers: Record<string, string | undefined>, code: string, message: string | RegExp, opts = {}): void => {
    let err: unknown;
    try {
      parseSseCustomerHeaders(headers, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SseCustomerError);
    const e = err as SseCustomerError;
    expect(e.code).toBe(code);
    expect(e.status).toBe(400);
    expect(e.message).toMatch(message);
    expect(e.extra.ArgumentName).toBe('x-amz-server-side-encryption');
  };

  it('parses valid headers and ignores requests without them', () => {
    expect(parseSseCustomerHeaders({ host: 'x' })).toBeUndefined();
    const k = parseSseCustomerHeaders(ssec());
    expect(k).toEqual({ algorithm: 'AES256', key: customerKey, keyMd5: md5(customerKey) });
    const copy = parseSseCustomerHeaders(
      {
        'x-amz-copy-source-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-copy-source-server-side-encryption-customer-key': b64(customerKey),
        'x-amz-copy-source-server-side-encryption-customer-key-md5': md5(customerKey),
      },
      { copySource: true },
    );
    expect(copy?.key.equals(customerKey)).toBe(true);
    // copy-source parsing does not look at the destination's headers and vice versa
    expect(parseSseCustomerHeaders(ssec(), { copySource: true })).toBeUndefined();
  });

  it('rejects bad headers with S3 codes and messages', () => {
    fails(ssec({ 'x-amz-server-side-encryption': 'AES256' }), 'InvalidArgument', /incompatible with the encryption method specified/);
    fails(
      ssec({ 'x-amz-server-side-encryption-customer-algorithm': undefined }),
      'InvalidArgument',
      /must provide a valid encryption algorithm\.$/,
    );
    fails(
      { 'x-amz-server-side-encryption-customer-key-md5': md5(customerKey) },
      'InvalidArgument',
      /must provide a valid encryption algorithm\.$/,
    );
    fails(ssec({ 'x-amz-server-side-encryption-customer-key': undefined }), 'InvalidArgument', /must provide an appropriate secret key\.$/);
    fails(
      ssec({ 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }),
      'InvalidEncryptionAlgorithmError',
      /Supported value: AES256/,
    );
    fails(ssec({ 'x-amz-server-side-encryption-customer-algorithm': 'aes256' }), 'InvalidEncryptionAlgorithmError', /AES256/);
    const short = crypto.randomBytes(16);
    fails(ssec({}, short), 'InvalidArgument', 'The secret key was invalid for the specified algorithm.');
    fails(ssec({ 'x-amz-server-side-encryption-customer-key': 'not base64!!' }), 'InvalidArgument', /secret key was invalid/);
    fails(
      ssec({ 'x-amz-server-side-encryption-customer-key': b64(customerKey).slice(0, -1) }),
      'InvalidArgument',
      /secret key was invalid/,
    );
    fails(
      ssec({ 'x-amz-server-side-encryption-customer-key-md5': undefined }),
      'InvalidArgument',
      /client calculated MD5 of the secret key\.$/,
    );
    fails(
      ssec({ 'x-amz-server-side-encryption-customer-key-md5': md5(crypto.randomBytes(32)) }),
      'InvalidArgument',
      'The calculated MD5 hash of the key did not match the hash that was provided.',
    );
    fails(ssec({ 'x-amz-server-side-encryption-customer-key-md5': 'garbage' }), 'InvalidArgument', /did not match/);
    // hex MD5 instead of base64
    fails(
      ssec({ 'x-amz-server-side-encryption-customer-key-md5': crypto.createHash('md5').update(customerKey).digest('hex') }),
      'InvalidArgument',
      /did not match/,
    );
    fails(
      {
        'x-amz-copy-source-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-copy-source-server-side-encryption-customer-key': b64(customerKey),
      },
      'InvalidArgument',
      /client calculated MD5/,
      { copySource: true },
    );
  });

  it('seals a data key to the customer key; the right key opens it, a wrong one is AccessDenied before decrypting', async () => {
    const dk = generateDataKey();
    const sealed = sealDataKeyForCustomer(dk, customerKey);
    // the record holds neither the key, its base64, nor its MD5
    const raw = Buffer.from(sealed, 'base64');
    expect(raw.includes(customerKey)).toBe(false);
    expect(raw.includes(crypto.createHash('md5').update(customerKey).digest())).toBe(false);
    expect(sealed).not.toContain(b64(customerKey));
    expect(sealed).not.toContain(md5(customerKey));
    // fingerprints are salted per object
    expect(sealDataKeyForCustomer(dk, customerKey)).not.toBe(sealed);

    expect(customerKeyMatches(sealed, customerKey)).toBe(true);
    expect(openDataKeyForCustomer(sealed, customerKey).equals(dk)).toBe(true);
    const other = crypto.randomBytes(32);
    expect(customerKeyMatches(sealed, other)).toBe(false);
    let err: unknown;
    try {
      openDataKeyForCustomer(sealed, other);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SseCustomerError);
    expect((err as SseCustomerError).code).toBe('AccessDenied');
    expect((err as SseCustomerError).status).toBe(403);

    // end to end: blob encrypted with the data key, read back through the customer key
    const plain = crypto.randomBytes(2 * F + 17);
    const cipher = await encrypt(dk, plain);
    const key = customerDataKeyForRead(sealed, parseSseCustomerHeaders(ssec()));
    expect(key).toBeDefined();
    const r = await decrypt(key!, cipher, { plainSize: plain.length });
    expect(r.out.equals(plain)).toBe(true);
  });

  it('read decisions: missing headers 400 InvalidRequest, wrong key 403 AccessDenied, headers on a plain object 400', () => {
    const sealed = sealDataKeyForCustomer(generateDataKey(), customerKey);
    const attempt = (s: string | null, headers: Record<string, string | undefined>): SseCustomerError | Buffer | undefined => {
      try {
        return customerDataKeyForRead(s, parseSseCustomerHeaders(headers));
      } catch (e) {
        return e as SseCustomerError;
      }
    };
    const missing = attempt(sealed, {}) as SseCustomerError;
    expect([missing.code, missing.status]).toEqual(['InvalidRequest', 400]);
    expect(missing.message).toBe(
      'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
    );
    const wrong = attempt(sealed, ssec({}, crypto.randomBytes(32))) as SseCustomerError;
    expect([wrong.code, wrong.status]).toEqual(['AccessDenied', 403]);
    const notApplicable = attempt(null, ssec()) as SseCustomerError;
    expect([notApplicable.code, notApplicable.status]).toEqual(['InvalidRequest', 400]);
    expect(attempt(null, {})).toBeUndefined();
    expect(Buffer.isBuffer(attempt(sealed, ssec()))).toBe(true);
  });

  it('an altered sealed record is refused (fingerprint → AccessDenied, wrap → DataKeyError)', () => {
    const sealed = sealDataKeyForCustomer(generateDataKey(), customerKey);
    const raw = Buffer.from(sealed, 'base64');
    const at = (i: number): string => {
      const c = Buffer.from(raw);
      c[i] ^= 1;
      return c.toString('base64');
    };
    expect(() => openDataKeyForCustomer(at(1), customerKey)).toThrow(SseCustomerError); // salt
    expect(() => openDataKeyForCustomer(at(40), customerKey)).toThrow(SseCustomerError); // fingerprint
    expect(() => openDataKeyForCustomer(at(70), customerKey)).toThrow(DataKeyError); // nonce
    expect(() => openDataKeyForCustomer(at(80), customerKey)).toThrow(DataKeyError); // tag
    expect(() => openDataKeyForCustomer(at(raw.length - 1), customerKey)).toThrow(DataKeyError); // wrapped key
    expect(() => openDataKeyForCustomer(at(0), customerKey)).toThrow(DataKeyError); // version
    expect(() => openDataKeyForCustomer('short', customerKey)).toThrow(DataKeyError);
  });
});
