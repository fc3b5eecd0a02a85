/**
 * Health endpoints (issue 19): liveness and readiness on the S3 port,
 * unauthenticated, path-style only. Readiness fails, naming what failed,
 * when the staging folder cannot take a file, when a plane is not migrated,
 * and when fewer backends are healthy than the default replication needs;
 * it answers 503 "draining" once shutdown starts. The short aliases never
 * shadow a bucket of that name for signed S3 requests.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

import { CreateBucketCommand, HeadBucketCommand, ListObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { sql } from 'kysely';
import { expect, it } from 'vitest';

import { anvilPerTest, describeEachEngine, type EngineName, useAnvil } from '../support/anvil.js';
import { fsBackends, waitFor } from '../support/backends.js';
import { send, sign, type WireResponse } from '../support/wire.js';

interface ReadyBody {
  status: string;
  checks: Record<string, { ok: boolean; detail?: string; healthy?: number; needed?: number }>;
  reason?: string;
}

function json(res: WireResponse): ReadyBody {
  expect(res.headers['content-type']).toBe('application/json');
  return JSON.parse(res.text) as ReadyBody;
}

describeEachEngine('health endpoints', (engine: EngineName) => {
  const t = useAnvil(engine);

  it('answers liveness on /-/health and /healthz, GET and HEAD, without credentials', async () => {
    for (const p of ['/-/health', '/healthz']) {
      const res = await send(t, 'GET', p, {});
      expect(res.status).toBe(200);
      expect(json(res)).toMatchObject({ status: 'ok', draining: false });
      const head = await send(t, 'HEAD', p, {});
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
    }
  });

  it('answers readiness with every check on /-/ready and /readyz', async () => {
    for (const p of ['/-/ready', '/readyz', '/-/ready?verbose=1']) {
      const res = await send(t, 'GET', p, {});
      expect(res.status).toBe(200);
      const body = json(res);
      expect(body.status).toBe('ready');
      expect(body.reason).toBeUndefined();
      expect(Object.keys(body.checks).sort()).toEqual(['backends', 'control_database', 'data_database', 'data_folder']);
      for (const c of Object.values(body.checks)) expect(c.ok).toBe(true);
      expect(body.checks.backends).toMatchObject({ healthy: 1, needed: 1 });
    }
    expect((await send(t, 'HEAD', '/-/ready', {})).status).toBe(200);
  });

  it('fails readiness while the staging folder cannot take a file, naming it, and recovers', async () => {
    const tmp = t.anvil.core.blobs.staging.tmpDir;
    const aside = `${tmp}.aside`;
    // A file where the folder was: every write into it fails (ENOTDIR), even for root.
    fs.renameSync(tmp, aside);
    fs.writeFileSync(tmp, 'not a folder');
    try {
      let res: WireResponse | undefined;
      await waitFor('readiness to fail', async () => (res = await send(t, 'GET', '/-/ready', {})).status === 503, 10_000);
      const body = json(res!);
      expect(body.status).toBe('not ready');
      expect(body.checks.data_folder).toMatchObject({ ok: false, detail: 'ENOTDIR' });
      expect(body.checks.control_database.ok).toBe(true);
      expect(body.reason).toBe('data_folder: ENOTDIR');
      // The public answer names no path.
      expect(res!.text).not.toContain(t.dataDir);
      // Liveness is not readiness: the process still serves.
      expect((await send(t, 'GET', '/-/health', {})).status).toBe(200);
    } finally {
      fs.rmSync(tmp);
      fs.renameSync(aside, tmp);
    }
    await waitFor('readiness to recover', async () => (await send(t, 'GET', '/-/ready', {})).status === 200, 10_000);
  });

  it('fails readiness while a plane misses a migration this build knows', async () => {
    const db = t.anvil.meta.data;
    const { rows } = await sql<{
      name: string;
      timestamp: string;
    }>`SELECT name, timestamp FROM anvil_migrations_regional ORDER BY name DESC`.execute(db);
    const last = rows[0];
    await sql`DELETE FROM anvil_migrations_regional WHERE name = ${last.name}`.execute(db);
    try {
      let res: WireResponse | undefined;
      await waitFor('readiness to fail', async () => (res = await send(t, 'GET', '/-/ready', {})).status === 503, 10_000);
      const body = json(res!);
      expect(body.checks.data_database).toMatchObject({ ok: false });
      expect(body.checks.data_database.detail).toContain(last.name);
      expect(body.checks.control_database.ok).toBe(true);
      expect(body.reason).toMatch(/^data_database: 1 migration\(s\) not applied/);
    } finally {
      await sql`INSERT INTO anvil_migrations_regional (name, timestamp) VALUES (${last.name}, ${last.timestamp})`.execute(db);
    }
    await waitFor('readiness to recover', async () => (await send(t, 'GET', '/-/ready', {})).status === 200, 10_000);
  });

  it('keeps /healthz and /readyz for probes only: signed requests reach buckets of those names', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'healthz' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'healthz', Key: 'k', Body: 'v' }));
    await t.s3.send(new HeadBucketCommand({ Bucket: 'healthz' }));
    const list = await t.s3.send(new ListObjectsCommand({ Bucket: 'healthz' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual(['k']);
    // A signed GET /healthz with no query is ListObjects, not the probe.
    const s = await sign(t, 'GET', '/healthz', { payloadHash: 'UNSIGNED-PAYLOAD' });
    const signed = await send(t, 'GET', s.pathAndQuery, s.headers);
    expect(signed.status).toBe(200);
    expect(signed.text).toContain('<ListBucketResult');
    // An unsigned probe still gets the health answer.
    expect(json(await send(t, 'GET', '/healthz', {})).status).toBe('ok');
  });

  it('answers health paths on a virtual host as the keys they are', async () => {
    const port = Number(new URL(t.endpoint).port);
    const res = await new Promise<{ status: number; type?: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/-/health', headers: { host: `nosuchbucket.${t.config.domain}` }, agent: false }, (r) => {
          r.resume();
          r.on('end', () => resolve({ status: r.statusCode!, type: r.headers['content-type'] }));
        })
        .on('error', reject);
    });
    expect(res.status).not.toBe(200);
    expect(res.type).toBe('application/xml');
  });
});

describeEachEngine('readiness and backends', (engine: EngineName) => {
  const anvils = anvilPerTest(engine);

  it('fails readiness when fewer backends are healthy than the default replication', async () => {
    const { storage, roots } = fsBackends(['one', 'two'], {}, 2);
    anvils.dirs.push(...Object.values(roots));
    const t = await anvils.start({ storage });
    const ready = json(await send(t, 'GET', '/-/ready', {}));
    expect(ready.checks.backends).toMatchObject({ ok: true, healthy: 2, needed: 2 });
    // Backend "two" loses its folder: its health check fails.
    fs.rmSync(roots.two, { recursive: true, force: true });
    const two = t.anvil.core.blobs.replicas.backends.get('two')!;
    expect((await two.health()).ok).toBe(false);
    let res: WireResponse | undefined;
    await waitFor('readiness to fail', async () => (res = await send(t, 'GET', '/-/ready', {})).status === 503, 10_000);
    const body = json(res!);
    expect(body.checks.backends).toMatchObject({ ok: false, healthy: 1, needed: 2 });
    expect(body.checks.backends.detail).toContain('two (health check failing)');
    expect(body.reason).toMatch(/^backends: 1 of 2 needed healthy/);
  });

  it('answers 503 draining once shutdown starts, while a request is still in flight', async () => {
    const t = await anvils.start();
    await t.s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
    const url = new URL(t.endpoint);
    // A probe caught by the shutdown half-way through its headers: its connection is not idle, so it is
    // answered (an idle keep-alive connection is closed at once, and new connections are refused).
    const probe = await partialRequest(url, '/-/ready');
    // A slow upload holds the drain open.
    const s = await sign(t, 'PUT', '/drain/slow', { payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': '10' } });
    const put = http.request({
      host: url.hostname,
      port: Number(url.port),
      method: 'PUT',
      path: s.pathAndQuery,
      headers: s.headers,
      agent: false,
    });
    const putDone = new Promise<number>((resolve, reject) => {
      put.on('response', (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode!));
      });
      put.on('error', reject);
    });
    put.write('01234');
    await waitFor('the upload to be in flight', () => t.anvil.admission.inflightRequests === 1, 10_000);
    const closed = t.anvil.close({ drainMs: 30_000 });
    expect(t.anvil.health.isDraining).toBe(true);
    const during = await probe.finish();
    expect(during).toMatch(/^HTTP\/1\.1 503 /);
    expect(during).toMatch(/\r\nConnection: close\r\n/i);
    expect(JSON.parse(during.slice(during.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 'draining' });
    put.end('56789');
    expect(await putDone).toBe(200);
    await closed;
  });
});

/** A request whose headers are sent but for the final blank line; finish() sends it and reads the raw answer. */
async function partialRequest(url: URL, p: string): Promise<{ finish(): Promise<string> }> {
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
