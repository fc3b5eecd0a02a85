/**
 * Managing storage backends through the admin API and `anvil admin backend`:
 * listing with usage and health, draining (progress in the list), removing
 * (refused while replicas remain; forced, then the scrub re-replicates),
 * per-bucket replication, and the CLI both against the database of a
 * stopped server and through --endpoint. Real folders, a real server.
 * The CLI cases run bin/anvil.js, which uses dist/ (npm run build first).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { expect, it } from 'vitest';

import { type Anvil, startAnvil } from '../../src/app.js';
import type { BackendsConfig } from '../../src/backends/config.js';
import { DRAIN_TASK, replicasOn } from '../../src/blobs/drain.js';
import { Scrubber } from '../../src/blobs/scrub.js';
import { loadConfig } from '../../src/config/config.js';
import {
  anvilPerTest,
  databaseUrlFor,
  describeEachEngine,
  type EngineName,
  ROOT_KEY,
  ROOT_SECRET,
  type TestAnvil,
} from '../support/anvil.js';
import { blobFilesIn, fsBackends, tempDir, waitFor } from '../support/backends.js';
import { signedFetch } from '../support/signed-fetch.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/anvil.js');
const MiB = 1024 * 1024;

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

describeEachEngine('admin: storage backends', (engine: EngineName) => {
  const { start: startAnvilFor, dirs, track } = anvilPerTest(engine, { start: { workerIntervalMs: 100 } });

  /**
   * Like startTestAnvil, but the server can be stopped and started again on
   * the same data folder and database with work done in between (halt/resume).
   */
  async function startStoppable(
    storage: BackendsConfig,
    roots: Record<string, string>,
  ): Promise<TestAnvil & { halt(): Promise<void>; resume(): Promise<void> }> {
    dirs.push(...Object.values(roots));
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-test-'));
    const db = await databaseUrlFor(engine, dataDir);
    const config = {
      ...loadConfig(
        { listen: '127.0.0.1:0', dataDir, databaseUrl: db.url, rootAccessKey: ROOT_KEY, rootSecretKey: ROOT_SECRET, logLevel: 'silent' },
        {},
      ),
      storage,
    };
    const log = pino({ level: 'silent' });
    let running: Anvil | null = await startAnvil(config, log, { workerIntervalMs: 100 });
    const clients: S3Client[] = [];
    const t = {
      engine,
      anvil: running,
      config,
      dataDir,
      endpoint: running.endpoint,
      accessKeyId: ROOT_KEY,
      secretAccessKey: ROOT_SECRET,
      s3: undefined as unknown as S3Client,
      client(creds: Creds = { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET }) {
        const c = new S3Client({ endpoint: t.endpoint, region: config.region, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
        clients.push(c);
        return c;
      },
      async restart() {
        await t.halt();
        await t.resume();
      },
      async halt() {
        await running?.close();
        running = null;
      },
      async resume() {
        running = await startAnvil(config, log, { workerIntervalMs: 100 });
        t.anvil = running;
        t.endpoint = running.endpoint;
        t.s3 = t.client();
      },
      async stop() {
        for (const c of clients) c.destroy();
        await t.halt();
        await db.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
    t.s3 = t.client();
    return track(t);
  }

  async function start(storage: BackendsConfig, roots: Record<string, string>): Promise<TestAnvil> {
    dirs.push(...Object.values(roots));
    return startAnvilFor({ storage });
  }

  async function api(
    t: TestAnvil,
    method: string,
    p: string,
    opts: { body?: unknown; creds?: Creds } = {},
  ): Promise<{ status: number; json: any }> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const res = await signedFetch(t, method, `${t.endpoint}${p}`, {
      creds: opts.creds,
      body,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  const backendsOf = async (t: TestAnvil) => {
    const res = await api(t, 'GET', '/admin/v1/backends');
    expect(res.status).toBe(200);
    return res.json as { placement: string; defaultReplication: number; backends: any[] };
  };
  const backendOf = async (t: TestAnvil, name: string) => (await backendsOf(t)).backends.find((b) => b.name === name);

  async function put(t: TestAnvil, bucket: string, count: number, prefix = 'k'): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < count; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, count - i) }, async (_, j) => {
          const key = `${prefix}${i + j}`;
          const data = `${bucket}/${key}: ${'x'.repeat(100 + i + j)}`;
          out.set(key, data);
          await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
        }),
      );
    }
    return out;
  }

  async function readAll(t: TestAnvil, bucket: string, objects: Map<string, string>): Promise<void> {
    for (const [key, data] of objects) {
      const res = await t.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await res.Body!.transformToString(), key).toBe(data);
    }
  }

  /** Replica count of each blob (by hash). */
  async function locationsPerBlob(t: TestAnvil): Promise<Map<string, string[]>> {
    const rows = await t.anvil.meta.data.selectFrom('blob_locations').select(['hash', 'backend']).execute();
    const out = new Map<string, string[]>();
    for (const r of rows) out.set(r.hash, [...(out.get(r.hash) ?? []), r.backend]);
    return out;
  }

  /** A tenant with an unrestricted key (tenant admin) and a scoped one (member). */
  async function tenantKeys(t: TestAnvil): Promise<{ admin: Creds; member: Creds }> {
    expect((await api(t, 'POST', '/admin/v1/tenants', { body: { name: 'acme' } })).status).toBe(201);
    const admin = (await api(t, 'POST', '/admin/v1/tenants/acme/keys', { body: {} })).json;
    const member = (
      await api(t, 'POST', '/admin/v1/tenants/acme/keys', {
        body: { policies: [{ effect: 'allow', actions: ['read'], resources: ['*'] }] },
      })
    ).json;
    expect(admin.accessKeyId).toBeTruthy();
    expect(member.accessKeyId).toBeTruthy();
    return { admin, member };
  }

  it('lists every backend with quota, usage, replicas, draining flag, health and breaker; only root may manage them', async () => {
    const { storage, roots } = fsBackends(['a', 'b', 'c'], { a: 10 * MiB });
    const t = await start(storage, roots);
    await t.s3.send(new CreateBucketCommand({ Bucket: 'list' }));
    await put(t, 'list', 30);

    // Health comes from the worker's checks.
    await waitFor('health checks', async () => (await backendsOf(t)).backends.every((b) => b.health.ok === true));
    const list = await backendsOf(t);
    expect(list.placement).toBe('spread');
    expect(list.defaultReplication).toBe(1);
    expect(list.backends.map((b) => b.name)).toEqual(['a', 'b', 'c']);
    const a = list.backends[0];
    expect(a).toMatchObject({
      type: 'fs',
      configured: true,
      location: roots.a,
      quotaBytes: 10 * MiB,
      draining: false,
      breaker: 'closed',
      drain: null,
    });
    expect(a.health.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(list.backends[1].quotaBytes).toBeNull();
    expect(list.backends.reduce((n, b) => n + b.blobCount, 0)).toBe(30);
    for (const b of list.backends) {
      expect(b.blobCount).toBe(await replicasOn(t.anvil.core, b.name));
      expect(b.usedBytes).toBe(blobFilesIn(roots[b.name]).reduce((n, f) => n + fs.statSync(f).size, 0));
      expect(b.monthly.month).toMatch(/^\d{4}-\d\d$/);
      expect(b.monthly.limits).toEqual({ requests: null, ingressBytes: null, egressBytes: null });
    }
    // Every write was a request to some backend this month.
    expect(list.backends.reduce((n, b) => n + b.monthly.requests, 0)).toBeGreaterThanOrEqual(30);
    expect((await api(t, 'GET', '/admin/v1/backends/b')).json).toMatchObject({ name: 'b', configured: true });
    expect((await api(t, 'GET', '/admin/v1/backends/nope')).status).toBe(404);

    // The document describes the routes and the bucket's replication.
    const doc = await (await fetch(`${t.endpoint}/admin/v1/openapi.json`)).json();
    expect(doc.paths['/admin/v1/backends'].get).toBeDefined();
    expect(doc.paths['/admin/v1/backends/{backend}'].delete).toBeDefined();
    expect(doc.paths['/admin/v1/buckets/{bucket}'].patch).toBeDefined();
    expect(doc.components.schemas.Bucket.properties.replication).toBeDefined();

    // Tenant admins and members: 403 on everything here (and nothing changes).
    const { admin, member } = await tenantKeys(t);
    for (const creds of [admin, member]) {
      expect((await api(t, 'GET', '/admin/v1/backends', { creds })).status).toBe(403);
      expect((await api(t, 'GET', '/admin/v1/backends/a', { creds })).status).toBe(403);
      expect((await api(t, 'POST', '/admin/v1/backends/a/drain', { creds })).status).toBe(403);
      expect((await api(t, 'POST', '/admin/v1/backends/a/undrain', { creds })).status).toBe(403);
      expect((await api(t, 'DELETE', '/admin/v1/backends/a?force=true', { creds })).status).toBe(403);
    }
    const acme = t.client(admin);
    await acme.send(new CreateBucketCommand({ Bucket: 'acme-bucket' }));
    const patch = await api(t, 'PATCH', '/admin/v1/buckets/acme-bucket', { body: { replication: 2 }, creds: admin });
    expect(patch.status).toBe(403);
    expect((await api(t, 'GET', '/admin/v1/buckets/acme-bucket', { creds: admin })).json).toMatchObject({
      replication: null,
      effectiveReplication: 1,
    });
    expect((await backendOf(t, 'a')).draining).toBe(false);
    expect(await t.anvil.tasks.list()).toEqual([]);
  });

  it('drains a backend through the API: the list reports progress, it ends empty, every object reads back; undrain takes blobs again', async () => {
    const { storage, roots } = fsBackends(['a', 'b', 'c']);
    const t = await start(storage, roots);
    await t.s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    const objects = await put(t, 'drain', 90);
    const onA = await replicasOn(t.anvil.core, 'a');
    expect(onA).toBeGreaterThan(10);

    const drain = await api(t, 'POST', '/admin/v1/backends/a/drain');
    expect(drain.status).toBe(202);
    expect(drain.json).toMatchObject({ backend: 'a', draining: true, enqueued: true, remaining: onA });
    const task = drain.json.task;
    const seen: any[] = [];
    await waitFor('the drain to finish', async () => {
      const a = await backendOf(t, 'a');
      seen.push(a);
      return a.drain?.status === 'done' && (await replicasOn(t.anvil.core, 'a')) === 0;
    });
    // Every report while it ran was about this task, with the replicas left.
    for (const a of seen) {
      expect(a.draining).toBe(true);
      expect(a.drain).toMatchObject({ task });
      expect(a.drain.remaining).toBeLessThanOrEqual(onA);
    }
    const a = await backendOf(t, 'a');
    expect(a).toMatchObject({ draining: true, blobCount: 0, usedBytes: 0, drain: { task, status: 'done', remaining: 0 } });
    expect(blobFilesIn(roots.a)).toEqual([]);
    // The task reported its progress: every replica that was on a, handled.
    const tasks = await api(t, 'GET', '/admin/v1/tasks?status=done');
    const done = tasks.json.tasks.find((x: { id: number }) => x.id === task);
    expect(done.progress).toMatchObject({ done: onA, total: onA, etaSeconds: 0 });
    await readAll(t, 'drain', objects);
    // A drained backend takes no new blobs.
    await put(t, 'drain', 10, 'later');
    expect(await replicasOn(t.anvil.core, 'a')).toBe(0);

    // Unknown or no-longer-possible drains.
    expect((await api(t, 'POST', '/admin/v1/backends/nope/drain')).status).toBe(404);

    const undrain = await api(t, 'POST', '/admin/v1/backends/a/undrain');
    expect(undrain.status).toBe(200);
    expect(undrain.json).toMatchObject({ backend: 'a', draining: false, remaining: 0 });
    expect((await backendOf(t, 'a')).draining).toBe(false);
    // Spread placement favours the empty backend again.
    await put(t, 'drain', 10, 'again');
    expect(await replicasOn(t.anvil.core, 'a')).toBeGreaterThan(0);
  });

  it('remove is refused while replicas remain; forced, it forgets them and a scrub pass restores the replication', async () => {
    const { storage, roots } = fsBackends(['a', 'b', 'c'], {}, 2);
    const t = await start(storage, roots);
    await t.s3.send(new CreateBucketCommand({ Bucket: 'rmv' }));
    const objects = await put(t, 'rmv', 24);
    expect([...(await locationsPerBlob(t)).values()].every((l) => l.length === 2)).toBe(true);
    const onA = await replicasOn(t.anvil.core, 'a');
    expect(onA).toBeGreaterThan(0);

    const refused = await api(t, 'DELETE', '/admin/v1/backends/a');
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('Conflict');
    expect(refused.json.error.message).toMatch(new RegExp(`${onA} replicas remain on backend a`));
    expect(await replicasOn(t.anvil.core, 'a')).toBe(onA);
    expect((await backendOf(t, 'a')).draining).toBe(false);
    expect((await api(t, 'DELETE', '/admin/v1/backends/nope')).status).toBe(404);

    const removed = await api(t, 'DELETE', '/admin/v1/backends/a?force=true');
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ backend: 'a', removed: true, forgottenReplicas: onA, lostBlobs: 0, stillConfigured: true });
    expect(removed.json.note).toMatch(/config file/);
    expect(await replicasOn(t.anvil.core, 'a')).toBe(0);
    // Still declared: listed, marked draining, nothing counted on it.
    expect(await backendOf(t, 'a')).toMatchObject({ configured: true, draining: true, blobCount: 0, usedBytes: 0 });
    const short = [...(await locationsPerBlob(t)).values()].filter((l) => l.length < 2).length;
    expect(short).toBe(onA);
    // With a marked draining, only b and c take new blobs: draining one of them would leave fewer than the replication.
    const tooFew = await api(t, 'POST', '/admin/v1/backends/b/drain');
    expect(tooFew.status).toBe(409);
    expect(tooFew.json.error.message).toMatch(/fewer than the replication of 2/);
    expect((await backendOf(t, 'b')).draining).toBe(false);

    await new Scrubber(t.anvil.core.blobs, pino({ level: 'silent' })).runPass();
    const after = await locationsPerBlob(t);
    expect(after.size).toBe(24);
    for (const [hash, locs] of after) {
      expect(locs.length, hash).toBe(2);
      expect(locs, hash).not.toContain('a');
    }
    const list = await backendsOf(t);
    expect(list.backends.find((b) => b.name === 'b').blobCount + list.backends.find((b) => b.name === 'c').blobCount).toBe(48);
    await readAll(t, 'rmv', objects);
    // Removing it again (no replicas left) needs no force.
    expect((await api(t, 'DELETE', '/admin/v1/backends/a')).json).toMatchObject({ removed: true, forgottenReplicas: 0 });
  });

  it('a backend gone from the config file: listed as not configured, cannot be drained, removed with force, then the scrub restores the replication', async () => {
    const { storage, roots } = fsBackends(['a', 'b', 'c'], {}, 2);
    const t = await startStoppable(storage, roots);
    await t.s3.send(new CreateBucketCommand({ Bucket: 'gone' }));
    const objects = await put(t, 'gone', 12);
    const onA = await replicasOn(t.anvil.core, 'a');
    expect(onA).toBeGreaterThan(0);
    await t.halt();
    t.config.storage = { ...storage, backends: storage.backends.filter((b) => b.name !== 'a') };
    await t.resume();

    const a = await backendOf(t, 'a');
    expect(a).toMatchObject({
      name: 'a',
      type: null,
      configured: false,
      location: null,
      blobCount: onA,
      breaker: null,
      health: { ok: null },
    });
    await readAll(t, 'gone', objects);
    const drain = await api(t, 'POST', '/admin/v1/backends/a/drain');
    expect(drain.status).toBe(404);
    expect(drain.json.error.message).toMatch(/not in the config file/);
    expect((await api(t, 'DELETE', '/admin/v1/backends/a')).status).toBe(409);
    const removed = await api(t, 'DELETE', '/admin/v1/backends/a?force=true');
    expect(removed.json).toMatchObject({ backend: 'a', removed: true, forgottenReplicas: onA, lostBlobs: 0, stillConfigured: false });
    expect((await backendsOf(t)).backends.map((b) => b.name)).toEqual(['b', 'c']);
    expect((await api(t, 'DELETE', '/admin/v1/backends/a')).status).toBe(404);

    await new Scrubber(t.anvil.core.blobs, pino({ level: 'silent' })).runPass();
    const after = await locationsPerBlob(t);
    expect(after.size).toBe(12);
    for (const locs of after.values()) expect(locs.sort()).toEqual(['b', 'c']);
    await readAll(t, 'gone', objects);
  });

  it('per-bucket replication: a bucket set to 2 gets 2 replicas of each new object while another keeps the default 1', async () => {
    const { storage, roots } = fsBackends(['a', 'b', 'c']);
    const t = await start(storage, roots);
    await t.s3.send(new CreateBucketCommand({ Bucket: 'two' }));
    await t.s3.send(new CreateBucketCommand({ Bucket: 'one' }));
    expect((await api(t, 'GET', '/admin/v1/buckets/two')).json).toMatchObject({ replication: null, effectiveReplication: 1 });

    const set = await api(t, 'PATCH', '/admin/v1/buckets/two', { body: { replication: 2 } });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ name: 'two', replication: 2, effectiveReplication: 2 });
    // Bounded by the backends configured; whole numbers only.
    for (const replication of [4, 0, 1.5, 'two']) {
      const bad = await api(t, 'PATCH', '/admin/v1/buckets/two', { body: { replication } });
      expect(bad.status, String(replication)).toBe(400);
    }
    expect((await api(t, 'PATCH', '/admin/v1/buckets/nope', { body: { replication: 2 } })).status).toBe(404);
    expect((await api(t, 'GET', '/admin/v1/buckets/two')).json.replication).toBe(2);
    const listed = (await api(t, 'GET', '/admin/v1/tenants/root/buckets')).json.buckets;
    expect(listed.map((b: any) => [b.name, b.replication, b.effectiveReplication])).toEqual([
      ['one', null, 1],
      ['two', 2, 2],
    ]);

    const inTwo = await put(t, 'two', 8);
    const inOne = await put(t, 'one', 8);
    const perBlob = await locationsPerBlob(t);
    expect(perBlob.size).toBe(16);
    const counts = [...perBlob.values()].map((l) => l.length).sort();
    expect(counts).toEqual([...Array(8).fill(1), ...Array(8).fill(2)]);
    for (const locs of perBlob.values()) expect(new Set(locs).size).toBe(locs.length);
    expect(Object.values(roots).reduce((n, r) => n + blobFilesIn(r).length, 0)).toBe(24);
    await readAll(t, 'two', inTwo);
    await readAll(t, 'one', inOne);

    // Back to the default: new objects get one replica again.
    expect((await api(t, 'PATCH', '/admin/v1/buckets/two', { body: { replication: null } })).json).toMatchObject({
      replication: null,
      effectiveReplication: 1,
    });
    await put(t, 'two', 4, 'later');
    expect(Object.values(roots).reduce((n, r) => n + blobFilesIn(r).length, 0)).toBe(28);
  });

  it('anvil admin backend: directly against a stopped server (list, drain twice = one task), then through --endpoint', async () => {
    const { storage, roots } = fsBackends(['a', 'b'], { b: 64 * MiB });
    const t = await startStoppable(storage, roots);
    await t.s3.send(new CreateBucketCommand({ Bucket: 'cli' }));
    const objects = await put(t, 'cli', 20);
    const onA = await replicasOn(t.anvil.core, 'a');
    expect(onA).toBeGreaterThan(0);
    await t.halt();

    // The CLI reads the same config file the server would.
    const configFile = path.join(tempDir('config'), 'anvil.yaml');
    dirs.push(path.dirname(configFile));
    fs.writeFileSync(
      configFile,
      [
        `data_dir: ${JSON.stringify(t.dataDir)}`,
        `database_url: ${JSON.stringify(t.config.databaseUrl)}`,
        'placement: spread',
        'replication: 1',
        'backends:',
        `  - { name: a, type: fs, path: ${JSON.stringify(roots.a)}, quota: unlimited }`,
        `  - { name: b, type: fs, path: ${JSON.stringify(roots.b)}, quota: 64MiB }`,
      ].join('\n') + '\n',
    );
    const env: NodeJS.ProcessEnv = { ...process.env, ANVIL_CONFIG: configFile };
    for (const name of ['ANVIL_DATA_DIR', 'ANVIL_DATABASE_URL', 'ANVIL_ENDPOINT', 'ANVIL_ACCESS_KEY', 'ANVIL_SECRET_KEY']) delete env[name];
    const direct = async (...args: string[]) =>
      JSON.parse((await run(process.execPath, [BIN, 'admin', ...args, '--json'], { env, cwd: '/' })).stdout);

    const list = await direct('backend', 'list');
    expect(list.defaultReplication).toBe(1);
    expect(list.backends.map((b: any) => [b.name, b.configured, b.quotaBytes, b.draining, b.blobCount])).toEqual([
      ['a', true, null, false, onA],
      ['b', true, 64 * MiB, false, 20 - onA],
    ]);
    // The CLI checked the folders itself.
    expect(list.backends.every((b: any) => b.health.ok === true && b.breaker === 'closed')).toBe(true);
    await expect(direct('backend', 'remove', 'a')).rejects.toThrow(new RegExp(`${onA} replicas? remains? on backend a`));

    const first = await direct('backend', 'drain', 'a');
    expect(first).toMatchObject({ backend: 'a', draining: true, enqueued: true, remaining: onA });
    const second = await direct('backend', 'drain', 'a');
    expect(second).toMatchObject({ task: first.task, enqueued: false });
    expect((await direct('backend', 'list')).backends[0]).toMatchObject({
      draining: true,
      drain: { task: first.task, status: 'pending', remaining: onA },
    });
    expect(await direct('bucket', 'set-replication', 'cli', '2')).toEqual({ bucket: 'cli', replication: 2, effectiveReplication: 2 });
    await expect(direct('bucket', 'set-replication', 'cli', '3')).rejects.toThrow(/replication must be an integer from 1 to 2/);
    expect(await direct('bucket', 'set-replication', 'cli', 'default')).toEqual({
      bucket: 'cli',
      replication: null,
      effectiveReplication: 1,
    });

    // The server, started again, runs the drain the CLI queued.
    await t.resume();
    await waitFor('the drain to finish', async () =>
      (await t.anvil.tasks.list('done')).some((task) => task.type === DRAIN_TASK && Number(task.id) === first.task),
    );
    expect(await replicasOn(t.anvil.core, 'a')).toBe(0);
    await readAll(t, 'cli', objects);

    // Through the admin API.
    const remote = async (args: string[], creds: Creds = t) => {
      const renv: NodeJS.ProcessEnv = { ...process.env, ANVIL_REGION: t.config.region };
      for (const name of [
        'ANVIL_CONFIG',
        'ANVIL_DATA_DIR',
        'ANVIL_DATABASE_URL',
        'ANVIL_ENDPOINT',
        'ANVIL_ACCESS_KEY',
        'ANVIL_SECRET_KEY',
        'ANVIL_ROOT_ACCESS_KEY',
        'ANVIL_ROOT_SECRET_KEY',
      ]) {
        delete renv[name];
      }
      const { stdout } = await run(
        process.execPath,
        [
          BIN,
          'admin',
          ...args,
          '--endpoint',
          t.endpoint,
          '--auth-access-key',
          creds.accessKeyId,
          '--auth-secret-key',
          creds.secretAccessKey,
          '--json',
        ],
        { env: renv, cwd: '/' },
      );
      return JSON.parse(stdout);
    };
    const rlist = await remote(['backend', 'list']);
    expect(rlist.backends.map((b: any) => [b.name, b.draining, b.blobCount])).toEqual([
      ['a', true, 0],
      ['b', false, 20],
    ]);
    expect(rlist.backends[0].drain).toMatchObject({ task: first.task, status: 'done', remaining: 0 });
    expect(await remote(['backend', 'undrain', 'a'])).toMatchObject({ backend: 'a', draining: false, remaining: 0 });
    expect(await remote(['bucket', 'set-replication', 'cli', '2'])).toMatchObject({
      bucket: 'cli',
      replication: 2,
      effectiveReplication: 2,
    });
    await put(t, 'cli', 3, 'two-');
    expect(await replicasOn(t.anvil.core, 'a')).toBe(3);
    expect(await remote(['bucket', 'set-replication', 'cli', 'default'])).toMatchObject({ replication: null, effectiveReplication: 1 });
    await expect(remote(['backend', 'remove', 'a'])).rejects.toThrow(/Conflict: 3 replicas remain on backend a/);
    // Those blobs keep their 2 replicas: with b alone left, a drain could never finish.
    await expect(remote(['backend', 'drain', 'a'])).rejects.toThrow(
      /Conflict: draining a would leave 1 backend taking new blobs, fewer than the replication of 2/,
    );
    expect((await remote(['backend', 'list'])).backends[0].draining).toBe(false);
    const removed = await remote(['backend', 'remove', 'a', '--force']);
    expect(removed).toMatchObject({ backend: 'a', removed: true, forgottenReplicas: 3, lostBlobs: 0, stillConfigured: true });
    expect(removed.note).toMatch(/delete it from the config file/);
    expect(await replicasOn(t.anvil.core, 'a')).toBe(0);
    await readAll(t, 'cli', objects);

    const { admin } = await tenantKeys(t);
    await expect(remote(['backend', 'list'], admin)).rejects.toThrow(/Forbidden/);
    await expect(remote(['backend', 'drain', 'b'], admin)).rejects.toThrow(/Forbidden/);
    await expect(remote(['bucket', 'set-replication', 'cli', '2'], admin)).rejects.toThrow(/Forbidden/);
  }, 180_000);
});
