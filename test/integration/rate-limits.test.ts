/**
 * Request rate limits (README § Quotas and rate limits), on both engines:
 * the server's defaults per access key and per tenant answer 503 SlowDown
 * with Retry-After and are counted in anvil_rate_limited_total{scope}; a
 * tenant's own limits (admin API) replace them at once; the defaults reload
 * on SIGHUP (the real `anvil server`, its config file rewritten).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';

import { adminApi } from '../support/admin-api.js';
import { anvilPerTest, databaseUrlFor, describeEachEngine, s3Error, type TestAnvil } from '../support/anvil.js';
import { waitFor } from '../support/backends.js';
import { startServer, stopServer } from '../support/cli-server.js';
import { signedFetch } from '../support/signed-fetch.js';

/** The value of one sample of /-/metrics (0 when absent). */
async function metric(endpoint: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${endpoint}/-/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** A tenant with a key of its own; the key's S3 client and credentials. */
async function tenantWithKey(t: TestAnvil, name: string) {
  await adminApi(t, 'POST', 'tenants', { name });
  return newKey(t, name);
}

async function newKey(t: TestAnvil, tenant: string) {
  const key = await adminApi(t, 'POST', `tenants/${tenant}/keys`, {});
  const creds = { accessKeyId: key.accessKeyId as string, secretAccessKey: key.secretAccessKey as string };
  return { creds, s3: t.client(creds) };
}

describeEachEngine('request rate limits', (engine) => {
  const { start } = anvilPerTest(engine);

  it('a key past its default rate gets 503 SlowDown with Retry-After, counted by scope; other keys are untouched', async () => {
    // A low rate: the burst is all a test of this length can use.
    const t = await start({ rateLimitPerKey: 0.1, rateLimitPerKeyBurst: 3 });
    const a = await tenantWithKey(t, 'alpha');
    const b = await newKey(t, 'alpha');
    await a.s3.send(new CreateBucketCommand({ Bucket: 'limited' }));
    await a.s3.send(new PutObjectCommand({ Bucket: 'limited', Key: 'k', Body: 'x' }));
    await a.s3.send(new ListBucketsCommand({}));
    const refused = await s3Error(a.s3.send(new PutObjectCommand({ Bucket: 'limited', Key: 'k2', Body: 'y' })));
    expect(refused.name).toBe('SlowDown');
    expect(refused.$metadata.httpStatusCode).toBe(503);
    // The raw answer: Retry-After in whole seconds (1/0.1 s a token: up to 10).
    const raw = await signedFetch({ ...a.creds, endpoint: t.endpoint }, 'GET', `${t.endpoint}/limited`, {});
    expect(raw.status).toBe(503);
    const retryAfter = raw.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(10);
    expect(await raw.text()).toContain('<Code>SlowDown</Code>');
    expect(await metric(t.endpoint, 'anvil_rate_limited_total', 'scope="key"')).toBe(2);
    // The refused PUT stored nothing; another key of the same tenant has its own bucket of tokens.
    expect((await b.s3.send(new ListObjectsV2Command({ Bucket: 'limited' }))).Contents?.map((o) => o.Key)).toEqual(['k']);
  });

  it("a tenant's limit covers all its keys together; its own limits (admin API) replace the defaults at once", async () => {
    const t = await start({ rateLimitPerTenant: 0.1, rateLimitPerTenantBurst: 2 });
    const a1 = await tenantWithKey(t, 'alpha');
    const a2 = await newKey(t, 'alpha');
    const other = await tenantWithKey(t, 'beta');
    await a1.s3.send(new ListBucketsCommand({}));
    await a2.s3.send(new ListBucketsCommand({}));
    expect((await s3Error(a1.s3.send(new ListBucketsCommand({})))).name).toBe('SlowDown');
    expect((await s3Error(a2.s3.send(new ListBucketsCommand({})))).name).toBe('SlowDown');
    expect(await metric(t.endpoint, 'anvil_rate_limited_total', 'scope="tenant"')).toBe(2);
    await other.s3.send(new ListBucketsCommand({}));

    // 0 lifts alpha's limit; the tenant shows it.
    const lifted = await adminApi(t, 'PATCH', 'tenants/alpha', { rateLimit: { requestsPerSecond: 0 } });
    expect(lifted.rateLimit).toEqual({ requestsPerSecond: 0, burst: null, perKeyRequestsPerSecond: null, perKeyBurst: null });
    for (let i = 0; i < 5; i++) await a1.s3.send(new ListBucketsCommand({}));
    // A per-key limit of its own, where the server has none.
    await adminApi(t, 'PATCH', 'tenants/alpha', { rateLimit: { perKeyRequestsPerSecond: 0.1, perKeyBurst: 1 } });
    await a2.s3.send(new ListBucketsCommand({}));
    expect((await s3Error(a2.s3.send(new ListBucketsCommand({})))).name).toBe('SlowDown');
    expect(await metric(t.endpoint, 'anvil_rate_limited_total', 'scope="key"')).toBe(1);
    await a1.s3.send(new ListBucketsCommand({}));
    // Reset to the defaults: the tenant limit is back, and its bucket, emptied before, has not refilled.
    const reset = await adminApi(t, 'PATCH', 'tenants/alpha', {
      rateLimit: { requestsPerSecond: null, perKeyRequestsPerSecond: null, perKeyBurst: null },
    });
    expect(reset.rateLimit).toEqual({ requestsPerSecond: null, burst: null, perKeyRequestsPerSecond: null, perKeyBurst: null });
    expect((await s3Error(a1.s3.send(new ListBucketsCommand({})))).name).toBe('SlowDown');
  });

  it('anvil.reload applies new default limits to the next request; buckets of tokens do not outlive their use', async () => {
    const t = await start();
    const a = await tenantWithKey(t, 'alpha');
    for (let i = 0; i < 5; i++) await a.s3.send(new ListBucketsCommand({}));
    expect(t.anvil.rateLimit.limiter.tracked).toBe(0);
    const report = await t.anvil.reload({ ...t.config, rateLimitPerKey: 0.1, rateLimitPerKeyBurst: 1 });
    expect(report).toEqual({ applied: ['rate_limit_per_key', 'rate_limit_per_key_burst'], needRestart: [] });
    await a.s3.send(new ListBucketsCommand({}));
    expect((await s3Error(a.s3.send(new ListBucketsCommand({})))).name).toBe('SlowDown');
    expect(t.anvil.rateLimit.limiter.tracked).toBe(1);
    await t.anvil.reload(t.config);
    await a.s3.send(new ListBucketsCommand({}));
  });

  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('SIGHUP: a new rate_limit_per_key in the config file applies to the running server', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-rl-'));
    const dataDir = path.join(dir, 'data');
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const file = path.join(dir, 'anvil.yaml');
    const settings = (extra: string) =>
      fs.writeFileSync(file, `data_dir: ${dataDir}\ndatabase_url: ${db.url}\nlisten: 127.0.0.1:0\nlog_level: info\n${extra}`);
    settings('');
    const s = await startServer({ ANVIL_CONFIG: file, ANVIL_LOG_LEVEL: '', ANVIL_LISTEN: '' });
    cleanups.push(() => stopServer(s));
    let output = s.output;
    s.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    s.child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const reloaded = () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'configuration reloaded');
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'root-credentials.json'), 'utf8'));
    const s3 = new S3Client({ endpoint: s.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    cleanups.push(() => s3.destroy());
    for (let i = 0; i < 5; i++) await s3.send(new ListBucketsCommand({}));

    settings('rate_limit_per_key: 6/min\nrate_limit_per_key_burst: 1\n');
    s.child.kill('SIGHUP');
    await waitFor('the reload', () => reloaded() !== undefined);
    expect(reloaded()).toMatchObject({ applied: ['rate_limit_per_key', 'rate_limit_per_key_burst'], needRestart: [] });
    await s3.send(new ListBucketsCommand({}));
    const refused = await s3Error(s3.send(new ListBucketsCommand({})));
    expect(refused.name).toBe('SlowDown');
    expect(await metric(s.endpoint, 'anvil_rate_limited_total', 'scope="key"')).toBe(1);
  });
});
