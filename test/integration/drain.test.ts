/**
 * Graceful shutdown of `anvil server` (issue 19): SIGTERM during an upload
 * lets it finish (readiness answers 503 "draining", new connections are
 * refused), then the process releases everything, logging each step, and
 * exits 0; the object is there after a restart. A request that outlives
 * shutdown_timeout is cut and the cut is logged; a second SIGTERM cuts at
 * once.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';

import { databaseUrlFor, describeEachEngine, type EngineName, ROOT_KEY, ROOT_SECRET, s3Error } from '../support/anvil.js';
import { waitFor } from '../support/backends.js';
import { type Started, startServer, stopServer } from '../support/cli-server.js';
import { sign } from '../support/wire.js';

const REGION = 'us-east-1';

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A running `anvil server` whose output (JSON log lines and the banner) is collected. */
interface Server extends Started {
  lines(): LogLine[];
  exited: Promise<number | null>;
}

async function start(env: Record<string, string>): Promise<Server> {
  const s = await startServer(env);
  let output = s.output;
  s.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  s.child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  return {
    ...s,
    exited,
    lines: () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine),
  };
}

function client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
    maxAttempts: 1,
  });
}

/** A PUT whose body the test sends piece by piece; `done` is its status (or the error that cut it). */
async function slowPut(endpoint: string, key: string, size: number) {
  const target = { endpoint, accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET, config: { region: REGION } };
  const s = await sign(target, 'PUT', `/drain/${key}`, { payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(size) } });
  const url = new URL(endpoint);
  const req = http.request({
    host: url.hostname,
    port: Number(url.port),
    method: 'PUT',
    path: s.pathAndQuery,
    headers: s.headers,
    agent: false,
  });
  const done = new Promise<number | Error>((resolve) => {
    req.on('response', (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode!));
    });
    req.on('error', resolve);
  });
  return { req, done };
}

/** A request whose headers lack only the final blank line (so the drain does not take its connection for idle). */
async function partialRequest(endpoint: string, p: string): Promise<{ finish(): Promise<string> }> {
  const url = new URL(endpoint);
  const socket = net.connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  socket.write(`GET ${p} HTTP/1.1\r\nHost: ${url.host}\r\n`);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    async finish() {
      socket.write('\r\n');
      await closed;
      return data;
    },
  };
}

/** Whether a new TCP connection to the endpoint is refused. */
function refused(endpoint: string): Promise<boolean> {
  const url = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeEachEngine('graceful shutdown of anvil server', (engine: EngineName) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function deployment(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-drain-'));
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    return {
      ANVIL_DATA_DIR: dataDir,
      ANVIL_DATABASE_URL: db.url,
      ANVIL_ROOT_ACCESS_KEY: ROOT_KEY,
      ANVIL_ROOT_SECRET_KEY: ROOT_SECRET,
      ANVIL_LOG_LEVEL: 'info',
      ...extra,
    };
  }

  async function started(env: Record<string, string>): Promise<Server> {
    const s = await start(env);
    cleanups.push(() => stopServer(s, 'SIGKILL'));
    return s;
  }

  it('lets an upload in flight finish on SIGTERM, answers 503 draining, refuses new connections, logs each step and exits 0', async () => {
    const env = await deployment();
    const s = await started(env);
    const s3 = client(s.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    s3.destroy();

    const body = crypto.randomBytes(4 * 1024 * 1024);
    const probe = await partialRequest(s.endpoint, '/-/ready');
    const put = await slowPut(s.endpoint, 'big', body.length);
    const pieces = 8;
    const piece = body.length / pieces;
    // Half the body over about a second, then SIGTERM, then the rest over another second.
    for (let i = 0; i < pieces / 2; i++) {
      put.req.write(body.subarray(i * piece, (i + 1) * piece));
      await sleep(250);
    }
    s.child.kill('SIGTERM');
    await waitFor('the drain to start', () => s.lines().some((l) => l.msg.startsWith('shutdown: draining')), 10_000);

    const answer = await probe.finish();
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 'draining' });
    await waitFor('new connections to be refused', () => refused(s.endpoint), 10_000);

    for (let i = pieces / 2; i < pieces; i++) {
      put.req.write(body.subarray(i * piece, (i + 1) * piece));
      await sleep(250);
    }
    put.req.end();
    expect(await put.done).toBe(200);
    expect(await s.exited).toBe(0);

    const msgs = s.lines().map((l) => l.msg);
    const steps = [
      'shutdown: signal received',
      'shutdown: draining (readiness answers 503, no new connections)',
      'shutdown: HTTP server closed',
      'shutdown: background work stopped (running tasks released)',
      'shutdown: node lease released',
      'shutdown: backends closed',
      'shutdown: databases closed',
      'shutdown: data folder lock released',
      'shutdown: complete',
    ];
    const at = steps.map((m) => msgs.indexOf(m));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    const closed = s.lines().find((l) => l.msg === 'shutdown: HTTP server closed')!;
    expect(closed).toMatchObject({ inflightAtStart: 1, cut: 0, unsettled: 0 });
    expect(msgs).not.toContain('shutdown: cutting 1 request(s) still in flight');
    const logged = s.lines().find((l) => l.msg === 'request' && l.op === 'PutObject' && l.key === 'big');
    expect(logged).toMatchObject({ status: 200, bytesIn: body.length });
    expect(logged!.aborted).toBeUndefined();

    // The upload is durable: a restart on the same folder serves it.
    const again = await started(env);
    const s3b = client(again.endpoint);
    const got = await s3b.send(new GetObjectCommand({ Bucket: 'drain', Key: 'big' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    s3b.destroy();
  });

  it('cuts a request still in flight after shutdown_timeout, logs the cut, and exits 0', async () => {
    const env = await deployment({ ANVIL_SHUTDOWN_TIMEOUT: '0.5' });
    const s = await started(env);
    const s3 = client(s.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    s3.destroy();
    const put = await slowPut(s.endpoint, 'stuck', 1024 * 1024);
    put.req.write(Buffer.alloc(1000));
    await sleep(500);
    s.child.kill('SIGTERM');
    // The client never sends the rest: the drain gives up on it.
    expect(await put.done).toBeInstanceOf(Error);
    expect(await s.exited).toBe(0);
    const cut = s.lines().find((l) => l.msg === 'shutdown: cutting 1 request(s) still in flight');
    expect(cut).toMatchObject({ cut: 1, timeoutMs: 500 });
    expect(s.lines().find((l) => l.msg === 'shutdown: HTTP server closed')).toMatchObject({ inflightAtStart: 1, cut: 1 });
    expect(s.lines().find((l) => l.msg === 'request' && l.key === 'stuck')).toMatchObject({ op: 'PutObject', aborted: true });
    expect(s.lines().some((l) => l.msg === 'shutdown: complete')).toBe(true);

    const again = await started(env);
    const s3b = client(again.endpoint);
    expect((await s3Error(s3b.send(new GetObjectCommand({ Bucket: 'drain', Key: 'stuck' })))).name).toBe('NoSuchKey');
    s3b.destroy();
  });

  it('cuts at once on a second SIGTERM during the drain', async () => {
    const env = await deployment({ ANVIL_SHUTDOWN_TIMEOUT: '3600' });
    const s = await started(env);
    const s3 = client(s.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    s3.destroy();
    const put = await slowPut(s.endpoint, 'stuck', 1024 * 1024);
    put.req.write(Buffer.alloc(1000));
    await sleep(500);
    s.child.kill('SIGTERM');
    await waitFor('the drain to start', () => s.lines().some((l) => l.msg.startsWith('shutdown: draining')), 10_000);
    s.child.kill('SIGTERM');
    // Within the test's timeout, far below the hour the drain would otherwise wait.
    expect(await s.exited).toBe(0);
    expect(await put.done).toBeInstanceOf(Error);
    const msgs = s.lines().map((l) => l.msg);
    expect(msgs).toContain('shutdown: second signal, cutting the requests in flight now');
    expect(msgs).toContain('shutdown: cutting 1 request(s) still in flight');
    expect(msgs).toContain('shutdown: complete');
  });
});
