/**
 * A full disk under a running server (issue 12, finding 5). The data folder
 * is a tiny tmpfs, filled up with one big file while the server runs:
 *
 * - SQLite: the realistic single-disk install, anvil.db and its WAL on the
 *   same full file system as the blobs and the staging folder;
 * - PostgreSQL: the database lives elsewhere, only the data folder fills.
 *
 * Writes must answer 507 InsufficientStorage (never 500), leave no staged or
 * blob file and no metadata behind; every acknowledged object stays readable
 * with its exact bytes; the error is logged once per episode; and once the
 * filler is deleted the very next PUT succeeds, without a restart.
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
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { blobFiles, describeEachEngine, type EngineName, s3Error, stagedFiles, startTestAnvil, type TestAnvil } from '../support/anvil.js';
import { fillDisk, mountTmpfs, skipWithoutTmpfs, type Tmpfs } from '../support/tmpfs.js';

const noTmpfs = skipWithoutTmpfs('the full-disk suite (test/integration/disk-full.test.ts)');

const TMPFS_BYTES = 6 * 1024 * 1024;
const BUCKET = 'full';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}
const ERROR = 50;
const INFO = 30;

describeEachEngine('a full data folder', (engine: EngineName) => {
  describe.skipIf(noTmpfs)('507, nothing left behind, reads go on, recovery without restart', () => {
    let disk: Tmpfs | undefined;
    let t: TestAnvil | undefined;
    const logs: LogLine[] = [];
    const filler = () => path.join(disk!.dir, 'filler.bin');
    const kept = new Map<string, Buffer>();
    let uploadId: string;
    let blobsBefore: string[];

    const s3 = () => t!.s3;
    const get = async (key: string): Promise<Buffer> => {
      const res = await s3().send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    };
    const put = (key: string, body: Buffer) => s3().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    /** Staged files, without the fs backend's own health probe (a moment's file of 2 bytes). */
    const staged = () => stagedFiles(t!.dataDir).filter((f) => !f.startsWith('.health-'));
    const fullErrors = () => logs.filter((l) => l.level === ERROR && /is full/.test(l.msg));
    const metric = async (name: string): Promise<string[]> => {
      const text = await (await fetch(`${t!.endpoint}/-/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith(name));
    };

    beforeAll(async () => {
      disk = mountTmpfs(TMPFS_BYTES); // unmounted by afterAll, which runs even when this hook fails
      const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
      // The default worker interval: a backend marked unhealthy while full would stay passed over
      // by placement for up to a tick after space returns (the recovery test would see it).
      t = await startTestAnvil(engine, {}, {}, { dataDir: disk.dir, log });
      if (engine === 'sqlite') expect(fs.existsSync(path.join(disk.dir, 'anvil.db'))).toBe(true);
      await s3().send(new CreateBucketCommand({ Bucket: BUCKET }));
      // Acknowledged before the disk fills: a small body (written in place) and a large one (staged, renamed).
      for (const [key, size] of [
        ['small', 10_000],
        ['large', 400_000],
      ] as const) {
        const body = crypto.randomBytes(size);
        await put(key, body);
        kept.set(key, body);
      }
      uploadId = (await s3().send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi' }))).UploadId!;
      blobsBefore = blobFiles(t.dataDir).sort();
      const filled = fillDisk(filler());
      expect(filled).toBeGreaterThan(0);
    });

    afterAll(async () => {
      try {
        await t?.stop();
      } finally {
        disk?.remove();
      }
    });

    it('refuses PUTs of every size with 507 InsufficientStorage, leaving no file and no metadata', async () => {
      for (const [key, size] of [
        ['new-small', 20_000],
        ['new-large', 1024 * 1024],
        ['small', 30_000], // an overwrite must leave the old version in place
        ['large', 700_000],
      ] as const) {
        const err = await s3Error(put(key, crypto.randomBytes(size)));
        expect({ key, status: err.$metadata.httpStatusCode, code: err.name }).toEqual({ key, status: 507, code: 'InsufficientStorage' });
      }
      expect(staged()).toEqual([]);
      expect(blobFiles(t!.dataDir).sort()).toEqual(blobsBefore);
      for (const key of ['new-small', 'new-large']) {
        const err = await s3Error(s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })));
        expect(err.$metadata.httpStatusCode).toBe(404);
      }
    });

    it('refuses UploadPart with 507 and records no part', async () => {
      for (const size of [50_000, 2 * 1024 * 1024]) {
        const err = await s3Error(
          s3().send(
            new UploadPartCommand({ Bucket: BUCKET, Key: 'multi', UploadId: uploadId, PartNumber: 1, Body: crypto.randomBytes(size) }),
          ),
        );
        expect({ size, status: err.$metadata.httpStatusCode, code: err.name }).toEqual({ size, status: 507, code: 'InsufficientStorage' });
      }
      const parts = await s3().send(new ListPartsCommand({ Bucket: BUCKET, Key: 'multi', UploadId: uploadId }));
      expect(parts.Parts ?? []).toEqual([]);
      expect(staged()).toEqual([]);
      expect(blobFiles(t!.dataDir).sort()).toEqual(blobsBefore);
    });

    it('keeps serving HEAD, GET and LIST of the acknowledged objects with their exact bytes', async () => {
      for (const [key, body] of kept) {
        expect((await get(key)).equals(body)).toBe(true);
        const head = await s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
        expect(head.ContentLength).toBe(body.length);
      }
      const list = await s3().send(new ListObjectsV2Command({ Bucket: BUCKET }));
      expect((list.Contents ?? []).map((o) => o.Key)).toEqual(['large', 'small']);
    });

    it('keeps the full local backend healthy for placement (full is not sick: reads work, writes fail fast)', async () => {
      const replicas = t!.anvil.core.blobs.replicas;
      const local = replicas.backends.get(replicas.localName!)!;
      const health = await local.health();
      expect(health).toMatchObject({ ok: true, detail: 'no space left' });
      expect(health.capacity!.freeBytes).toBeLessThan(64 * 1024);
      expect(staged()).toEqual([]);
    });

    it('logs the full disk at error level once for the whole episode, and exposes it as a metric', async () => {
      const errors = fullErrors();
      expect(errors).toHaveLength(1);
      expect(errors[0].msg).toContain(`data folder is full: ${t!.dataDir}, free bytes`);
      expect(errors[0]).toMatchObject({ path: t!.dataDir });
      // Requests that failed for lack of space are not "request failed" errors either.
      expect(logs.filter((l) => l.level === ERROR && l.msg !== errors[0].msg)).toEqual([]);
      expect(await metric('anvil_disk_full{place="data folder"}')).toEqual(['anvil_disk_full{place="data folder"} 1']);
      const [refused] = await metric('anvil_disk_full_refusals_total');
      expect(Number(refused.split(' ')[1])).toBeGreaterThanOrEqual(6);
    });

    it(
      engine === 'sqlite'
        ? 'answers 507 when the metadata database itself cannot grow (SQLite on the full disk), and still serves reads'
        : 'keeps taking metadata-only writes (PostgreSQL is not on the full disk)',
      async () => {
        // CreateMultipartUpload writes only metadata: ~2 KB of user metadata per upload.
        const meta = { pad: 'm'.repeat(1900) };
        let refusal: { status?: number; code: string } | undefined;
        let created = 0;
        for (let i = 0; i < 3000 && !refusal; i++) {
          try {
            await s3().send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `meta-${i}`, Metadata: meta }));
            created++;
          } catch (err) {
            const e = await s3Error(Promise.reject(err));
            refusal = { status: e.$metadata.httpStatusCode, code: e.name };
          }
          if (engine === 'postgres' && created === 50) break;
        }
        if (engine === 'sqlite') expect(refusal).toEqual({ status: 507, code: 'InsufficientStorage' });
        else expect({ refusal, created }).toEqual({ refusal: undefined, created: 50 });
        for (const [key, body] of kept) expect((await get(key)).equals(body)).toBe(true);
        expect(fullErrors()).toHaveLength(1);
      },
    );

    it('takes writes again as soon as space is freed, with no restart, and says so once', async () => {
      fs.rmSync(filler());
      const body = crypto.randomBytes(300_000);
      await put('after', body);
      expect((await get('after')).equals(body)).toBe(true);
      const small = crypto.randomBytes(5000);
      await put('after-small', small);
      expect((await get('after-small')).equals(small)).toBe(true);
      const part = crypto.randomBytes(100_000);
      const { ETag } = await s3().send(
        new UploadPartCommand({ Bucket: BUCKET, Key: 'multi', UploadId: uploadId, PartNumber: 1, Body: part }),
      );
      await s3().send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'multi',
          UploadId: uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
        }),
      );
      expect((await get('multi')).equals(part)).toBe(true);
      for (const [key, b] of kept) expect((await get(key)).equals(b)).toBe(true);
      const again = logs.filter((l) => l.level === INFO && /space available again/.test(l.msg));
      expect(again).toHaveLength(1);
      expect(again[0]).toMatchObject({ path: t!.dataDir });
      expect(await metric('anvil_disk_full{place="data folder"}')).toEqual(['anvil_disk_full{place="data folder"} 0']);
      expect(fullErrors()).toHaveLength(1);
    });
  });
});
