/**
 * Deleting a tenant (admin API, root only), on both engines: refused while
 * it owns buckets; with force its keys stop working at once and a
 * background task deletes its buckets (every version), then the tenant;
 * the root tenant is never deleted.
 */
import { CreateBucketCommand, HeadBucketCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { adminApi } from '../support/admin-api.js';
import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

describeEachEngine('tenant delete', (engine) => {
  const t = useAnvil(engine, { start: { workerIntervalMs: 100 } });

  const del = (name: string, force = false) =>
    signedFetch(t, 'DELETE', `${t.endpoint}/admin/v1/tenants/${name}${force ? '?force=true' : ''}`).then(async (r) => ({
      status: r.status,
      json: await r.json(),
    }));
  const tenants = async () => (await adminApi(t, 'GET', 'tenants')) as { tenants?: Array<{ name: string }> } | Array<{ name: string }>;

  it('deletes an empty tenant with its keys; refuses one that owns buckets, and the root tenant', async () => {
    await adminApi(t, 'POST', 'tenants', { name: 'empty' });
    const key = await adminApi(t, 'POST', 'tenants/empty/keys', {});
    const res = await del('empty');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ tenant: 'empty', deleted: true });
    expect(JSON.stringify(await tenants())).not.toContain('"empty"');
    const gone = t.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    expect((await s3Error(gone.send(new CreateBucketCommand({ Bucket: 'nope-empty' })))).name).toBe('InvalidAccessKeyId');

    expect((await del('root')).status).toBe(400);
    expect((await del('no-such-tenant')).status).toBe(404);
  });

  it('with force: access ends at once, a task deletes every bucket and version, then the tenant', async () => {
    await adminApi(t, 'POST', 'tenants', { name: 'full' });
    const key = await adminApi(t, 'POST', 'tenants/full/keys', {});
    const s3 = t.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    for (const b of ['full-a', 'full-b']) {
      await s3.send(new CreateBucketCommand({ Bucket: b }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
      for (let i = 0; i < 3; i++) await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: `v${i}` }));
    }
    const refused = await del('full');
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toMatch(/still owns 2 bucket/);

    const forced = await del('full', true);
    expect(forced.status).toBe(202);
    expect(forced.json).toMatchObject({ tenant: 'full', deleted: false, buckets: 2 });
    // Its keys are gone before the task runs.
    expect((await s3Error(s3.send(new PutObjectCommand({ Bucket: 'full-a', Key: 'late', Body: 'x' })))).name).toBe('InvalidAccessKeyId');
    await expect.poll(async () => JSON.stringify(await tenants()), { timeout: 30_000, interval: 200 }).not.toContain('"full"');
    for (const b of ['full-a', 'full-b']) {
      expect((await s3Error(t.s3.send(new HeadBucketCommand({ Bucket: b })))).$metadata.httpStatusCode).toBe(404);
    }
    const done = await adminApi(t, 'GET', 'tasks?status=done');
    const task = done.tasks.find((x: { id: number }) => x.id === forced.json.task);
    expect(task).toMatchObject({ type: 'delete-tenant', progress: { done: 2, total: 2 } });
  });
});
