/**
 * Blobs on several backends, end to end through the S3 API: encryption at
 * rest, replication with a backend out of service, corruption detected and
 * repaired, quotas (507 and nothing left behind), and draining a backend
 * across a restart. Real folders, a real server, the real SDK.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

import { DRAIN_TASK, replicasOn, setDraining } from '../../src/blobs/drain.js';
import { REBALANCE_TASK } from '../../src/blobs/rebalance.js';
import { Scrubber } from '../../src/blobs/scrub.js';
import { anvilPerTest, blobFiles, describeEachEngine, type EngineName, s3Error, stagedFiles, type TestAnvil } from '../support/anvil.js';
import { blobFilesIn, filesUnder, fsBackends, markedBody, waitFor } from '../support/backends.js';

const MARKER = 'PLAINTEXT-MARKER-7f3a';

const body = (size: number, seed: string): Buffer => markedBody(MARKER, size, seed);

async function get(t: TestAnvil, bucket: string, key: string, range?: string): Promise<Buffer> {
  const res = await t.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

describeEachEngine('storage backends', (engine: EngineName) => {
  const { start, dirs } = anvilPerTest(engine, { start: { workerIntervalMs: 200 } });

  it('encrypts every blob at rest by default: no plaintext in the data folder, exact bytes and ranges back', async () => {
    const t = await start();
    await t.s3.send(new CreateBucketCommand({ Bucket: 'enc' }));
    const small = body(3000, 'small');
    const large = body(3 * 1024 * 1024 + 12345, 'large');
    await t.s3.send(new PutObjectCommand({ Bucket: 'enc', Key: 'small', Body: small }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'enc', Key: 'large', Body: large }));
    const up = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'enc', Key: 'multi' }));
    const p1 = body(5 * 1024 * 1024, 'part1');
    const p2 = body(70_000, 'part2');
    const e1 = await t.s3.send(new UploadPartCommand({ Bucket: 'enc', Key: 'multi', UploadId: up.UploadId, PartNumber: 1, Body: p1 }));
    const e2 = await t.s3.send(new UploadPartCommand({ Bucket: 'enc', Key: 'multi', UploadId: up.UploadId, PartNumber: 2, Body: p2 }));
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'enc',
        Key: 'multi',
        UploadId: up.UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: e1.ETag },
            { PartNumber: 2, ETag: e2.ETag },
          ],
        },
      }),
    );

    expect((await get(t, 'enc', 'small')).equals(small)).toBe(true);
    expect((await get(t, 'enc', 'large')).equals(large)).toBe(true);
    expect((await get(t, 'enc', 'multi')).equals(Buffer.concat([p1, p2]))).toBe(true);
    // Ranges inside one frame, across frame boundaries (64 KiB), and across parts.
    for (const [start, end] of [
      [0, 0],
      [65_530, 65_545],
      [65_536, 3 * 65_536 + 7],
      [large.length - 10, large.length - 1],
    ]) {
      expect((await get(t, 'enc', 'large', `bytes=${start}-${end}`)).equals(large.subarray(start, end + 1))).toBe(true);
    }
    const whole = Buffer.concat([p1, p2]);
    expect(
      (await get(t, 'enc', 'multi', `bytes=${p1.length - 100}-${p1.length + 100}`)).equals(
        whole.subarray(p1.length - 100, p1.length + 101),
      ),
    ).toBe(true);

    const files = blobFiles(t.dataDir);
    expect(files.length).toBe(4);
    for (const f of files) {
      const raw = fs.readFileSync(f);
      expect(raw.subarray(0, 4).toString()).toBe('ANVE');
      expect(raw.includes(MARKER)).toBe(false);
    }
    // Nothing else in the data folder (database files included) holds the plaintext either.
    for (const f of filesUnder(t.dataDir)) expect(fs.readFileSync(f).includes(MARKER), f).toBe(false);
    expect(stagedFiles(t.dataDir)).toEqual([]);
  });

  it('replication 2 over 3 folders: every object reads with one folder gone; scrub restores lost replicas', async () => {
    const { storage, roots } = fsBackends(['a', 'b', 'c']);
    dirs.push(...Object.values(roots));
    const t = await start({ storage: { ...storage, replication: 2 } });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'rep' }));
    const objects = new Map<string, Buffer>();
    for (let i = 0; i < 12; i++) {
      const data = i % 3 === 0 ? crypto.randomBytes(300_000 + i) : body(1000 + i * 100, `o${i}`);
      objects.set(`k${i}`, data);
      await t.s3.send(new PutObjectCommand({ Bucket: 'rep', Key: `k${i}`, Body: data }));
    }
    const counts = Object.values(roots).map((r) => blobFilesIn(r).length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(24); // two replicas each
    expect(Math.max(...counts)).toBeLessThan(12 + 1);
    expect(stagedFiles(t.dataDir)).toEqual([]);
    for (const root of Object.values(roots)) for (const f of blobFilesIn(root)) expect(fs.readFileSync(f).includes(MARKER)).toBe(false);

    // Backend b out of service (its folder gone, as an unmounted disk): every object still reads.
    fs.renameSync(roots.b, `${roots.b}.away`);
    for (const [key, data] of objects) expect((await get(t, 'rep', key)).equals(data), key).toBe(true);
    // New writes go to the two that are left.
    await t.s3.send(new PutObjectCommand({ Bucket: 'rep', Key: 'during', Body: body(5000, 'during') }));
    expect((await get(t, 'rep', 'during')).equals(body(5000, 'during'))).toBe(true);
    fs.renameSync(`${roots.b}.away`, roots.b);
    // Its circuit breaker closes again once the health probe finds it back.
    await waitFor('backend b to recover', async () => t.anvil.core.blobs.replicas.backends.get('b')!.breaker.state === 'closed');

    // Backend c loses its disk contents: scrub rewrites every missing replica from the others.
    const lost = blobFilesIn(roots.c).length;
    expect(lost).toBeGreaterThan(0);
    fs.rmSync(path.join(roots.c, 'blobs'), { recursive: true, force: true });
    fs.mkdirSync(path.join(roots.c, 'blobs'));
    const scrubber = new Scrubber(
      t.anvil.core.blobs,
      (await import('pino')).default({ level: process.env.DEBUG_SCRUB ? 'debug' : 'silent' }),
    );
    await scrubber.runPass();
    expect(blobFilesIn(roots.c).length).toBe(lost);
    const total = Object.values(roots).reduce((n, r) => n + blobFilesIn(r).length, 0);
    expect(total).toBe(26);
    const status = await scrubber.status();
    expect(status.corrupt).toEqual([]);
    expect(status.badReplicas).toBe(0);
    // Each blob's replicas verify on both of its backends.
    for (const [key, data] of objects) expect((await get(t, 'rep', key)).equals(data), key).toBe(true);
  });

  it('a corrupted byte in one replica is detected, never served, and repaired', async () => {
    const { storage, roots } = fsBackends(['a', 'b']);
    dirs.push(...Object.values(roots));
    const t = await start({ storage: { ...storage, replication: 2 } });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'rot' }));
    const small = body(20_000, 'small');
    const large = crypto.randomBytes(2 * 1024 * 1024 + 5);
    await t.s3.send(new PutObjectCommand({ Bucket: 'rot', Key: 'small', Body: small }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'rot', Key: 'large', Body: large }));
    // Corrupt one byte in a's replica of each (the large one in its last frames, after bytes were sent).
    const aFiles = blobFilesIn(roots.a);
    expect(aFiles.length).toBe(2);
    const originals = new Map<string, Buffer>();
    for (const f of aFiles) {
      const raw = fs.readFileSync(f);
      originals.set(f, Buffer.from(raw));
      const at = raw.length > 100_000 ? raw.length - 1000 : 500;
      raw[at] ^= 0x40;
      fs.writeFileSync(f, raw);
    }
    // Reads prefer... whichever replica: either way the bytes must be right.
    for (let i = 0; i < 3; i++) {
      expect((await get(t, 'rot', 'small')).equals(small)).toBe(true);
      expect((await get(t, 'rot', 'large')).equals(large)).toBe(true);
    }
    const scrubber = new Scrubber(t.anvil.core.blobs);
    await scrubber.runPass();
    // Repaired in place: a's replicas are byte-identical to what was written (same data key, same ciphertext).
    for (const f of aFiles) expect(fs.readFileSync(f).equals(originals.get(f)!)).toBe(true);
    expect((await scrubber.status()).badReplicas).toBe(0);
    // With b gone, a alone serves the right bytes.
    fs.renameSync(roots.b, `${roots.b}.away`);
    expect((await get(t, 'rot', 'large')).equals(large)).toBe(true);
    expect((await get(t, 'rot', 'small')).equals(small)).toBe(true);
    fs.renameSync(`${roots.b}.away`, roots.b);
  });

  it('a full backend gives 507 InsufficientStorage and leaves nothing behind', async () => {
    const { storage, roots } = fsBackends(['only'], { only: 1024 * 1024 });
    dirs.push(...Object.values(roots));
    const t = await start({ storage });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'full' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'first', Body: crypto.randomBytes(600_000) }));
    const before = blobFilesIn(roots.only);
    expect(before.length).toBe(1);
    const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'second', Body: crypto.randomBytes(600_000) })));
    expect(err.$metadata.httpStatusCode).toBe(507);
    expect(err.name).toBe('InsufficientStorage');
    expect(await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'full', Key: 'second' })))).toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    const up = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'full', Key: 'multi' }));
    const partErr = await s3Error(
      t.s3.send(
        new UploadPartCommand({ Bucket: 'full', Key: 'multi', UploadId: up.UploadId, PartNumber: 1, Body: crypto.randomBytes(700_000) }),
      ),
    );
    expect(partErr.$metadata.httpStatusCode).toBe(507);
    expect(blobFilesIn(roots.only)).toEqual(before);
    // (The health check's probe files come and go there too.)
    expect(filesUnder(path.join(roots.only, 'tmp')).filter((f) => !path.basename(f).startsWith('.health-'))).toEqual([]);
    expect(stagedFiles(t.dataDir)).toEqual([]);
    const db = t.anvil.core.meta.data;
    expect((await db.selectFrom('blobs').selectAll().execute()).length).toBe(1);
    const usage = await db.selectFrom('backend_usage').selectAll().where('backend', '=', 'only').executeTakeFirstOrThrow();
    expect(Number(usage.blob_count)).toBe(1);
    expect(Number(usage.stored_bytes)).toBe(fs.statSync(before[0]).size);
    // A small object still fits.
    await t.s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'small', Body: 'fits' }));
    expect((await get(t, 'full', 'small')).toString()).toBe('fits');
  });

  it('a backend past its monthly ingress limit takes no more blobs; the counters are kept per month', async () => {
    const { storage, roots } = fsBackends(['metered']);
    dirs.push(...Object.values(roots));
    storage.backends[0].monthly = { ingressBytes: 100_000 };
    const t = await start({ storage });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'metered' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'first', Body: crypto.randomBytes(60_000) }));
    const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'second', Body: crypto.randomBytes(60_000) })));
    expect(err.$metadata.httpStatusCode).toBe(507);
    expect(blobFilesIn(roots.metered).length).toBe(1);
    await t.anvil.core.blobs.replicas.flushMonthly();
    const row = await t.anvil.core.meta.data
      .selectFrom('backend_monthly')
      .selectAll()
      .where('backend', '=', 'metered')
      .executeTakeFirstOrThrow();
    expect(row.month).toBe(new Date().toISOString().slice(0, 7));
    expect(Number(row.ingress_bytes)).toBeGreaterThanOrEqual(60_000);
    expect(Number(row.requests)).toBeGreaterThan(0);
    // Reads still work (egress has no limit here).
    expect((await get(t, 'metered', 'first')).length).toBe(60_000);
  });

  it('rebalance evens out the fill ratios of backends that pack placement filled unevenly', async () => {
    const { storage, roots } = fsBackends(['a', 'b', 'c'], { a: 8 * 1024 * 1024, b: 8 * 1024 * 1024, c: 16 * 1024 * 1024 });
    dirs.push(...Object.values(roots));
    const t = await start({ storage: { ...storage, placement: 'pack' } });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'reb' }));
    const objects = new Map<string, Buffer>();
    for (let i = 0; i < 30; i++) {
      const data = crypto.randomBytes(150_000);
      objects.set(`r${i}`, data);
      await t.s3.send(new PutObjectCommand({ Bucket: 'reb', Key: `r${i}`, Body: data }));
    }
    expect(blobFilesIn(roots.a).length).toBe(30); // pack: all on the first
    await t.anvil.tasks.enqueue(REBALANCE_TASK, { tolerance: 0.05 });
    await waitFor('the rebalance task', async () => (await t.anvil.tasks.list('done')).some((task) => task.type === REBALANCE_TASK));
    const fill = t.anvil.core.blobs.replicas.states().map((s) => s.usedBytes / s.quotaBytes);
    const perBlob = 150_000 / (8 * 1024 * 1024);
    expect(Math.max(...fill) - Math.min(...fill)).toBeLessThanOrEqual(0.05 + perBlob);
    const counts = Object.values(roots).map((r) => blobFilesIn(r).length);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(30);
    expect(counts[2]).toBeGreaterThan(counts[0]); // c is twice as large: it takes about twice as many
    for (const [key, data] of objects) expect((await get(t, 'reb', key)).equals(data), key).toBe(true);
  });

  it('drains a backend of 1000 objects across a restart, leaving it empty and every object readable', async () => {
    const { storage, roots } = fsBackends(['x', 'y']);
    dirs.push(...Object.values(roots));
    const t = await start({ storage });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    const keys = Array.from({ length: 1000 }, (_, i) => `obj/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys.slice(i, i + 50).map((k) => t.s3.send(new PutObjectCommand({ Bucket: 'drain', Key: k, Body: `body of ${k}` }))),
      );
    }
    const onX = await replicasOn(t.anvil.core, 'x');
    expect(onX).toBeGreaterThan(200); // spread put about half there
    await setDraining(t.anvil.core.blobs, 'x', true);
    await t.anvil.tasks.enqueue(DRAIN_TASK, { backend: 'x' });
    await waitFor('the drain to start', async () => (await replicasOn(t.anvil.core, 'x')) < onX - 20);
    await t.restart();
    await waitFor('the drain to finish', async () => (await replicasOn(t.anvil.core, 'x')) === 0, 120_000);
    await waitFor('the drain task to complete', async () => (await t.anvil.tasks.list('done')).some((task) => task.type === DRAIN_TASK));
    expect(blobFilesIn(roots.x)).toEqual([]);
    expect(blobFilesIn(roots.y).length).toBe(1000);
    for (let i = 0; i < keys.length; i += 100) {
      const got = await Promise.all(keys.slice(i, i + 100).map((k) => get(t, 'drain', k)));
      got.forEach((b, j) => expect(b.toString()).toBe(`body of ${keys[i + j]}`));
    }
    // A drained backend takes no new blobs.
    await t.s3.send(new PutObjectCommand({ Bucket: 'drain', Key: 'after', Body: 'after drain' }));
    expect(blobFilesIn(roots.x)).toEqual([]);
  }, 240_000);
});

describe('storage backends config', () => {
  it('refuses replication above the number of backends', async () => {
    const { parseBackendsConfig } = await import('../../src/backends/config.js');
    expect(() =>
      parseBackendsConfig({ replication: 2, backends: [{ name: 'a', type: 'fs', path: '/tmp/a', quota: 'unlimited' }] }, '/tmp/data'),
    ).toThrow(/replication/);
  });
});
