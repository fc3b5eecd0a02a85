/**
 * Nodes starting together on one PostgreSQL (issue 12, finding 10): every
 * start-up step that writes shared state (migrations, the root tenant and
 * key, backend rows) must be safe on N nodes at once. Before the fix one of
 * two nodes with the same ANVIL_ROOT_ACCESS_KEY died with "access key
 * already exists", and nodes without one each generated their own root key.
 *
 * PostgreSQL only: nodes that share metadata each need their own data
 * folder, and several processes on one SQLite file are refused by the
 * SQLite file's lock (data-folder-lock.test.ts checks that refusal).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';

import { type Anvil, startAnvil } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import { databaseUrlFor, ROOT_KEY, ROOT_SECRET } from '../support/anvil.js';

const NODES = 4;
const ROUNDS = 5;
/** Nodes on one database share the master key (README: Running a cluster). */
const MASTER_KEY = 'ab'.repeat(32);
const log = pino({ level: 'silent' });

describe.skipIf(inject('pgAdminUrl') === null)('nodes starting together on one PostgreSQL', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  /** A fresh database and NODES data folders; starts every node at once and fails if any start failed. */
  async function startTogether(root: Partial<Config>): Promise<Anvil[]> {
    const db = await databaseUrlFor('postgres', '');
    cleanups.push(() => db.drop());
    const configs = Array.from({ length: NODES }, () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-cluster-'));
      cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
      return loadConfig({ listen: '127.0.0.1:0', dataDir, databaseUrl: db.url, masterKey: MASTER_KEY, logLevel: 'silent', ...root }, {});
    });
    const results = await Promise.allSettled(configs.map((c) => startAnvil(c, log)));
    const anvils = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const a of anvils) cleanups.push(() => a.close());
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
    expect(failures).toEqual([]);
    return anvils;
  }

  function client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
    const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
    cleanups.push(async () => c.destroy());
    return c;
  }

  async function rootKeys(a: Anvil): Promise<string[]> {
    return (await a.services.tenants.listKeys('root')).map((k) => k.accessKeyId);
  }

  it(`${NODES} nodes with the same configured root key all start and all serve it, round after round`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const anvils = await startTogether({ rootAccessKey: ROOT_KEY, rootSecretKey: ROOT_SECRET });
      expect(anvils.map((a) => a.root.accessKeyId)).toEqual(Array(NODES).fill(ROOT_KEY));
      expect(await rootKeys(anvils[0])).toEqual([ROOT_KEY]);
      await client(anvils[0].endpoint, { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET }).send(
        new CreateBucketCommand({ Bucket: `round-${round}` }),
      );
      for (const a of anvils) {
        const listed = await client(a.endpoint, { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET }).send(new ListBucketsCommand({}));
        expect(listed.Buckets?.map((b) => b.Name)).toEqual([`round-${round}`]);
      }
      while (cleanups.length) await cleanups.pop()!();
    }
  }, 180_000);

  it(`${NODES} nodes with no configured root key end with one generated root key, shown once, that works on every node`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const anvils = await startTogether({});
      const ids = new Set(anvils.map((a) => a.root.accessKeyId));
      expect(ids.size).toBe(1);
      const [accessKeyId] = ids;
      expect(await rootKeys(anvils[0])).toEqual([accessKeyId]);
      // Only the node that generated it has the secret (printed once, saved in its data folder).
      const generated = anvils.filter((a) => a.root.secretAccessKey !== undefined);
      expect(generated).toHaveLength(1);
      const creds = { accessKeyId, secretAccessKey: generated[0].root.secretAccessKey! };
      expect(JSON.parse(fs.readFileSync(generated[0].root.file, 'utf8'))).toEqual(creds);
      for (const a of anvils) expect((await client(a.endpoint, creds).send(new ListBucketsCommand({}))).Buckets).toEqual([]);
      while (cleanups.length) await cleanups.pop()!();
    }
  }, 180_000);
});
