/**
 * One server per data folder (issue 12, finding 13): a second start on a live
 * folder is refused before it touches anything, names the server holding
 * it, and leaves that one serving (its uploads in progress included); the
 * lock goes with its holder, even one killed with SIGKILL.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';

import { type Anvil, startAnvil } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import {
  databaseUrlFor,
  describeEachEngine,
  ROOT_KEY,
  ROOT_SECRET,
  stagedFiles,
  startTestAnvil,
  type TestAnvil,
} from '../support/anvil.js';
import { runServerToExit, startServer, stopServer } from '../support/cli-server.js';
import { sign } from '../support/wire.js';

const log = pino({ level: 'silent' });

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the start to be refused');
}

describeEachEngine('one server per data folder', (engine) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  /** A data folder and database of its own, and a config for them (servers are started by the test). */
  async function deployment(): Promise<{ dataDir: string; databaseUrl: string; config: (extra?: Partial<Config>) => Config }> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-lock-'));
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    const base = loadConfig(
      { listen: '127.0.0.1:0', dataDir, databaseUrl: db.url, rootAccessKey: ROOT_KEY, rootSecretKey: ROOT_SECRET, logLevel: 'silent' },
      {},
    );
    return { dataDir, databaseUrl: db.url, config: (extra = {}) => ({ ...base, ...extra }) };
  }

  function started(a: Anvil): Anvil {
    cleanups.push(() => a.close());
    return a;
  }

  function client(endpoint: string, region = 'us-east-1'): S3Client {
    const c = new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
      maxAttempts: 1,
    });
    cleanups.push(async () => c.destroy());
    return c;
  }

  it('refuses a second start in the same process, naming the holder, while an upload on the first goes on untouched', async () => {
    const t: TestAnvil = await startTestAnvil(engine);
    cleanups.push(() => t.stop());
    await t.s3.send(new CreateBucketCommand({ Bucket: 'live' }));

    // An upload in progress: half its body is in, in a staged file in the data folder.
    const body = crypto.randomBytes(512 * 1024);
    const signed = await sign(t, 'PUT', '/live/in-progress', {
      headers: { 'content-length': String(body.length) },
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const url = new URL(t.endpoint);
    const req = http.request({
      host: url.hostname,
      port: Number(url.port),
      method: 'PUT',
      path: signed.pathAndQuery,
      headers: signed.headers,
      agent: false,
    });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
    });
    req.write(body.subarray(0, 256 * 1024));
    await until(() => stagedFiles(t.dataDir).length === 1, 'the staged file');
    const staged = stagedFiles(t.dataDir);

    const err = await refusal(startAnvil({ ...t.config, listen: '127.0.0.1:0' }, log));
    expect(err.message).toContain(`the data folder ${t.dataDir} is in use by another Anvil server`);
    expect(err.message).toContain(`pid ${process.pid} on host ${os.hostname()}, listening on ${t.endpoint}, started `);
    expect(err.message).toContain('Stop that server first');

    // Nothing of the first server's was touched: its staged file is there and its upload completes.
    expect(stagedFiles(t.dataDir)).toEqual(staged);
    req.end(body.subarray(256 * 1024));
    expect(await answered).toBe(200);
    const got = await t.s3.send(new GetObjectCommand({ Bucket: 'live', Key: 'in-progress' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect((await t.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['live']);

    // close() lets the lock go: the same folder starts again in this process.
    await t.restart();
    expect((await t.s3.send(new GetObjectCommand({ Bucket: 'live', Key: 'in-progress' }))).ContentLength).toBe(body.length);
  });

  it('a second `anvil server` on a live folder exits non-zero naming the first, which keeps serving; after SIGKILL a new start succeeds', async () => {
    const { dataDir, databaseUrl } = await deployment();
    const env = {
      ANVIL_DATA_DIR: dataDir,
      ANVIL_DATABASE_URL: databaseUrl,
      ANVIL_ROOT_ACCESS_KEY: ROOT_KEY,
      ANVIL_ROOT_SECRET_KEY: ROOT_SECRET,
    };
    const first = await startServer(env);
    cleanups.push(() => stopServer(first));
    const s3 = client(first.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'kept' }));
    await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'acknowledged' }));

    // Another listen address: without the lock it would have run beside the first.
    const second = await runServerToExit({ ...env, ANVIL_LISTEN: '127.0.0.1:0' });
    expect(second.code).not.toBe(0);
    expect(second.output).toContain(
      `the data folder ${dataDir} is in use by another Anvil server (pid ${first.child.pid} on host ${os.hostname()}, listening on ${first.endpoint}`,
    );
    expect(second.output).not.toContain('Anvil listening on');

    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['kept']);
    await s3.send(new PutObjectCommand({ Bucket: 'kept', Key: 'after', Body: 'still serving' }));

    // SIGKILL: no clean-up runs, and the OS lets the lock go with the process.
    await stopServer(first, 'SIGKILL');
    const third = await startServer(env);
    cleanups.push(() => stopServer(third));
    const again = client(third.endpoint);
    expect(await (await again.send(new GetObjectCommand({ Bucket: 'kept', Key: 'k' }))).Body!.transformToString()).toBe('acknowledged');
    expect(await (await again.send(new GetObjectCommand({ Bucket: 'kept', Key: 'after' }))).Body!.transformToString()).toBe(
      'still serving',
    );
  }, 180_000);

  if (engine === 'sqlite') {
    it('SQLite: a configured node id does not let a second server share the folder, nor another folder share the SQLite file', async () => {
      const d = await deployment();
      const a = started(await startAnvil(d.config({ nodeId: 'node-a' }), log));
      const err = await refusal(startAnvil(d.config({ nodeId: 'node-b' }), log));
      expect(err.message).toContain(`the data folder ${d.dataDir} is in use by another Anvil server (pid ${process.pid}`);
      expect(err.message).toContain(`listening on ${a.endpoint}`);

      const otherFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-lock-'));
      cleanups.push(async () => fs.rmSync(otherFolder, { recursive: true, force: true }));
      const onFile = await refusal(startAnvil(d.config({ dataDir: otherFolder }), log));
      expect(onFile.message).toContain(
        `the SQLite database ${path.join(d.dataDir, 'anvil.db')} is in use by another Anvil server (pid ${process.pid}`,
      );
      // Refused before it created anything in its own folder but the lock.
      expect(fs.readdirSync(otherFolder).filter((f) => !f.startsWith('anvil.lock'))).toEqual([]);
      expect((await client(a.endpoint).send(new ListBucketsCommand({}))).Buckets).toEqual([]);
    });
  }

  if (engine === 'postgres') {
    it('PostgreSQL: servers sharing a folder with their own ANVIL_NODE_IDs run side by side; a repeated node id is refused, naming its holder', async () => {
      const d = await deployment();
      const a = started(await startAnvil(d.config({ nodeId: 'node-a' }), log));
      const b = started(await startAnvil(d.config({ nodeId: 'node-b' }), log));
      const again = await refusal(startAnvil(d.config({ nodeId: 'node-a' }), log));
      expect(again.message).toContain(
        `node id node-a in the data folder ${d.dataDir} is in use by another Anvil server (pid ${process.pid}`,
      );
      expect(again.message).toContain(`listening on ${a.endpoint}`);
      // Without a node id of its own a server wants the folder alone: refused while nodes share it.
      const alone = await refusal(startAnvil(d.config(), log));
      expect(alone.message).toContain(
        `the data folder ${d.dataDir} is in use by Anvil servers sharing it on PostgreSQL (the last to start: pid ${process.pid}`,
      );
      expect(alone.message).toContain(`listening on ${b.endpoint}`);

      await client(a.endpoint).send(new CreateBucketCommand({ Bucket: 'shared' }));
      await client(b.endpoint).send(new PutObjectCommand({ Bucket: 'shared', Key: 'k', Body: 'from b' }));
      expect(await (await client(a.endpoint).send(new GetObjectCommand({ Bucket: 'shared', Key: 'k' }))).Body!.transformToString()).toBe(
        'from b',
      );
    });
  }
});
