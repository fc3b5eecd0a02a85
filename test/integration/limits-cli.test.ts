/**
 * `anvil admin tenant show|set-quota|set-rate-limit` and `bucket set-quota`
 * through both doors (the database, and --endpoint through the admin API),
 * on both engines; what they set applies to the running server at once.
 * Runs bin/anvil.js, which uses dist/ (npm run build first).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { beforeAll, expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/anvil.js');
const KiB = 1024;

describeEachEngine('anvil admin: quotas and rate limits', (engine) => {
  const t = useAnvil(engine);
  let s3: S3Client;

  /** `anvil admin … --json` on the database. */
  const direct = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [BIN, 'admin', ...args, '--json'], {
      env: { ...process.env, ANVIL_DATA_DIR: t.dataDir, ANVIL_DATABASE_URL: t.config.databaseUrl },
    });
    return JSON.parse(stdout);
  };
  /** `anvil admin … --json` through the server's admin API only. */
  const remote = async (...args: string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ANVIL_REGION: t.config.region };
    for (const name of ['ANVIL_DATA_DIR', 'ANVIL_DATABASE_URL', 'ANVIL_ENDPOINT', 'ANVIL_ROOT_ACCESS_KEY', 'ANVIL_ROOT_SECRET_KEY'])
      delete env[name];
    const creds = ['--auth-access-key', t.accessKeyId, '--auth-secret-key', t.secretAccessKey];
    const { stdout } = await run(process.execPath, [BIN, 'admin', ...args, '--endpoint', t.endpoint, ...creds, '--json'], {
      env,
      cwd: '/',
    });
    return JSON.parse(stdout);
  };

  beforeAll(async () => {
    await direct('tenant', 'create', 'acme');
    const key = await direct('key', 'create', '--tenant', 'acme');
    s3 = t.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    await s3.send(new CreateBucketCommand({ Bucket: 'acme-data' }));
  });

  for (const door of ['direct', 'remote'] as const) {
    it(`[${door}] sets and shows a tenant's quota with its usage; the server enforces it at once`, async () => {
      const admin = door === 'direct' ? direct : remote;
      const shown = await admin('tenant', 'show', 'acme');
      expect(shown).toMatchObject({ name: 'acme', quota: { bytes: null, objects: null } });
      const used = shown.usage.bytes;
      const set = await admin('tenant', 'set-quota', 'acme', '--bytes', `${(used + 8 * KiB) / KiB}KiB`, '--objects', '100');
      expect(set.quota).toEqual({ bytes: used + 8 * KiB, objects: 100 });
      await s3.send(new PutObjectCommand({ Bucket: 'acme-data', Key: `${door}-1`, Body: Buffer.alloc(8 * KiB, 1) }));
      const err = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'acme-data', Key: `${door}-2`, Body: 'x' })));
      expect(err.name).toBe('QuotaExceeded');
      const list = await admin('tenant', 'list');
      expect(list.find((x: { name: string }) => x.name === 'acme')).toMatchObject({
        quota: { bytes: used + 8 * KiB, objects: 100 },
        usage: { bytes: used + 8 * KiB },
      });
      // Only the objects limit goes; bytes stays.
      expect((await admin('tenant', 'set-quota', 'acme', '--objects', 'none')).quota).toEqual({ bytes: used + 8 * KiB, objects: null });
      expect((await admin('tenant', 'set-quota', 'acme', '--bytes', 'none')).quota).toEqual({ bytes: null, objects: null });
      await s3.send(new PutObjectCommand({ Bucket: 'acme-data', Key: `${door}-2`, Body: 'x' }));
    });

    it(`[${door}] sets a bucket's quota, shown with the bucket`, async () => {
      const admin = door === 'direct' ? direct : remote;
      const b = await admin('bucket', 'set-quota', 'acme-data', '--objects', '1');
      expect(b.quota).toEqual({ bytes: null, objects: 1 });
      expect((await admin('bucket', 'show', 'acme-data')).quota).toEqual({ bytes: null, objects: 1 });
      const err = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'acme-data', Key: `${door}-b`, Body: 'x' })));
      expect(err.name).toBe('QuotaExceeded');
      expect((await admin('bucket', 'set-quota', 'acme-data', '--objects', 'none')).quota).toEqual({ bytes: null, objects: null });
    });

    it(`[${door}] sets a tenant's rate limits; the server applies them to the next request`, async () => {
      const admin = door === 'direct' ? direct : remote;
      // A key of its own: its token bucket starts full.
      const key = await admin('key', 'create', '--tenant', 'acme');
      const s3 = t.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      const set = await admin('tenant', 'set-rate-limit', 'acme', '--key-rate', '6/min', '--key-burst', '1', '--rate', 'unlimited');
      expect(set.rateLimit).toEqual({ requestsPerSecond: 0, burst: null, perKeyRequestsPerSecond: 0.1, perKeyBurst: 1 });
      await s3.send(new ListBucketsCommand({}));
      expect((await s3Error(s3.send(new ListBucketsCommand({})))).name).toBe('SlowDown');
      const back = await admin('tenant', 'set-rate-limit', 'acme', '--key-rate', 'default', '--key-burst', 'default', '--rate', 'default');
      expect(back.rateLimit).toEqual({ requestsPerSecond: null, burst: null, perKeyRequestsPerSecond: null, perKeyBurst: null });
      await s3.send(new ListBucketsCommand({}));
    });
  }

  it('refuses what does not parse, naming the option', async () => {
    await expect(direct('tenant', 'set-quota', 'acme', '--bytes', 'lots')).rejects.toThrow(/--bytes: invalid size "lots"/);
    await expect(direct('tenant', 'set-quota', 'acme')).rejects.toThrow(/give --bytes, --objects or both/);
    await expect(direct('tenant', 'set-rate-limit', 'acme', '--rate', 'fast')).rejects.toThrow(/--rate: invalid rate "fast"/);
    await expect(remote('tenant', 'show', 'nobody')).rejects.toThrow(/no tenant named nobody/);
  });
});
