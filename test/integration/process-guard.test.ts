/**
 * The process guard (src/http/process-guard.ts): a bug in one request that
 * escapes every try/catch fails that request with a 500, is logged at error
 * level, and the process keeps serving the others. Runs a real server in a
 * child process, as `anvil server` runs it, since the error must reach the
 * process's own handlers (in the test process, vitest would catch it first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

import { databaseUrlFor, describeEachEngine, ROOT_KEY, ROOT_SECRET } from '../support/anvil.js';
import { send } from '../support/wire.js';

const SCRIPT = path.resolve('test/support/guarded-server.mjs');

describeEachEngine('process guard', (engine) => {
  let child: ChildProcess;
  let stderr = '';
  let endpoint = '';
  let s3: S3Client;
  let dataDir = '';
  let drop: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-guard-'));
    const db = await databaseUrlFor(engine, dataDir);
    drop = db.drop;
    child = spawn(process.execPath, [SCRIPT, dataDir, db.url, ROOT_KEY, ROOT_SECRET], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    endpoint = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line).endpoint);
      });
      child.once('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
    });
    s3 = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
      maxAttempts: 1,
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'fine' }));
  });
  afterAll(async () => {
    s3?.destroy();
    child?.kill('SIGKILL');
    await drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails only the request whose callback threw, logs it, and keeps serving the others', async () => {
    const alive = () => child.exitCode === null && child.signalCode === null;
    const others = Array.from({ length: 5 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: 'fine', Key: `k${i}`, Body: `v${i}` })));
    const boom = await send({ endpoint }, 'GET', '/boom/x', {});
    expect({ status: boom.status, code: boom.code }).toEqual({ status: 500, code: 'InternalError' });
    await Promise.all(others);
    for (let i = 0; i < 5; i++) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'fine', Key: `k${i}` }));
      expect(await got.Body!.transformToString()).toBe(`v${i}`);
    }
    expect(alive()).toBe(true);
    // The log line travels through a pipe: wait for it (bounded).
    await vi.waitFor(() => expect(stderr).toMatch(/"level":50.*injected bug/), { timeout: 5000 });
  });

  it('survives an unhandled rejection the same way', async () => {
    const res = await send({ endpoint }, 'GET', '/reject/x', {});
    expect(res.status).toBe(500);
    await vi.waitFor(() => expect(stderr).toMatch(/"level":50.*injected rejection/), { timeout: 5000 });
    const got = await s3.send(new GetObjectCommand({ Bucket: 'fine', Key: 'k0' }));
    expect(await got.Body!.transformToString()).toBe('v0');
    expect(child.exitCode).toBe(null);
  });
});
