/**
 * Master-key rotation without downtime: a running server keeps accepting
 * keys while their secrets are re-encrypted under a new master key, keys it
 * creates meanwhile stay readable, and after the rotation nothing in the
 * database is under the old key.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { openControlPlane } from '../../src/app.js';
import { dropPreviousMasterKeys, installNewMasterKey } from '../../src/core/master-key-rotation.js';
import { describeEachEngine, useAnvil } from '../support/anvil.js';
describeEachEngine('master key rotation', (engine) => {
  const t = useAnvil(engine);

  async function secretsByKey(): Promise<Record<string, number>> {
    const cp = await openControlPlane(t.config);
    try {
      return await cp.tenants.secretsByMasterKey();
    } finally {
      await cp.meta.close();
    }
  }

  it('re-encrypts every secret under a new key while the server keeps serving', async () => {
    await t.anvil.services.tenants.createTenant('rotating');
    const before = await t.anvil.services.tenants.createKey('rotating');
    const client = t.client({ accessKeyId: before.accessKeyId, secretAccessKey: before.secretAccessKey });
    await client.send(new CreateBucketCommand({ Bucket: 'rot-before' }));
    const [oldId] = Object.keys(await secretsByKey());

    const { previousId, newId } = installNewMasterKey(t.dataDir);
    expect(previousId).toBe(oldId);
    expect(newId).not.toBe(oldId);
    const cp = await openControlPlane(t.config);
    try {
      const rewritten = await cp.tenants.reencryptSecrets();
      expect(rewritten).toBeGreaterThanOrEqual(2); // the root key and `before`
      expect(await cp.tenants.secretsByMasterKey()).toEqual({ [newId]: expect.any(Number) });
      // The raw rows really changed: no ciphertext under the old key id remains.
      const rows = await cp.meta.control.selectFrom('access_keys').select(['master_key_id']).execute();
      expect(new Set(rows.map((r) => r.master_key_id))).toEqual(new Set([newId]));
    } finally {
      await cp.meta.close();
    }

    // The running server still has the old key as its primary; it meets rows under the
    // new key, re-reads the key files and keeps authenticating.
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['rot-before']);
    expect((await t.s3.send(new ListBucketsCommand({}))).Buckets).toBeDefined();
    // A key the old-primary server creates meanwhile is under the old key: still readable everywhere.
    const during = await t.anvil.services.tenants.createKey('rotating');
    expect((await secretsByKey())[oldId]).toBe(1);

    await t.restart();
    const duringClient = t.client({ accessKeyId: during.accessKeyId, secretAccessKey: during.secretAccessKey });
    expect((await duringClient.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['rot-before']);

    // After every server restarted, a last pass leaves nothing under the old key; then it can go.
    const last = await openControlPlane(t.config);
    try {
      expect(await last.tenants.reencryptSecrets()).toBe(1);
      expect(Object.keys(await last.tenants.secretsByMasterKey())).toEqual([newId]);
    } finally {
      await last.meta.close();
    }
    expect(dropPreviousMasterKeys(t.dataDir)).toBe(true);
    expect(fs.existsSync(path.join(t.dataDir, 'master.key.previous'))).toBe(false);
    await t.restart();
    expect((await duringClient.send(new ListBucketsCommand({}))).Buckets).toHaveLength(1);
    expect((await client.send(new ListBucketsCommand({}))).Buckets).toHaveLength(1);
  });

  it('`anvil admin rotate-master-key --generate`, then `--drop-previous` once every server restarted', async () => {
    const run = promisify(execFile);
    const admin = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, [path.resolve('bin/anvil.js'), 'admin', ...args, '--json'], {
        env: { ...process.env, ANVIL_DATA_DIR: t.dataDir, ANVIL_DATABASE_URL: t.config.databaseUrl },
      });
      return JSON.parse(stdout);
    };
    await t.anvil.services.tenants.createTenant('cli-rotating');
    const key = await t.anvil.services.tenants.createKey('cli-rotating');
    const client = t.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    await client.send(new CreateBucketCommand({ Bucket: 'cli-rot' }));

    const first = await admin('rotate-master-key', '--generate');
    expect(first.installed.newId).toBe(first.primary);
    expect(first.secretsByMasterKey).toEqual({ [first.primary]: expect.any(Number) });
    expect(fs.existsSync(path.join(t.dataDir, 'master.key.previous'))).toBe(true);
    // The running server (old primary in memory) keeps authenticating.
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['cli-rot']);

    await t.restart();
    const last = await admin('rotate-master-key', '--drop-previous');
    expect(last).toMatchObject({ primary: first.primary, installed: null, previousDropped: true });
    expect(fs.existsSync(path.join(t.dataDir, 'master.key.previous'))).toBe(false);
    await t.restart();
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['cli-rot']);
  });
});
