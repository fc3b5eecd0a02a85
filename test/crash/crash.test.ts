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
 * A second phase does the same on a versioning-Enabled bucket: concurrent
 * PUTs (many versions per key), plain deletes (delete markers), deletes by
 * version id (of the latest too, so the previous comes back) and
 * DeleteObjects of both kinds. After every restart, ListObjectVersions (read
 * in small pages) holds every acknowledged version and marker that was not
 * acknowledged-deleted, with its ETag and size, and nothing else but the work
 * of requests that died unanswered; no version id twice; exactly one latest
 * per key, the newest; ids that follow real time (test/support/
 * version-model.ts). Every version reads back byte-exact by id, a read
 * without an id answers the latest, and the bucket's counters match the
 * listing.
 *
 * A third phase kills the server while it merges a branch of many keys into
 * main (issue 15): after every restart either every key of the merge shows
 * on main with the branch's bytes and main's newest commit is the merge, or
 * none does and there is no merge commit; a merge answered before the kill
 * landed. Reference counts and files are checked as above.
 *
 * The first phase also checks the change feed (issue 16) after every
 * restart: every acknowledged change of a key has its event, in the order
 * the changes were acknowledged (events of requests that died unanswered may
 * come between), each key's last event agrees with what the key holds (so
 * no event exists for a write that rolled back), and sequence numbers only
 * grow.
 *
 * CRASH_KILLS sets the number of kills per engine and phase (CI: 10; `npm
 * run test:crash` runs 200).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { openMetaDatabases } from '../../src/meta/engine.js';
import { blobFiles, databaseUrlFor, describeEachEngine, ROOT_KEY, ROOT_SECRET } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';
import { type Listed, ModelViolation, VersionModel } from '../support/version-model.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 10);
const CLIENTS = 4;
const KEYS_PER_CLIENT = 12;
const MiB = 1024 * 1024;
const BIN = path.resolve('bin/anvil.js');
const VBUCKET = 'crashv';
const VKEYS = 10;
/** Small pages, so that pagination by key-marker and version-id-marker is crossed many times. */
const VPAGE = 37;

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
  /** Per key, the events acknowledged changes must have left, in the order they were acknowledged. */
  const ackedEvents = new Map<string, Array<{ name: string; size?: number }>>();
  /** The size of each content (by sha256), to compare with an event's. */
  const sizes = new Map<string | null, number>();

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

  /** Kills the server; resolves (with the time, for the versioned model) once it is dead. */
  async function kill(): Promise<number> {
    const c = child!;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    child = undefined;
    return performance.now();
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
      /** The event the change leaves once acknowledged (none: a delete of nothing; unknown: the key's state is uncertain). */
      let expected: { name: string; size?: number } | undefined | 'unknown';
      if (op < 0.45) {
        const seed = seedCounter++;
        const body = content(seed, randomSize(rng));
        outcome = sha(body);
        sizes.set(outcome, body.length);
        expected = { name: 's3:ObjectCreated:Put', size: body.length };
        send = () => s3.send(new PutObjectCommand({ Bucket: 'crash', Key: key, Body: body }));
      } else if (op < 0.6) {
        const seed = seedCounter++;
        const parts = [content(seed, 5 * MiB), content(seed + 1_000_000, Math.floor(rng() * 300_000))];
        outcome = sha(Buffer.concat(parts));
        const size = parts[0].length + parts[1].length;
        sizes.set(outcome, size);
        expected = { name: 's3:ObjectCreated:CompleteMultipartUpload', size };
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
        expected = removal(model);
        send = () => s3.send(new DeleteObjectCommand({ Bucket: 'crash', Key: key }));
      } else if (op < 0.85) {
        // DeleteObjects of this key (and only keys this client owns, so the model stays per key).
        outcome = null;
        expected = removal(model);
        send = () => s3.send(new DeleteObjectsCommand({ Bucket: 'crash', Delete: { Objects: [{ Key: key }] } }));
      } else {
        // Copy from another of this client's keys whose state is certain.
        const srcKey = keyOf(Math.floor(rng() * KEYS_PER_CLIENT));
        const src = models.get(srcKey);
        if (!src || srcKey === key || src.possible.size !== 1 || src.confirmed === null) continue;
        outcome = src.confirmed;
        expected = { name: 's3:ObjectCreated:Copy', size: sizes.get(outcome) };
        send = () => s3.send(new CopyObjectCommand({ Bucket: 'crash', Key: key, CopySource: `crash/${srcKey}` }));
      }
      model.possible.add(outcome);
      try {
        await send();
        if (expected !== undefined && expected !== 'unknown') {
          const list = ackedEvents.get(key) ?? [];
          // After a change of unknown effect the order of what follows is still checked.
          list.push(expected);
          ackedEvents.set(key, list);
        }
        model.confirmed = outcome;
        model.possible = new Set([outcome]);
        acknowledged++;
      } catch {
        // Killed mid-request (or refused): the outcome stays possible, the old state too.
        return;
      }
    }
  }

  /** What a delete of the key leaves in the feed: a removal if it surely held something, nothing if surely not. */
  function removal(model: KeyModel): { name: string } | undefined | 'unknown' {
    if (model.possible.size !== 1) return 'unknown';
    return model.confirmed === null ? undefined : { name: 's3:ObjectRemoved:Delete' };
  }

  /** Every event of the bucket, through the admin API (page after page). */
  async function allEvents(): Promise<Array<{ seq: number; cursor: string; name: string; key?: string; size?: number }>> {
    const out = [];
    let after = '0';
    for (;;) {
      const res = await signedFetch(
        { endpoint: `http://127.0.0.1:${port}`, accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
        'GET',
        `http://127.0.0.1:${port}/admin/v1/buckets/crash/events?after=${after}&limit=1000`,
      );
      const page = (await res.json()) as {
        events: Array<{ seq: number; cursor: string; name: string; key?: string; size?: number }>;
        cursor: string;
      };
      if (res.status !== 200) throw new Error(`events: HTTP ${res.status} ${JSON.stringify(page)}`);
      out.push(...page.events);
      if (page.events.length === 0) return out;
      after = page.cursor;
    }
  }

  /** The change feed agrees with what was acknowledged and with what each key holds (after verifyObjects). */
  async function verifyEvents(): Promise<number> {
    const events = await allEvents();
    for (let i = 1; i < events.length; i++) {
      if (!(events[i].seq > events[i - 1].seq)) throw new Error(`events out of order: ${events[i - 1].cursor} then ${events[i].cursor}`);
    }
    const byKey = new Map<string, typeof events>();
    for (const e of events) byKey.set(e.key!, [...(byKey.get(e.key!) ?? []), e]);
    for (const [key, model] of models) {
      const seen = byKey.get(key) ?? [];
      // Acknowledged changes: a subsequence of the key's events, in order.
      let at = 0;
      for (const want of ackedEvents.get(key) ?? []) {
        while (at < seen.length && !(seen[at].name === want.name && (want.size === undefined || seen[at].size === want.size))) at++;
        if (at === seen.length) throw new Error(`${key}: acknowledged ${want.name} (${want.size ?? '?'} bytes) has no event`);
        at++;
      }
      // The last event says what the key holds: none was left by a write that rolled back.
      const last = seen[seen.length - 1];
      if (model.confirmed === null) {
        if (last && !last.name.startsWith('s3:ObjectRemoved:')) throw new Error(`${key}: absent, but its last event is ${last.name}`);
      } else if (!last || !last.name.startsWith('s3:ObjectCreated:') || last.size !== sizes.get(model.confirmed)) {
        throw new Error(`${key}: holds ${sizes.get(model.confirmed)} bytes, but its last event is ${JSON.stringify(last)}`);
      }
    }
    return events.length;
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
      // The backend's periodic health check writes and removes a probe file in tmp/: a file counts
      // as staged only if it is still there a moment later.
      const tmp = () => fs.readdirSync(path.join(dataDir, 'tmp'));
      let staged = tmp();
      if (staged.length > 0) {
        await new Promise((r) => setTimeout(r, 500));
        const again = new Set(tmp());
        staged = staged.filter((f) => again.has(f));
      }
      expect(staged, 'staged files').toEqual([]);
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
      let events = 0;
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
        events = await verifyEvents();
      }
      await kill();
      expect(acknowledged).toBeGreaterThan(KILLS);
      expect(events).toBeGreaterThan(0);
      console.log(
        `[crash ${engine}] ${KILLS} kills, ${acknowledged} acknowledged writes, ${models.size} keys and ${events} events verified after every restart`,
      );
    },
    Math.max(120_000, KILLS * 30_000),
  );

  // ---- The versioned phase ----

  const vmodel = new VersionModel();
  /** Error answers from a live server (not requests that died with it): there must be none. */
  const refused: string[] = [];
  /** Completes of multipart uploads, answered or in flight at the kill, to send again to the next server. */
  let retries: Array<(s3: S3Client) => Promise<void>> = [];

  /** Bodies of versions: mostly small, so that many versions are written per round, some of a few MiB. */
  function versionSize(rng: () => number): number {
    const r = rng();
    if (r < 0.1) return 0;
    if (r < 0.9) return Math.floor(rng() * 32 * 1024);
    return Math.floor(rng() * 3 * MiB);
  }

  /** One client's load on the shared keys of the versioned bucket, until stopped or the server dies. */
  async function loadVersioned(s3: S3Client, clientNo: number, stop: { now: boolean }): Promise<void> {
    let state = clientNo * 104729 + seedCounter;
    const rng = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const keyOf = () => `v/k${Math.floor(rng() * VKEYS)}`;
    /** A version or marker of the key known to exist: half the time the newest (so the previous is promoted). */
    const pick = (key: string) => {
      const known = vmodel.known(key).sort((a, b) => (a.versionId < b.versionId ? -1 : 1));
      if (known.length === 0) return undefined;
      return rng() < 0.5 ? known[0] : known[Math.floor(rng() * known.length)];
    };
    while (!stop.now) {
      const key = keyOf();
      const op = rng();
      let send: () => Promise<void>;
      let what: string;
      if (op < 0.45) {
        const body = content(seedCounter++, versionSize(rng));
        const ack = vmodel.put(key, body);
        what = `PUT ${key}`;
        send = async () => {
          const res = await s3.send(new PutObjectCommand({ Bucket: VBUCKET, Key: key, Body: body }));
          ack(res.VersionId, res.ETag);
        };
      } else if (op < 0.49) {
        // Multipart: every Complete is sent again after the restart (retried if it died unanswered).
        const parts = [crypto.randomBytes(5 * MiB), crypto.randomBytes(Math.floor(rng() * 100_000))];
        const whole = Buffer.concat(parts);
        const md5s = parts.map((b) => crypto.createHash('md5').update(b).digest());
        const etag = `"${crypto.createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${parts.length}"`;
        what = `multipart ${key}`;
        send = async () => {
          const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: VBUCKET, Key: key }));
          const etags = [];
          for (let i = 0; i < parts.length; i++) {
            const res = await s3.send(new UploadPartCommand({ Bucket: VBUCKET, Key: key, UploadId, PartNumber: i + 1, Body: parts[i] }));
            etags.push(res.ETag);
          }
          const complete = new CompleteMultipartUploadCommand({
            Bucket: VBUCKET,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          });
          const ack = vmodel.write(key, { sha: sha(whole), etag, size: whole.length });
          try {
            const res = await s3.send(complete);
            ack(res.VersionId, res.ETag);
            // Sent again after the restart, the same Complete must get the same answer and write nothing.
            retries.push(async (c) => {
              const again = await c.send(new CompleteMultipartUploadCommand(complete.input));
              if (again.VersionId !== res.VersionId || again.ETag !== res.ETag) {
                throw new ModelViolation(
                  `Complete of ${key} (upload ${UploadId}) answered ${res.VersionId} ${res.ETag}, ` +
                    `and after the restart ${again.VersionId} ${again.ETag}`,
                );
              }
            });
          } catch (err) {
            if (err instanceof ModelViolation) throw err;
            // Answered by the next server: the version that landed, or one made now; never a second.
            retries.push(async (c) => {
              const res = await c.send(new CompleteMultipartUploadCommand(complete.input)).catch((e: Error) => {
                throw new ModelViolation(`Complete of ${key} (upload ${UploadId}) sent again after the restart: ${e.name}: ${e.message}`);
              });
              ack(res.VersionId, res.ETag);
            });
            throw err;
          }
        };
      } else if (op < 0.55) {
        // A copy of one version, named by id, of another key.
        const srcKey = keyOf();
        const src = pick(srcKey);
        if (!src || src.marker) continue;
        const ack = vmodel.write(key, { sha: src.sha!, etag: src.etag!, size: src.size! });
        what = `CopyObject ${srcKey}@${src.versionId} to ${key}`;
        send = async () => {
          const res = await s3
            .send(new CopyObjectCommand({ Bucket: VBUCKET, Key: key, CopySource: `${VBUCKET}/${srcKey}?versionId=${src.versionId}` }))
            .catch((err: { $metadata?: { httpStatusCode?: number } }) => {
              // Its source deleted meanwhile by another client: a fair refusal, and nothing was written.
              if (err.$metadata?.httpStatusCode === 404 && vmodel.mayBeGone(srcKey, src.versionId)) return undefined;
              throw err;
            });
          if (!res) return ack.refused();
          if (res.CopySourceVersionId !== src.versionId) {
            throw new ModelViolation(`${what}: x-amz-copy-source-version-id ${res.CopySourceVersionId}`);
          }
          ack(res.VersionId, res.CopyObjectResult?.ETag);
        };
      } else if (op < 0.65) {
        const ack = vmodel.deleteToMarker(key);
        what = `DELETE ${key}`;
        send = async () => {
          const res = await s3.send(new DeleteObjectCommand({ Bucket: VBUCKET, Key: key }));
          ack(res.DeleteMarker, res.VersionId);
        };
      } else if (op < 0.88) {
        const target = pick(key);
        if (!target) continue;
        const ack = vmodel.deleteVersion(key, target.versionId);
        what = `DELETE ${key}?versionId=${target.versionId}`;
        send = async () => {
          const res = await s3.send(new DeleteObjectCommand({ Bucket: VBUCKET, Key: key, VersionId: target.versionId }));
          ack(res.VersionId);
        };
      } else {
        // DeleteObjects: a delete marker for one key and/or one version of another, in one request.
        const other = keyOf();
        const target = other === key ? undefined : pick(other);
        const withMarker = !target || rng() < 0.5;
        const ackMarker = withMarker ? vmodel.deleteToMarker(key) : undefined;
        const ackVersion = target ? vmodel.deleteVersion(other, target.versionId) : undefined;
        const objects = [...(withMarker ? [{ Key: key }] : []), ...(target ? [{ Key: other, VersionId: target.versionId }] : [])];
        what = `DeleteObjects ${JSON.stringify(objects)}`;
        send = async () => {
          const res = await s3.send(new DeleteObjectsCommand({ Bucket: VBUCKET, Delete: { Objects: objects } }));
          if ((res.Errors ?? []).length > 0) throw new ModelViolation(`${what}: errors ${JSON.stringify(res.Errors)}`);
          if (ackMarker) {
            const d = res.Deleted?.find((e) => e.Key === key && e.VersionId === undefined);
            ackMarker(d?.DeleteMarker, d?.DeleteMarkerVersionId);
          }
          if (ackVersion && target) ackVersion(res.Deleted?.find((e) => e.Key === other && e.VersionId === target.versionId)?.VersionId);
        };
      }
      try {
        await send();
      } catch (err) {
        if (err instanceof ModelViolation) throw err;
        // An answer with an error status came from a live server: a refusal, not a crash.
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== undefined) refused.push(`${what}: ${status} ${(err as Error).name}: ${(err as Error).message}`);
        // Killed mid-request: the request stays pending in the model (it may have landed or not).
        return;
      }
    }
  }

  /** Every version and marker of the versioned bucket, through ListObjectVersions in small pages. */
  async function listVersions(s3: S3Client): Promise<Listed[]> {
    const out: Listed[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages, 'ListObjectVersions pages').toBeLessThan(10_000);
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: VBUCKET, MaxKeys: VPAGE, KeyMarker, VersionIdMarker }));
      const entries: Listed[] = [
        ...(page.Versions ?? []).map((v) => ({
          key: v.Key!,
          versionId: v.VersionId!,
          isLatest: v.IsLatest === true,
          marker: false,
          etag: v.ETag,
          size: v.Size,
        })),
        ...(page.DeleteMarkers ?? []).map((m) => ({ key: m.Key!, versionId: m.VersionId!, isLatest: m.IsLatest === true, marker: true })),
      ];
      // Versions and markers come as two lists; their merge is in (key, id) order as the response's was.
      entries.sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.versionId < b.versionId ? -1 : 1));
      expect(entries.length, 'entries in a page').toBeLessThanOrEqual(VPAGE);
      for (const e of entries) {
        const last = out.at(-1);
        if (last && !(last.key < e.key || (last.key === e.key && last.versionId < e.versionId))) {
          throw new Error(`ListObjectVersions out of order or repeated: ${last.key}@${last.versionId} then ${e.key}@${e.versionId}`);
        }
        out.push(e);
      }
      if (!page.IsTruncated) return out;
      expect(entries.length, 'entries in a truncated page').toBe(VPAGE);
      KeyMarker = page.NextKeyMarker;
      VersionIdMarker = page.NextVersionIdMarker;
      expect(KeyMarker, 'NextKeyMarker of a truncated page').toBeTruthy();
    }
  }

  /** After a restart: the listing against the model, every new version by id, the latest without one, the counters. */
  async function verifyVersioned(killedAt: number): Promise<{ landed: number; lost: number }> {
    const s3 = client();
    try {
      const listing = await listVersions(s3);
      const { fresh, landed, lost } = vmodel.resolve(listing, killedAt);
      for (const v of fresh) {
        if (v.marker) {
          const err = await s3.send(new GetObjectCommand({ Bucket: VBUCKET, Key: v.key, VersionId: v.versionId })).then(
            () => undefined,
            (e: { $metadata?: { httpStatusCode?: number } }) => e,
          );
          expect(err?.$metadata?.httpStatusCode, `GET of delete marker ${v.key}@${v.versionId}`).toBe(405);
        } else {
          const res = await s3.send(new GetObjectCommand({ Bucket: VBUCKET, Key: v.key, VersionId: v.versionId }));
          const got = sha(Buffer.from(await res.Body!.transformToByteArray()));
          expect({ sha: got, versionId: res.VersionId, etag: res.ETag }, `GET ${v.key}@${v.versionId}`).toEqual({
            sha: v.sha,
            versionId: v.versionId,
            etag: v.etag,
          });
        }
        v.verified = true;
      }
      // A read without a version id answers the key's latest: the first listed.
      for (const key of vmodel.keys.keys()) {
        const latest = listing.find((l) => l.key === key);
        const res = await s3.send(new GetObjectCommand({ Bucket: VBUCKET, Key: key })).then(
          async (r) => ({ versionId: r.VersionId, sha: sha(Buffer.from(await r.Body!.transformToByteArray())) }),
          (e: { name?: string }) => {
            if (e.name !== 'NoSuchKey') throw e;
            return { versionId: undefined, sha: undefined };
          },
        );
        const want = latest && !latest.marker ? vmodel.known(key).find((v) => v.versionId === latest.versionId) : undefined;
        expect(res, `GET ${key} (latest ${latest?.versionId}${latest?.marker ? ', a delete marker' : ''})`).toEqual({
          versionId: want?.versionId,
          sha: want?.sha,
        });
      }
      // The bucket's counters agree with what is listed, and no version id can be handed out again.
      const meta = openMetaDatabases(db.url);
      try {
        const bucket = await meta.control.selectFrom('buckets').select('id').where('name', '=', VBUCKET).executeTakeFirstOrThrow();
        const st = await meta.data.selectFrom('bucket_state').selectAll().where('bucket_id', '=', bucket.id).executeTakeFirstOrThrow();
        const rows = await meta.data.selectFrom('object_versions').select('seq').where('bucket_id', '=', bucket.id).execute();
        const versions = listing.filter((l) => !l.marker);
        const live = versions.filter((l) => l.isLatest);
        const total = (ls: Listed[]) => ls.reduce((n, l) => n + (l.size ?? 0), 0);
        expect(
          {
            objects: Number(st.object_count),
            bytes: Number(st.byte_count),
            versions: Number(st.version_count),
            versionBytes: Number(st.version_bytes),
            markers: Number(st.marker_count),
            rows: rows.length,
          },
          'bucket_state of the versioned bucket',
        ).toEqual({
          objects: live.length,
          bytes: total(live),
          versions: versions.length,
          versionBytes: total(versions),
          markers: listing.length - versions.length,
          rows: listing.length,
        });
        const maxSeq = Math.max(0, ...rows.map((r) => Number(r.seq)));
        expect(Number(st.last_seq), 'last_seq covers every version').toBeGreaterThanOrEqual(maxSeq);
      } finally {
        await meta.close();
      }
      return { landed, lost };
    } finally {
      s3.destroy();
    }
  }

  it(
    `versioned bucket: survives ${KILLS} kill -9 under concurrent versioned writes and deletes with every acknowledged version kept`,
    async () => {
      await startServer();
      const admin = client();
      await admin.send(new CreateBucketCommand({ Bucket: VBUCKET }));
      await admin.send(new PutBucketVersioningCommand({ Bucket: VBUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
      admin.destroy();
      let landed = 0;
      let lost = 0;
      let retried = 0;
      for (let round = 0; round < KILLS; round++) {
        const stop = { now: false };
        const clients = Array.from({ length: CLIENTS }, () => client());
        const running = clients.map((s3, i) => loadVersioned(s3, i, stop));
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 1500));
        const killedAt = await kill();
        stop.now = true;
        const settled = await Promise.allSettled(running);
        for (const c of clients) c.destroy();
        for (const s of settled) if (s.status === 'rejected') throw s.reason;
        expect(refused, 'error answers from the live server').toEqual([]);
        await startServer();
        const retryClient = client();
        for (const retry of retries) await retry(retryClient);
        retryClient.destroy();
        retried += retries.length;
        retries = [];
        const r = await verifyVersioned(killedAt);
        landed += r.landed;
        lost += r.lost;
        await verifyStorage();
      }
      await kill();
      const versions = [...vmodel.keys.values()].reduce((n, h) => n + h.known.size, 0);
      expect(vmodel.acknowledged).toBeGreaterThan(KILLS);
      console.log(
        `[crash ${engine}] versioned: ${KILLS} kills, ${vmodel.acknowledged} acknowledged writes and deletes, ` +
          `${landed} unanswered that landed, ${lost} that did not, ${retried} Completes sent again after a restart, ` +
          `${versions} versions and markers verified at the end`,
      );
    },
    Math.max(120_000, KILLS * 30_000),
  );

  it(
    `branches: a merge killed at ${KILLS} random moments is all or nothing`,
    async () => {
      const MBUCKET = 'crash-merge';
      const MERGE_KEYS = 150;
      const endpoint = () => `http://127.0.0.1:${port}`;
      const api = async (method: string, apiPath: string, body?: unknown) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const res = await signedFetch(
          { endpoint: endpoint(), accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
          method,
          `${endpoint()}/admin/v1${apiPath}`,
          { body: text, headers: text === undefined ? {} : { 'content-type': 'application/json' } },
        );
        const out = await res.text();
        return { status: res.status, json: out ? JSON.parse(out) : undefined };
      };
      await startServer();
      let s3 = client();
      await s3.send(new CreateBucketCommand({ Bucket: MBUCKET }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: MBUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
      let applied = 0;
      let undone = 0;
      // How long a merge takes here (learned from answered ones): kills land before, during and after it.
      let mergeMs = 600;
      for (let round = 0; round < KILLS; round++) {
        const branch = `r${round}`;
        expect((await api('POST', `/buckets/${MBUCKET}/branches`, { name: branch })).status).toBe(201);
        const bodies = new Map<string, Buffer>();
        for (let i = 0; i < MERGE_KEYS; i++) {
          const key = `k${i % 50}/${i}`;
          const body = content(seedCounter++, 64 + (i % 7) * 100);
          bodies.set(key, body);
          await s3.send(new PutObjectCommand({ Bucket: `${MBUCKET}--${branch}`, Key: key, Body: body }));
        }
        const before = await api('GET', `/buckets/${MBUCKET}/commits?ref=main&limit=1`);
        let answered = false;
        const started = performance.now();
        const merging = api('POST', `/buckets/${MBUCKET}/branches/main/merges`, { source: branch, strategy: 'source-wins' }).then(
          (r) => {
            answered = r.status === 200;
            if (answered) mergeMs = (mergeMs + (performance.now() - started)) / 2;
          },
          () => undefined,
        );
        await new Promise((r) => setTimeout(r, Math.random() * mergeMs * 1.5));
        await kill();
        await merging;
        s3.destroy();
        await startServer();
        s3 = client();
        const head = await api('GET', `/buckets/${MBUCKET}/commits?ref=main&limit=1`);
        const merged = head.json.commits[0]?.message === `Merge ${branch} into main`;
        if (answered) expect(merged, 'an answered merge landed').toBe(true);
        if (!merged) expect(head.json.commits[0]?.id).toBe(before.json.commits[0]?.id ?? head.json.commits[0]?.id);
        for (const [key, body] of bodies) {
          let got: Buffer | null = null;
          try {
            const res = await s3.send(new GetObjectCommand({ Bucket: MBUCKET, Key: key }));
            got = Buffer.from(await res.Body!.transformToByteArray());
          } catch (err) {
            if ((err as Error).name !== 'NoSuchKey') throw err;
          }
          // Keys of earlier rounds' merges differ from this round's (a new branch, new bodies).
          if (merged) expect(got && got.equals(body), `${key} merged`).toBe(true);
          else expect(got === null || !got.equals(body), `${key} not merged`).toBe(true);
        }
        if (merged) applied++;
        else undone++;
        await verifyStorage();
      }
      await kill();
      console.log(`[crash ${engine}] merges: ${KILLS} kills, ${applied} merges landed whole, ${undone} left nothing`);
    },
    Math.max(120_000, KILLS * 30_000),
  );
});
