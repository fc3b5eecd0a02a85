/** `anvil server` as an operator runs it: first start prints credentials once, env vars configure it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';

import { databaseUrlFor, describeEachEngine } from '../support/anvil.js';
import { startServer, stopServer } from '../support/cli-server.js';

describeEachEngine('anvil server', (engine) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('creates credentials on the first start, prints the secret once and saves it with mode 0600', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-cli-'));
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    const env = { ANVIL_DATA_DIR: dataDir, ANVIL_DATABASE_URL: db.url, ANVIL_REGION: 'eu-north-1' };
    const first = await startServer(env);
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'root-credentials.json'), 'utf8'));
    expect(fs.statSync(path.join(dataDir, 'root-credentials.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(first.output).toContain(creds.accessKeyId);
    expect(first.output).toContain(creds.secretAccessKey);
    expect(first.output).toContain('region eu-north-1');
    const s3 = new S3Client({ endpoint: first.endpoint, region: 'eu-north-1', forcePathStyle: true, credentials: creds });
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets ?? []).toEqual([]);
    s3.destroy();
    await stopServer(first);

    const second = await startServer(env);
    expect(second.output).toContain(creds.accessKeyId);
    expect(second.output).not.toContain(creds.secretAccessKey);
    await stopServer(second);
  });

  it('creates the configured root key, and refuses to start when it exists with another secret', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-cli-'));
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    const env = {
      ANVIL_DATA_DIR: dataDir,
      ANVIL_DATABASE_URL: db.url,
      ANVIL_ROOT_ACCESS_KEY: 'OPERATORKEY01',
      ANVIL_ROOT_SECRET_KEY: 'operator-secret-0001',
      ANVIL_MASTER_KEY: 'cd'.repeat(32),
    };
    const s = await startServer(env);
    expect(fs.existsSync(path.join(dataDir, 'master.key'))).toBe(false);
    const s3 = new S3Client({
      endpoint: s.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'OPERATORKEY01', secretAccessKey: 'operator-secret-0001' },
    });
    await s3.send(new ListBucketsCommand({}));
    s3.destroy();
    await stopServer(s);
    await expect(startServer({ ...env, ANVIL_ROOT_SECRET_KEY: 'a-different-secret' })).rejects.toThrow(/different secret/);
  });
});
