/**
 * Crash test: a real Anvil process under mixed concurrent load is killed
 * with SIGKILL at random moments and restarted, again and again. After every
 * restart:
 *
 * - every acknowledged write reads back byte-exact (or the value of a later
 *   acknowledged write/delete; a request in flight at the kill may have
 *   landed or not, but never half);
 * - no object reads back torn;
 * - after the start-up reconciliation there is no blob file that no row
 *   names, no blob row whose file is missing, no staged file, and every
 *   blob's reference count equals the references that point at it.
 *
 * CRASH_KILLS sets the number of kills per engine (CI: 10; `npm run
 * test:crash` runs 200).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { openMetaDatabases } from '../../src/meta/engine.js';
import { blobFiles, databaseUrlFor, describeEachEngine, ROOT_KEY, ROOT_SECRET } from '../support/anvil.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 10);
const CLIENTS = 4;
const KEYS_PER_CLIENT = 12;
const MiB = 1024 * 1024;
const BIN = path.resolve('bin/anvil.js');

/** Deterministic content: the same (seed, size) always gives the same bytes. */
function content(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = crypto.createHash('sha256').update(String(seed)).digest();
  for (let off = 0; off < size; off += 32) {
    block.copy(out, off, 0, Math.min(32, size - off));
    block = crypto.createHash('sha256').update(block).digest();
  }
  return out;
}

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** What a key may hold: the last acknowledged state, plus states of requests in flight at the kill. */
interface KeyModel {
  confirmed: string | null; // sha256, or null for absent
  possible: Set<string | null>;
}

function randomSize(rng: () => number): number {
  const r = rng();
  if (r < 0.1) return 0;
  if (r < 0.75) return Math.floor(rng() * 64 * 1024);
  if (r < 0.95) return Math.floor(rng() * 2 * MiB);
  return Math.floor(rng() * 20 * MiB);
}

describeEachEngine('crash safety', (engine) => {
  let dataDir: string;
  let db: { url: string; drop(): Promise<void> };
  let port: number;
  let child: ChildProcess | undefined;
  const models = new Map<string, KeyModel>();
  let seedCounter = 1;
  let acknowledged = 0;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-crash-'));
    db = await databaseUrlFor(engine, dataDir);
    port = 20000 + Math.floor(Math.random() * 20000);
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await db?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function startServer(): Promise<void> {
    child = spawn(process.execPath, [BIN, 'server'], {
      env: {
        ...process.env,
        ANVIL_LISTEN: `127.0.0.1:${port}`,
        ANVIL_DATA_DIR: dataDir,
        ANVIL_DATABASE_URL: db.url,
        ANVIL_ROOT_ACCESS_KEY: ROOT_KEY,
        ANVIL_ROOT_SECRET_KEY: ROOT_SECRET,
        ANVIL_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('Anvil listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child!.stdout!.on('data', onData);
      child!.stderr!.on('data', onData);
      child!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${output}`));
      });
    });
    child.removeAllListeners('exit');
  }

  async function kill(): Promise<void> {
    const c = child!;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    child = undefined;
  }

  function client(): S3Client {
    return new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
      maxAttempts: 1,
    });
  }

  /** One client's load: sequential random operations on its own keys until stopped or the server dies. */
  async function load(s3: S3Client, clientNo: number, stop: { now: boolean }): Promise<void> {
    let state = clientNo * 7919 + seedCounter;
    const rng = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const keyOf = (i: number) => `c${clientNo}/k${i}`;
    while (!stop.now) {
      const key = keyOf(Math.floor(rng() * KEYS_PER_CLIENT));
      const model = models.get(key) ?? { confirmed: null, possible: new Set([null]) };
      models.set(key, model);
      const op = rng();
      // The outcome this operation would produce, registered as possible before sending.
      let outcome: string | null;
      let send: () => Promise<unknown>;
      if (op < 0.45) {
        const seed = seedCounter++;
        const body = content(seed, randomSize(rng));
        outcome = sha(body);
        send = () => s3.send(new PutObjectCommand({ Bucket: 'crash', Key: key, Body: body }));
      } else if (op < 0.6) {
        const seed = seedCounter++;
        const parts = [content(seed, 5 * MiB), content(seed + 1_000_000, Math.floor(rng() * 300_000))];
        outcome = sha(Buffer.concat(parts));
        send = async () => {
          const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'crash', Key: key }));
          const etags = [];
          for (let i = 0; i < parts.length; i++) {
            etags.push(
              (await s3.send(new UploadPartCommand({ Bucket: 'crash', Key: key, UploadId, PartNumber: i + 1, Body: parts[i] }))).ETag,
            );
          }
          await s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: 'crash',
              Key: key,
              UploadId,
              MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
            }),
          );
        };
      } else if (op < 0.75) {
        outcome = null;
        send = () => s3.send(new DeleteObjectCommand({ Bucket: 'crash', Key: key }));
      } else if (op < 0.85) {
        // DeleteObjects of this key (and only keys this client owns, so the model stays per key).
        outcome = null;
        send = () => s3.send(new DeleteObjectsCommand({ Bucket: 'crash', Delete: { Objects: [{ Key: key }] } }));
      } else {
        // Copy from another of this client's keys whose state is certain.
        const srcKey = keyOf(Math.floor(rng() * KEYS_PER_CLIENT));
        const src = models.get(srcKey);
        if (!src || srcKey === key || src.possible.size !== 1 || src.confirmed === null) continue;
        outcome = src.confirmed;
        send = () => s3.send(new CopyObjectCommand({ Bucket: 'crash', Key: key, CopySource: `crash/${srcKey}` }));
      }
      model.possible.add(outcome);
      try {
        await send();
        model.confirmed = outcome;
        model.possible = new Set([outcome]);
        acknowledged++;
      } catch {
        // Killed mid-request (or refused): the outcome stays possible, the old state too.
        return;
      }
    }
  }

  async function verifyObjects(): Promise<void> {
    const s3 = client();
    try {
      for (const [key, model] of models) {
        let actual: string | null;
        try {
          const res = await s3.send(new GetObjectCommand({ Bucket: 'crash', Key: key }));
          actual = sha(Buffer.from(await res.Body!.transformToByteArray()));
        } catch (err) {
          if ((err as { name?: string }).name !== 'NoSuchKey') throw err;
          actual = null;
        }
        if (!model.possible.has(actual)) {
          throw new Error(`${key}: read ${actual}, expected one of ${[...model.possible].join(', ')}`);
        }
        // Whatever it reads now is what it is: later kills start from here.
        model.confirmed = actual;
        model.possible = new Set([actual]);
      }
    } finally {
      s3.destroy();
    }
  }

  /** Blob files, blob rows and reference counts agree exactly (checked while the server is idle). */
  async function verifyStorage(): Promise<void> {
    const meta = openMetaDatabases(db.url);
    try {
      const rows = await meta.data.selectFrom('blobs').selectAll().execute();
      const versions = await meta.data.selectFrom('object_versions').select('manifest').execute();
      const parts = await meta.data.selectFrom('multipart_parts').select('blob_hash').execute();
      const queued = await meta.data.selectFrom('cleanup_queue').select(['hash', 'file_id']).execute();
      const refs = new Map<string, number>();
      for (const v of versions)
        for (const [hash] of JSON.parse(v.manifest) as [string, number][]) refs.set(hash, (refs.get(hash) ?? 0) + 1);
      for (const p of parts) if (p.blob_hash) refs.set(p.blob_hash, (refs.get(p.blob_hash) ?? 0) + 1);
      const files = new Set(blobFiles(dataDir).map((f) => path.basename(f)));
      const queuedFiles = new Set(queued.map((q) => `${q.hash}.${q.file_id}`));
      for (const row of rows) {
        expect(Number(row.ref_count), `ref count of ${row.hash}`).toBe(refs.get(row.hash) ?? 0);
        if (Number(row.ref_count) > 0) expect(files.has(`${row.hash}.${row.file_id}`), `file of ${row.hash}`).toBe(true);
      }
      for (const hash of refs.keys())
        expect(
          rows.some((r) => r.hash === hash),
          `row for referenced ${hash}`,
        ).toBe(true);
      const named = new Set(rows.map((r) => `${r.hash}.${r.file_id}`));
      const unreferenced = [...files].filter((f) => !named.has(f) && !queuedFiles.has(f));
      expect(unreferenced, 'blob files no row names').toEqual([]);
      expect(fs.readdirSync(path.join(dataDir, 'tmp')), 'staged files').toEqual([]);
    } finally {
      await meta.close();
    }
  }

  it(
    `survives ${KILLS} kill -9 under mixed load with every acknowledged write intact`,
    async () => {
      await startServer();
      const admin = client();
      await admin.send(new CreateBucketCommand({ Bucket: 'crash' }));
      admin.destroy();
      for (let round = 0; round < KILLS; round++) {
        const stop = { now: false };
        const clients = Array.from({ length: CLIENTS }, () => client());
        const running = clients.map((s3, i) => load(s3, i, stop));
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 1200));
        await kill();
        stop.now = true;
        await Promise.all(running);
        for (const c of clients) c.destroy();
        await startServer();
        await verifyObjects();
        await verifyStorage();
      }
      await kill();
      expect(acknowledged).toBeGreaterThan(KILLS);
      console.log(
        `[crash ${engine}] ${KILLS} kills, ${acknowledged} acknowledged writes, ${models.size} keys verified after every restart`,
      );
    },
    Math.max(120_000, KILLS * 30_000),
  );
});
