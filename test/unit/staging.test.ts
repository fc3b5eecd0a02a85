/**
 * Body staging: the digests of small (in-memory) and large (temp file,
 * worker-hashed) bodies equal BodyDigester's over the same bytes, the staged
 * bytes are exactly the body, and a failed body leaves no temp file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BodyDigester, type ChecksumAlgorithm } from '../../src/blobs/staging/digest.js';
import { HashPool } from '../../src/blobs/staging/hash-pool.js';
import { BlobStore, SMALL_BODY } from '../../src/blobs/staging/store.js';

async function* chunked(data: Buffer, sizes: number[]): AsyncIterable<Buffer> {
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length];
    yield data.subarray(off, off + n);
    off += n;
  }
}

describe('staging bodies', () => {
  let dir: string;
  let store: BlobStore;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-staging-'));
    store = new BlobStore(dir);
    await store.init();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const spec = { sha256: true, checksums: ['crc32', 'crc32c', 'sha1', 'sha256'] as ChecksumAlgorithm[] };
  const reference = (data: Buffer) => {
    const d = new BodyDigester(spec);
    d.update(data);
    return d.digest();
  };

  for (const size of [0, 1, 4096, SMALL_BODY, SMALL_BODY + 1, 3 * 1024 * 1024 + 17, 9 * 1024 * 1024]) {
    it(`stages ${size} bytes with the digests BodyDigester computes`, async () => {
      const data = crypto.randomBytes(size);
      const id = crypto.randomBytes(6).toString('hex');
      const { staged, digests } = await store.stage(chunked(data, [65536, 1000, 300_000, 7]), spec, Infinity, id);
      expect(digests).toEqual(reference(data));
      expect(staged.size).toBe(size);
      if (size <= SMALL_BODY) {
        expect(staged.data?.equals(data) ?? size === 0).toBe(true);
        expect(fs.existsSync(staged.tmpPath)).toBe(false);
      } else {
        expect(staged.data).toBeUndefined();
        expect(fs.readFileSync(staged.tmpPath).equals(data)).toBe(true);
      }
      const hash = digests.blake3;
      const fileId = await store.promote(staged, 't', hash);
      expect(fs.readFileSync(store.blobPath('t', hash, fileId)).equals(data)).toBe(true);
      expect(fs.existsSync(staged.tmpPath)).toBe(false);
    });
  }

  it('removes the temp file of a body that grows too large', async () => {
    const id = crypto.randomBytes(6).toString('hex');
    const data = crypto.randomBytes(5 * 1024 * 1024);
    await expect(store.stage(chunked(data, [65536]), spec, 4 * 1024 * 1024, id)).rejects.toMatchObject({ reason: 'EntityTooLarge' });
    expect(fs.existsSync(store.tmpPath(id))).toBe(false);
  });

  it('removes the temp file of a body whose stream fails midway', async () => {
    const id = crypto.randomBytes(6).toString('hex');
    async function* broken(): AsyncIterable<Buffer> {
      yield crypto.randomBytes(3 * 1024 * 1024);
      throw new Error('client went away');
    }
    await expect(store.stage(broken(), spec, Infinity, id)).rejects.toThrow('client went away');
    expect(fs.existsSync(store.tmpPath(id))).toBe(false);
  });

  it('hashes interleaved jobs on a pool of workers independently', async () => {
    const pool = new HashPool(2);
    try {
      const bodies = Array.from({ length: 5 }, (_, i) => crypto.randomBytes(1024 * 1024 * (i + 1) + i));
      const results = await Promise.all(
        bodies.map(async (body) => {
          const job = pool.start(spec);
          for (let off = 0; off < body.length; off += 1 << 20) {
            const part = body.subarray(off, off + (1 << 20));
            const sab = new SharedArrayBuffer(part.length);
            part.copy(new Uint8Array(sab));
            await job.update(sab, part.length);
          }
          return job.digest();
        }),
      );
      results.forEach((d, i) => expect(d).toEqual(reference(bodies[i])));
    } finally {
      await pool.close();
    }
  });
});
