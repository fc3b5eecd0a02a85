/**
 * Operator metrics (issue 19): after some writes, /-/metrics shows each
 * backend's usage, quota, capacity, health and breaker, each tenant's
 * objects and bytes, replication debt and scrub progress (which move as a
 * replica goes bad and the scrub repairs it), requests in flight and
 * rate-limit rejections.
 */
import fs from 'node:fs';

import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { sql } from 'kysely';
import { expect, it } from 'vitest';

import { LOCATION_BAD } from '../../src/meta/blobs/locations.js';
import { anvilPerTest, describeEachEngine, type EngineName, type TestAnvil } from '../support/anvil.js';
import { blobFilesIn, fsBackends, waitFor } from '../support/backends.js';
import { send } from '../support/wire.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)) labels[k] = v;
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The one sample of `name` with these labels (undefined when absent). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

async function scrape(t: TestAnvil): Promise<Sample[]> {
  const res = await send(t, 'GET', '/-/metrics', {});
  expect(res.status).toBe(200);
  return parse(res.text);
}

const QUOTA = 1024 ** 3;

describeEachEngine('operator metrics', (engine: EngineName) => {
  const anvils = anvilPerTest(engine);

  it('lists backend, tenant, replication and scrub gauges with the values the writes made', async () => {
    const { storage, roots } = fsBackends(['one', 'two'], { one: QUOTA }, 2);
    anvils.dirs.push(...Object.values(roots));
    // No background scrub: the test decides when the scrub runs.
    const t = await anvils.start({ storage, scrubBytesPerSecond: 0, encryptAtRest: false });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'metrics' }));
    const sizes = [1000, 2000, 3000];
    for (const [i, size] of sizes.entries()) {
      await t.s3.send(new PutObjectCommand({ Bucket: 'metrics', Key: `k${i}`, Body: Buffer.alloc(size, i + 1) }));
    }
    const other = await t.anvil.services.tenants.createTenant('acme');
    await t.anvil.core.blobs.replicas.checkHealth();
    t.anvil.metrics.countRateLimited('key');
    t.anvil.metrics.countRateLimited('tenant', 2);
    // One replica lost, and marked for repair (as a read that found it missing does).
    const { rows } = await sql<{ tenant_id: string; hash: string }>`SELECT tenant_id, hash FROM blobs ORDER BY hash LIMIT 1`.execute(
      t.anvil.meta.data,
    );
    const lost = blobFilesIn(roots.two).filter((f) => f.includes(rows[0].hash));
    expect(lost).toHaveLength(1);
    fs.rmSync(lost[0]);
    await t.anvil.core.blobs.replicas.markLocations({ tenantId: rows[0].tenant_id, hash: rows[0].hash }, ['two'], LOCATION_BAD);

    const m = await scrape(t);
    const total = sizes.reduce((a, b) => a + b, 0);
    for (const backend of ['one', 'two']) {
      expect(value(m, 'anvil_backend_stored_bytes', { backend })).toBe(total);
      expect(value(m, 'anvil_backend_replicas', { backend })).toBe(3);
      expect(value(m, 'anvil_backend_up', { backend })).toBe(1);
      expect(value(m, 'anvil_backend_draining', { backend })).toBe(0);
      expect(value(m, 'anvil_backend_breaker_state', { backend, state: 'closed' })).toBe(1);
      expect(value(m, 'anvil_backend_breaker_state', { backend, state: 'open' })).toBe(0);
      expect(value(m, 'anvil_backend_breaker_opens_total', { backend })).toBe(0);
      expect(value(m, 'anvil_backend_free_bytes', { backend })).toBeGreaterThan(0);
      expect(value(m, 'anvil_backend_capacity_bytes', { backend })).toBeGreaterThanOrEqual(
        value(m, 'anvil_backend_free_bytes', { backend })!,
      );
    }
    expect(value(m, 'anvil_backend_quota_bytes', { backend: 'one' })).toBe(QUOTA);
    expect(value(m, 'anvil_backend_quota_bytes', { backend: 'two' })).toBeUndefined();
    expect(value(m, 'anvil_tenant_objects', { tenant: 'root' })).toBe(3);
    expect(value(m, 'anvil_tenant_bytes', { tenant: 'root' })).toBe(total);
    expect(value(m, 'anvil_tenant_version_bytes', { tenant: 'root' })).toBe(total);
    expect(value(m, 'anvil_tenant_objects', { tenant: other.name })).toBe(0);
    expect(value(m, 'anvil_blobs')).toBe(3);
    expect(value(m, 'anvil_replication_debt_blobs')).toBe(1);
    expect(value(m, 'anvil_scrub_bad_replicas')).toBe(1);
    expect(value(m, 'anvil_scrub_verified_blobs')).toBe(0);
    expect(value(m, 'anvil_scrub_oldest_verification_timestamp_seconds')).toBe(0);
    expect(value(m, 'anvil_blobs_corrupt')).toBe(0);
    expect(value(m, 'anvil_rate_limited_total', { scope: 'key' })).toBe(1);
    expect(value(m, 'anvil_rate_limited_total', { scope: 'tenant' })).toBe(2);
    expect(value(m, 'anvil_http_inflight_requests')).toBe(0);
    expect(value(m, 'anvil_metrics_db_age_seconds')).toBeGreaterThanOrEqual(0);

    // The scrub repairs the replica and verifies every blob; the next batch of database reads shows it.
    const before = Date.now();
    await t.anvil.core.blobs.scrubber.runPass();
    let after: Sample[] = [];
    await waitFor(
      'the database-backed gauges to refresh',
      async () => value((after = await scrape(t)), 'anvil_scrub_verified_blobs') === 3,
      20_000,
    );
    expect(value(after, 'anvil_replication_debt_blobs')).toBe(0);
    expect(value(after, 'anvil_scrub_bad_replicas')).toBe(0);
    expect(value(after, 'anvil_scrub_oldest_verification_timestamp_seconds')).toBeGreaterThanOrEqual(Math.floor(before / 1000));
  });

  it('shows a broken backend as down and its breaker open', async () => {
    const { storage, roots } = fsBackends(['one', 'two'], {}, 1);
    anvils.dirs.push(...Object.values(roots));
    const t = await anvils.start({ storage });
    const two = t.anvil.core.blobs.replicas.backends.get('two')!;
    // Its folder is gone: the health check fails; a backend that stops answering has its breaker opened.
    fs.rmSync(roots.two, { recursive: true, force: true });
    expect((await two.health()).ok).toBe(false);
    two.breaker.openNow();
    const m = await scrape(t);
    expect(value(m, 'anvil_backend_up', { backend: 'two' })).toBe(0);
    expect(value(m, 'anvil_backend_up', { backend: 'one' })).not.toBe(0);
    expect(value(m, 'anvil_backend_breaker_state', { backend: 'two', state: 'open' })).toBe(1);
    expect(value(m, 'anvil_backend_breaker_state', { backend: 'two', state: 'closed' })).toBe(0);
    expect(value(m, 'anvil_backend_breaker_opens_total', { backend: 'two' })).toBe(1);
  });
});
