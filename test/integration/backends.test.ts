/**
 * The storage-backend contract, run against the fs backend in a temp folder
 * and against the s3 backend talking to a second, real Anvil on loopback.
 * No mocks: failures are real (a stopped server, a server that never
 * answers, a folder whose marker is gone).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

import { CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Anvil, startAnvil } from '../../src/app.js';
import { type Backend, BackendError, BackendNotFound, BackendUnavailable, type BackendUsage } from '../../src/backends/backend.js';
import { openReplica } from '../../src/backends/failover.js';
import { FsBackend } from '../../src/backends/fs-backend.js';
import { GuardedBackend } from '../../src/backends/guarded.js';
import { S3Backend, type S3BackendOptions } from '../../src/backends/s3-backend.js';
import { startTestAnvil, type TestAnvil, useAnvil } from '../support/anvil.js';

const MiB = 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A body in uneven chunks, so parts never line up with chunk boundaries. */
function chunked(data: Buffer, chunk = 777_777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  return Readable.from(parts);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-backend-'));
}

interface Harness {
  backend: Backend;
  usage: BackendUsage[];
  /** Leftovers of interrupted puts: fs temp files, s3 incomplete multipart uploads. */
  leftovers(): Promise<number>;
  /** Makes one leftover that is `ageMs` old, for sweep(). */
  makeLeftover(): Promise<void>;
  cleanup(): Promise<void>;
}

function contract(kind: 'fs' | 's3', make: () => Promise<Harness>): void {
  describe(`backend contract [${kind}]`, () => {
    let h: Harness;
    let b: Backend;
    beforeAll(async () => {
      h = await make();
      b = h.backend;
    });
    afterAll(async () => {
      await h?.cleanup();
    });

    it('put, stat, get whole and ranged', async () => {
      const data = crypto.randomBytes(100_000);
      expect(await b.put('t1/ab/cd/obj.1', Readable.from([data]), { size: data.length })).toEqual({ size: data.length });
      expect(await b.stat('t1/ab/cd/obj.1')).toEqual({ size: data.length });
      expect((await readAll(await b.get('t1/ab/cd/obj.1'))).equals(data)).toBe(true);
      expect((await readAll(await b.get('t1/ab/cd/obj.1', { start: 10, end: 19 }))).equals(data.subarray(10, 20))).toBe(true);
      expect((await readAll(await b.get('t1/ab/cd/obj.1', { start: 99_999, end: 99_999 }))).equals(data.subarray(99_999))).toBe(true);
      // The end is clipped to the last byte, like an HTTP Range.
      expect((await readAll(await b.get('t1/ab/cd/obj.1', { start: 99_990, end: 10_000_000 }))).equals(data.subarray(99_990))).toBe(true);
      const past = await rejection(b.get('t1/ab/cd/obj.1', { start: 100_000, end: 100_010 }));
      expect(past).toBeInstanceOf(BackendError);
      expect((past as BackendError).code).toBe('InvalidRange');
      expect(await rejection(b.get('t1/ab/cd/obj.1', { start: 5, end: 4 }))).toMatchObject({ code: 'InvalidRange' });
    });

    it('stores an empty object', async () => {
      expect(await b.put('t1/empty', Readable.from([]), { size: 0 })).toEqual({ size: 0 });
      expect(await b.stat('t1/empty')).toEqual({ size: 0 });
      expect((await readAll(await b.get('t1/empty'))).length).toBe(0);
    });

    it('a put replaces; delete is idempotent', async () => {
      await b.put('t1/replace', Readable.from([Buffer.from('first version')]));
      await b.put('t1/replace', Readable.from([Buffer.from('second')]));
      expect((await readAll(await b.get('t1/replace'))).toString()).toBe('second');
      await b.delete('t1/replace');
      expect(await b.stat('t1/replace')).toBeNull();
      await b.delete('t1/replace');
      await b.delete('t1/never/existed');
    });

    it('a missing object is BackendNotFound on get, null on stat', async () => {
      const err = await rejection(b.get('t1/zz/zz/missing.x'));
      expect(err).toBeInstanceOf(BackendNotFound);
      expect(err).toMatchObject({ backend: b.name, code: 'NotFound', locator: 't1/zz/zz/missing.x' });
      expect(await b.stat('t1/zz/zz/missing.x')).toBeNull();
      // A "folder" in the locator that is really an object is still just "not found".
      await b.put('t1/file', Readable.from([Buffer.from('x')]));
      expect(await rejection(b.get('t1/file/under'))).toBeInstanceOf(BackendNotFound);
      expect(await b.stat('t1/file/under')).toBeNull();
    });

    it('refuses locators that are not plain relative paths', async () => {
      for (const bad of ['', '/abs', 'a//b', '../up', 'a/../b', 'a/./b', 'trailing/', 'sp ace', 'a\\b', 'ü']) {
        const err = await rejection(b.put(bad, Readable.from([Buffer.from('x')])));
        expect(err, bad).toMatchObject({ code: 'InvalidLocator' });
        expect(await rejection(b.get(bad)), bad).toMatchObject({ code: 'InvalidLocator' });
      }
      expect(await rejection(collect(b.list('../')))).toMatchObject({ code: 'InvalidLocator' });
    });

    it('lists by string prefix in byte order, with sizes', async () => {
      const names = ['ls/a/b', 'ls/a-b', 'ls/a+b', 'ls/a/b/c', 'ls/ab', 'ls/Z', 'ls/_', 'ls/a=b', 'ls/a/c.1', 'ls/a~'];
      for (const [i, n] of names.entries()) await b.put(n === 'ls/a/b' ? 'ls/a/b.x' : n, Readable.from([Buffer.alloc(i + 1)]));
      const listed = await collect(b.list('ls/'));
      const expected = names.map((n) => (n === 'ls/a/b' ? 'ls/a/b.x' : n)).sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1));
      expect(listed.map((o) => o.locator)).toEqual(expected);
      expect(listed.find((o) => o.locator === 'ls/Z')).toEqual({ locator: 'ls/Z', size: 6 });
      // A prefix is a string prefix, not a folder.
      expect((await collect(b.list('ls/a/'))).map((o) => o.locator)).toEqual(['ls/a/b.x', 'ls/a/b/c', 'ls/a/c.1']);
      expect((await collect(b.list('ls/a/b'))).map((o) => o.locator)).toEqual(['ls/a/b.x', 'ls/a/b/c']);
      expect((await collect(b.list('ls/a'))).length).toBe(8);
      expect(await collect(b.list('nothing-here/'))).toEqual([]);
      // The whole backend lists from the empty prefix.
      expect((await collect(b.list())).some((o) => o.locator === 'ls/Z')).toBe(true);
    });

    it('lists past 1000 objects', async () => {
      const n = 1100;
      const locators = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < n; i += 25) {
        await Promise.all(locators.slice(i, i + 25).map((l) => b.put(l, Readable.from([Buffer.from(l)]))));
      }
      const listed = await collect(b.list('many/'));
      expect(listed.length).toBe(n);
      expect(listed.map((o) => o.locator)).toEqual(locators);
      expect(listed.every((o) => o.size === 'many/00000'.length)).toBe(true);
    });

    it('a 20 MiB put is stored byte-exact (multipart on s3), ranges across part boundaries work', async () => {
      const data = crypto.randomBytes(20 * MiB);
      const before = h.usage.length;
      expect(await b.put('big/twenty', chunked(data), { size: data.length })).toEqual({ size: data.length });
      const calls = h.usage.slice(before);
      if (kind === 's3') {
        // CreateMultipartUpload + 3 parts of 8 MiB + Complete.
        expect(calls.reduce((s, u) => s + u.requests, 0)).toBe(5);
      }
      expect(calls.reduce((s, u) => s + u.ingressBytes, 0)).toBe(data.length);
      const back = await readAll(await b.get('big/twenty'));
      expect(back.length).toBe(data.length);
      expect(crypto.createHash('sha256').update(back).digest('hex')).toBe(crypto.createHash('sha256').update(data).digest('hex'));
      const s = 8 * MiB - 100;
      expect((await readAll(await b.get('big/twenty', { start: s, end: s + 199 }))).equals(data.subarray(s, s + 200))).toBe(true);
      expect(await b.stat('big/twenty')).toEqual({ size: data.length });
    });

    it('bodies of unknown size: small ones in one request, large ones in parts', async () => {
      const small = crypto.randomBytes(3 * MiB);
      const large = crypto.randomBytes(9 * MiB + 5);
      const exact = crypto.randomBytes(8 * MiB);
      let before = h.usage.length;
      expect(await b.put('unknown/small', chunked(small))).toEqual({ size: small.length });
      if (kind === 's3') expect(h.usage.slice(before).reduce((s, u) => s + u.requests, 0)).toBe(1);
      before = h.usage.length;
      expect(await b.put('unknown/exact', chunked(exact, 1 * MiB))).toEqual({ size: exact.length });
      if (kind === 's3') expect(h.usage.slice(before).reduce((s, u) => s + u.requests, 0)).toBe(1);
      before = h.usage.length;
      expect(await b.put('unknown/large', chunked(large))).toEqual({ size: large.length });
      if (kind === 's3') expect(h.usage.slice(before).reduce((s, u) => s + u.requests, 0)).toBe(4);
      expect((await readAll(await b.get('unknown/small'))).equals(small)).toBe(true);
      expect((await readAll(await b.get('unknown/exact'))).equals(exact)).toBe(true);
      expect((await readAll(await b.get('unknown/large'))).equals(large)).toBe(true);
    });

    it('a body that differs from the declared size fails and leaves nothing', async () => {
      const short = await rejection(b.put('sized/short', chunked(crypto.randomBytes(MiB)), { size: MiB + 1 }));
      expect(short).toMatchObject({ code: 'SizeMismatch' });
      const body = chunked(crypto.randomBytes(10 * MiB));
      const long = await rejection(b.put('sized/long', body, { size: 9 * MiB }));
      expect(long).toMatchObject({ code: 'SizeMismatch' });
      expect(body.destroyed).toBe(true); // the rest of the body is not left hanging
      expect(await collect(b.list('sized/'))).toEqual([]);
      expect(await h.leftovers()).toBe(0);
    });

    it('an aborted put (signal fired while the body stalls mid-stream) leaves nothing', async () => {
      const ac = new AbortController();
      let sent = 0;
      async function* stalling() {
        for (let i = 0; i < 12; i++) {
          sent += MiB;
          yield crypto.randomBytes(MiB);
        }
        await new Promise(() => undefined); // the client stops sending
      }
      const started = Date.now();
      const before = h.usage.length;
      const put = b.put('aborted/one', stalling(), { signal: ac.signal });
      while (sent < 12 * MiB) await new Promise((r) => setTimeout(r, 10));
      // On s3, wait for the first part to be stored: a multipart upload holding a part is what the abort must clean up.
      const deadline = Date.now() + 10_000;
      while (kind === 's3' && !h.usage.slice(before).some((u) => u.ingressBytes === 8 * MiB) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      if (kind === 's3') expect(h.usage.slice(before).map((u) => u.ingressBytes)).toEqual([0, 8 * MiB]);
      const reason = new Error('client went away');
      ac.abort(reason);
      expect(await rejection(put)).toBe(reason);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await collect(b.list('aborted/'))).toEqual([]);
      expect(await b.stat('aborted/one')).toBeNull();
      expect(await h.leftovers()).toBe(0);
    });

    it('a put whose body fails mid-stream rejects with that error and leaves nothing', async () => {
      const boom = new Error('socket reset by client');
      async function* failing() {
        for (let i = 0; i < 10; i++) yield crypto.randomBytes(MiB);
        throw boom;
      }
      expect(await rejection(b.put('failed/one', failing()))).toBe(boom);
      expect(
        await rejection(
          b.put(
            'failed/small',
            Readable.from(
              (async function* () {
                yield Buffer.from('x');
                throw boom;
              })(),
            ),
          ),
        ),
      ).toBe(boom);
      expect(await collect(b.list('failed/'))).toEqual([]);
      expect(await h.leftovers()).toBe(0);
    });

    it('an already-aborted signal stops a put and a get before they start', async () => {
      const ac = new AbortController();
      ac.abort(new Error('too late'));
      expect(await rejection(b.put('aborted/early', Readable.from([Buffer.from('x')]), { signal: ac.signal }))).toMatchObject({
        message: 'too late',
      });
      await b.put('aborted/readme', Readable.from([Buffer.from('x')]));
      expect(await rejection(b.get('aborted/readme', undefined, { signal: ac.signal }))).toMatchObject({ message: 'too late' });
      await b.delete('aborted/readme');
    });

    it('sweep removes leftovers of interrupted puts older than the given age', async () => {
      await h.makeLeftover();
      expect(await h.leftovers()).toBe(1);
      expect(await b.sweep(3_600_000)).toBe(0);
      expect(await h.leftovers()).toBe(1);
      await new Promise((r) => setTimeout(r, 1100)); // S3 dates have one-second resolution
      expect(await b.sweep(0)).toBe(1);
      expect(await h.leftovers()).toBe(0);
    });

    it('reports health and counts usage', async () => {
      const health = await b.health();
      expect(health).toMatchObject({ ok: true });
      expect(health.latencyMs).toBeGreaterThanOrEqual(0);
      if (kind === 'fs') expect(health.capacity?.totalBytes).toBeGreaterThan(0);
      const before = h.usage.length;
      await b.put('usage/one', Readable.from([Buffer.alloc(1000)]));
      await readAll(await b.get('usage/one', { start: 100, end: 199 }));
      const calls = h.usage.slice(before);
      expect(calls.reduce((s, u) => s + u.ingressBytes, 0)).toBe(1000);
      expect(calls.reduce((s, u) => s + u.egressBytes, 0)).toBe(100);
      expect(calls.reduce((s, u) => s + u.requests, 0)).toBe(2);
    });
  });
}

// ---------------------------------------------------------------- fs

contract('fs', async () => {
  const root = tempDir();
  const usage: BackendUsage[] = [];
  const backend = new FsBackend({ name: 'disk1', root, usage: (_, u) => usage.push(u) });
  await backend.init();
  return {
    backend,
    usage,
    leftovers: async () => fs.readdirSync(path.join(root, 'tmp')).length,
    makeLeftover: async () => {
      fs.writeFileSync(path.join(root, 'tmp', crypto.randomUUID()), 'partial');
    },
    cleanup: async () => fs.rmSync(root, { recursive: true, force: true }),
  };
});

// ---------------------------------------------------------------- s3 (a second Anvil)

const REMOTE_BUCKET = 'backend-blobs';

function s3Options(t: TestAnvil, extra: Partial<S3BackendOptions> = {}): S3BackendOptions {
  return {
    name: 'remote',
    endpoint: t.endpoint,
    region: t.config.region,
    bucket: REMOTE_BUCKET,
    prefix: 'node1/',
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    maxAttempts: 1,
    timeouts: { connectMs: 1000, requestMs: 10_000, idleMs: 5000, healthMs: 1000 },
    ...extra,
  };
}

async function incompleteUploads(t: TestAnvil): Promise<number> {
  const out = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: REMOTE_BUCKET }));
  return out.Uploads?.length ?? 0;
}

contract('s3', async () => {
  const t = await startTestAnvil('sqlite');
  await t.s3.send(new CreateBucketCommand({ Bucket: REMOTE_BUCKET }));
  const usage: BackendUsage[] = [];
  const backend = new S3Backend(s3Options(t, { usage: (_, u) => usage.push(u) }));
  return {
    backend,
    usage,
    leftovers: () => incompleteUploads(t),
    makeLeftover: async () => {
      await t.s3.send(new CreateMultipartUploadCommand({ Bucket: REMOTE_BUCKET, Key: 'node1/left/over' }));
    },
    cleanup: async () => {
      await backend.close();
      await t.stop();
    },
  };
});

describe('s3 backend specifics', () => {
  const t = useAnvil('sqlite', { buckets: [REMOTE_BUCKET] });

  it('keeps to its key prefix and pages through listings of any page size', async () => {
    const a = new S3Backend(s3Options(t, { name: 'a', prefix: 'node-a/', listPageSize: 7 }));
    const other = new S3Backend(s3Options(t, { name: 'b', prefix: 'node-b/' }));
    try {
      const locators = Array.from({ length: 30 }, (_, i) => `p/${String(i).padStart(3, '0')}`);
      await Promise.all(locators.map((l) => a.put(l, Readable.from([Buffer.from(l)]))));
      await other.put('p/not-mine', Readable.from([Buffer.from('x')]));
      expect((await collect(a.list('p/'))).map((o) => o.locator)).toEqual(locators);
      expect((await collect(other.list())).map((o) => o.locator)).toEqual(['p/not-mine']);
      expect(await a.stat('p/not-mine')).toBeNull();
    } finally {
      await a.close();
      await other.close();
    }
  });

  it('a missing bucket is BackendUnavailable, never BackendNotFound', async () => {
    const b = new S3Backend(s3Options(t, { bucket: 'no-such-bucket-here' }));
    try {
      expect(await rejection(b.get('x/y'))).toBeInstanceOf(BackendUnavailable);
      expect(await rejection(b.put('x/y', Readable.from([Buffer.from('x')])))).toBeInstanceOf(BackendUnavailable);
      expect((await b.health()).ok).toBe(false);
    } finally {
      await b.close();
    }
  });

  it('wrong credentials make the backend unavailable', async () => {
    const b = new S3Backend(s3Options(t, { credentials: { accessKeyId: t.accessKeyId, secretAccessKey: 'not-the-secret-0123456789' } }));
    try {
      const health = await b.health();
      expect(health.ok).toBe(false);
      expect(await rejection(b.get('x/y'))).toBeInstanceOf(BackendUnavailable);
    } finally {
      await b.close();
    }
  });

  it('a server that accepts connections but never answers times out within the configured bounds', async () => {
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    const port = (hole.address() as net.AddressInfo).port;
    const b = new S3Backend(
      s3Options(t, { endpoint: `http://127.0.0.1:${port}`, timeouts: { connectMs: 500, requestMs: 800, idleMs: 800, healthMs: 600 } }),
    );
    try {
      let started = Date.now();
      const health = await b.health();
      expect(health.ok).toBe(false);
      expect(health.detail).toMatch(/no answer within 600 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
      started = Date.now();
      expect(await rejection(b.get('x/y'))).toBeInstanceOf(BackendUnavailable);
      expect(Date.now() - started).toBeLessThan(2500);
      started = Date.now();
      expect(await rejection(b.put('x/y', Readable.from([Buffer.from('x')])))).toBeInstanceOf(BackendUnavailable);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await b.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => hole.close(r));
    }
  });
});

// ---------------------------------------------------------------- outages, breaker, failover

describe('outage of a remote: unavailable, breaker, failover, recovery', () => {
  let t: TestAnvil;
  let remote: Anvil | undefined;
  let root: string;
  let local: FsBackend;
  let s3: S3Backend;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    t = await startTestAnvil('sqlite');
    remote = t.anvil;
    await t.s3.send(new CreateBucketCommand({ Bucket: REMOTE_BUCKET }));
    root = tempDir();
    local = new FsBackend({ name: 'local', root });
    await local.init();
    s3 = new S3Backend(s3Options(t, { timeouts: { connectMs: 500, requestMs: 2000, idleMs: 2000, healthMs: 800 } }));
  });
  afterAll(async () => {
    await s3?.close();
    t?.s3.destroy();
    await remote?.close();
    if (t) fs.rmSync(t.dataDir, { recursive: true, force: true });
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('a stopped remote is unhealthy and reads fail fast with BackendUnavailable; reads fail over to a replica', async () => {
    const data = crypto.randomBytes(50_000);
    await s3.put('r/blob.1', Readable.from([data]));
    await local.put('r/blob.1', Readable.from([data]));
    expect((await s3.health()).ok).toBe(true);
    const guarded = new GuardedBackend(s3, { consecutiveFailures: 2, cooldownMs: 300 });

    await remote!.close();
    remote = undefined;

    let started = Date.now();
    const health = await s3.health();
    expect(health.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
    started = Date.now();
    const err = await rejection(s3.get('r/blob.1'));
    expect(err).toBeInstanceOf(BackendUnavailable);
    expect((err as BackendUnavailable).circuitOpen).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await rejection(s3.stat('r/blob.1'))).toBeInstanceOf(BackendUnavailable);
    expect(await rejection(s3.put('r/blob.2', Readable.from([data])))).toBeInstanceOf(BackendUnavailable);

    // Failover: the remote is tried first, fails, the local replica answers.
    const opened = await openReplica(
      [
        { backend: guarded, locator: 'r/blob.1' },
        { backend: local, locator: 'r/blob.1' },
      ],
      { start: 0, end: 9999 },
      { attemptTimeoutMs: 3000 },
    );
    expect(opened.replica.backend).toBe(local);
    expect(opened.failures).toEqual([expect.objectContaining({ backend: 'remote', error: expect.any(BackendUnavailable) })]);
    expect((await readAll(opened.stream)).equals(data.subarray(0, 10_000))).toBe(true);

    // A second failure opens the breaker: the remote is then refused without a network call.
    expect(await rejection(guarded.get('r/blob.1'))).toBeInstanceOf(BackendUnavailable);
    expect(guarded.breaker.state).toBe('open');
    started = Date.now();
    const refused = await rejection(guarded.get('r/blob.1'));
    expect(refused).toMatchObject({ circuitOpen: true });
    expect(Date.now() - started).toBeLessThan(50);
    const again = await openReplica(
      [
        { backend: guarded, locator: 'r/blob.1' },
        { backend: local, locator: 'r/blob.1' },
      ],
      undefined,
    );
    expect(again.replica.backend).toBe(local);
    expect((await readAll(again.stream)).equals(data)).toBe(true);

    // Probing while the remote is still down keeps the breaker open, with a longer cooldown.
    await new Promise((r) => setTimeout(r, 350));
    expect(await guarded.probe()).toBe('open');
    expect(guarded.breaker.snapshot().cooldownMs).toBe(600);
    expect(guarded.lastHealth?.ok).toBe(false);

    // The remote comes back on the same port: the next probe closes the breaker.
    remote = await startAnvil({ ...t.config, listen: `127.0.0.1:${new URL(t.endpoint).port}` }, log);
    await new Promise((r) => setTimeout(r, 650));
    expect(await guarded.probe()).toBe('closed');
    expect((await readAll(await guarded.get('r/blob.1'))).equals(data)).toBe(true);
  });

  it('failover reports a replica that lacks the blob and reads the next; all missing is BackendNotFound', async () => {
    const data = Buffer.from('only on local');
    await local.put('r/only-local', Readable.from([data]));
    const opened = await openReplica(
      [
        { backend: s3, locator: 'r/only-local' },
        { backend: local, locator: 'r/only-local' },
      ],
      undefined,
    );
    expect(opened.failures).toEqual([expect.objectContaining({ backend: 'remote', error: expect.any(BackendNotFound) })]);
    expect((await readAll(opened.stream)).equals(data)).toBe(true);
    const none = await rejection(
      openReplica(
        [
          { backend: s3, locator: 'r/nowhere' },
          { backend: local, locator: 'r/nowhere' },
        ],
        undefined,
      ),
    );
    expect(none).toBeInstanceOf(BackendNotFound);
  });

  it('failover gives up on a replica that does not answer in time', async () => {
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    const slow = new S3Backend(
      s3Options(t, {
        name: 'slow',
        endpoint: `http://127.0.0.1:${(hole.address() as net.AddressInfo).port}`,
        timeouts: { requestMs: 60_000, idleMs: 60_000 },
      }),
    );
    const guarded = new GuardedBackend(slow, { consecutiveFailures: 1 });
    try {
      await local.put('r/slow', Readable.from([Buffer.from('fast enough')]));
      const started = Date.now();
      const opened = await openReplica(
        [
          { backend: guarded, locator: 'r/slow' },
          { backend: local, locator: 'r/slow' },
        ],
        undefined,
        { attemptTimeoutMs: 400 },
      );
      expect(Date.now() - started).toBeLessThan(1500);
      expect(opened.replica.backend).toBe(local);
      expect(opened.failures[0].error).toBeInstanceOf(BackendUnavailable);
      expect((await readAll(opened.stream)).toString()).toBe('fast enough');
      // The timeout counted as the slow backend's failure.
      await new Promise((r) => setTimeout(r, 50));
      expect(guarded.breaker.state).toBe('open');
    } finally {
      await slow.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => hole.close(r));
    }
  });
});

// ---------------------------------------------------------------- fs specifics

describe('fs backend specifics', () => {
  it('an fs backend whose folder lost its marker (unmounted disk) is unavailable, not empty', async () => {
    const dir = tempDir();
    try {
      const disk = new FsBackend({ name: 'disk9', root: dir });
      await disk.init();
      await disk.put('t/x', Readable.from([Buffer.from('x')]));
      expect((await disk.health()).ok).toBe(true);
      // Another backend's folder is refused.
      await expect(new FsBackend({ name: 'other', root: dir }).init()).rejects.toThrow(/belongs to backend "disk9"/);
      // The mount point is empty now.
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      const health = await disk.health();
      expect(health.ok).toBe(false);
      expect(health.detail).toMatch(/not mounted/);
      expect(await rejection(disk.get('t/x'))).toBeInstanceOf(BackendUnavailable);
      expect(await rejection(disk.stat('t/x'))).toBeInstanceOf(BackendUnavailable);
      expect(await rejection(disk.delete('t/x'))).toBeInstanceOf(BackendUnavailable);
      expect(await rejection(collect(disk.list()))).toBeInstanceOf(BackendUnavailable);
      expect(await rejection(disk.put('t/y', Readable.from([Buffer.from('y')])))).toBeInstanceOf(BackendUnavailable);
      // When the metadata says the backend holds blobs, start-up refuses to adopt an empty folder.
      await expect(disk.init({ requireExisting: true })).rejects.toThrow(/is the disk mounted/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a locator that clashes with an existing object or folder is the caller error, and leaves nothing', async () => {
    const dir = tempDir();
    try {
      const disk = new FsBackend({ name: 'disk8', root: dir });
      await disk.init();
      await disk.put('c/a', Readable.from([Buffer.from('file')]));
      await disk.put('c/d/e', Readable.from([Buffer.from('nested')]));
      expect(await rejection(disk.put('c/a/b', Readable.from([Buffer.from('x')])))).toMatchObject({ code: 'InvalidLocator' });
      expect(await rejection(disk.put('c/d', Readable.from([Buffer.from('x')])))).toMatchObject({ code: 'InvalidLocator' });
      expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
      expect((await collect(disk.list('c/'))).map((o) => o.locator)).toEqual(['c/a', 'c/d/e']);
      // Behind a breaker, such mistakes do not count as the backend failing.
      const guarded = new GuardedBackend(disk, { consecutiveFailures: 1 });
      await rejection(guarded.put('c/a/b', Readable.from([Buffer.from('x')])));
      await rejection(guarded.get('c/missing'));
      expect(guarded.breaker.state).toBe('closed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
