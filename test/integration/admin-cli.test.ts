import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { databaseUrlFor, describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
const run = promisify(execFile);
const BIN = path.resolve('bin/anvil.js');

describeEachEngine('anvil admin', (engine) => {
  const t = useAnvil(engine);

  const admin = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [BIN, 'admin', ...args, '--json'], {
      env: { ...process.env, ANVIL_DATA_DIR: t.dataDir, ANVIL_DATABASE_URL: t.config.databaseUrl },
    });
    return JSON.parse(stdout);
  };

  it('creates and lists tenants', async () => {
    const created = await admin('tenant', 'create', 'acme');
    expect(created).toMatchObject({ name: 'acme', displayName: 'acme' });
    expect(created.id).toBeTruthy();
    expect(created.canonicalId).toMatch(/^[0-9a-f]{64}$/);
    const list = await admin('tenant', 'list');
    expect(list.map((x: { name: string }) => x.name)).toEqual(['acme', 'root']);
    await expect(admin('tenant', 'create', 'acme')).rejects.toThrow(/already exists/);
  });

  it('creates a key the running server accepts at once, and deletes it with immediate effect', async () => {
    const key = await admin('key', 'create', '--tenant', 'acme');
    expect(key.tenant).toBe('acme');
    expect(key.accessKeyId).toMatch(/^AK[A-Z2-7]{18}$/);
    expect(key.secretAccessKey.length).toBeGreaterThanOrEqual(40);
    const client = t.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    await client.send(new CreateBucketCommand({ Bucket: 'acme-bucket' }));
    const listed = await client.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toEqual(['acme-bucket']);
    const keys = await admin('key', 'list');
    expect(keys.map((k: { accessKeyId: string }) => k.accessKeyId)).toContain(key.accessKeyId);
    expect(JSON.stringify(keys)).not.toContain(key.secretAccessKey);
    await admin('key', 'delete', key.accessKeyId);
    const err = await s3Error(client.send(new ListBucketsCommand({})));
    expect(err.name).toBe('InvalidAccessKeyId');
  });

  it('imports known credentials', async () => {
    const key = await admin('key', 'create', '--tenant', 'acme', '--access-key', 'IMPORTEDKEY123', '--secret-key', 'imported-secret-value');
    expect(key).toEqual({ accessKeyId: 'IMPORTEDKEY123', secretAccessKey: 'imported-secret-value', tenant: 'acme' });
    const client = t.client({ accessKeyId: 'IMPORTEDKEY123', secretAccessKey: 'imported-secret-value' });
    const listed = await client.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toEqual(['acme-bucket']);
  });

  it('creates, lists and deletes users, and reports status', async () => {
    const created = await admin(
      'user',
      'create',
      '--tenant',
      'acme',
      '--email',
      'Ops@Acme.test',
      '--password',
      'ops password 1',
      '--role',
      'admin',
    );
    expect(created).toMatchObject({ tenant: 'acme', email: 'ops@acme.test', role: 'admin', disabled: false });
    const generated = await admin('user', 'create', '--tenant', 'acme', '--email', 'dev@acme.test');
    expect(generated).toMatchObject({ role: 'member' });
    expect(generated.password.length).toBeGreaterThanOrEqual(20);
    // The running server sees the user at once: the generated password logs in.
    const login = await fetch(`${t.endpoint}/admin/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', email: 'dev@acme.test', password: generated.password }),
    });
    expect(login.status).toBe(200);
    const list = await admin('user', 'list', '--tenant', 'acme');
    expect(list.map((u: { email: string }) => u.email)).toEqual(['dev@acme.test', 'ops@acme.test']);
    expect(await admin('user', 'delete', generated.id, '--tenant', 'acme')).toEqual({ deleted: generated.id, email: 'dev@acme.test' });
    await expect(admin('user', 'delete', 'dev@acme.test', '--tenant', 'acme')).rejects.toThrow(/no user/);
    const status = await admin('status');
    expect(status).toMatchObject({ engine: engine, tenants: 2, users: 1, uptimeSeconds: null });
  });

  it('lists, retries and purges cleanup dead letters', async () => {
    const dead = (hash: string) => ({
      tenant_id: 't',
      hash,
      file_id: 'f',
      attempts: 8,
      last_error: 'EIO',
      created_at: Date.now(),
      failed_at: Date.now(),
    });
    await t.anvil.meta.data
      .insertInto('cleanup_dead_letters')
      .values([dead('a'.repeat(64)), dead('b'.repeat(64))])
      .execute();
    const listed = await admin('cleanup', 'dlq', 'list');
    expect(listed.map((r: { hash: string; last_error: string }) => [r.hash[0], r.last_error])).toEqual([
      ['a', 'EIO'],
      ['b', 'EIO'],
    ]);
    const retried = await admin('cleanup', 'dlq', 'retry', String(listed[0].id));
    expect(retried).toEqual({ requeued: 1, processed: 1 });
    expect((await admin('cleanup', 'dlq', 'list')).length).toBe(1);
    expect(await admin('cleanup', 'dlq', 'purge')).toEqual({ purged: 1 });
    expect(await admin('cleanup', 'dlq', 'list')).toEqual([]);
    expect(await admin('cleanup', 'list')).toEqual([]);
  });

  it('opens only an existing deployment: a wrong folder or database fails clearly and nothing is created there', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-admin-'));
    const db = await databaseUrlFor(engine, path.join(parent, 'elsewhere'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const name of ['ANVIL_DATA_DIR', 'ANVIL_DATABASE_URL', 'ANVIL_MASTER_KEY', 'ANVIL_ENDPOINT']) delete env[name];
      const missing = path.join(parent, 'no-such-folder');
      const noFolder = run(process.execPath, [BIN, 'admin', 'tenant', 'create', 'ghost'], {
        env: { ...env, ANVIL_DATA_DIR: missing, ANVIL_DATABASE_URL: db.url },
      });
      await expect(noFolder).rejects.toThrow(`no Anvil deployment in ${missing}: master.key is missing`);
      expect(fs.existsSync(missing)).toBe(false);

      // The master key given, the database is still not a deployment: nothing is created in it.
      const withKey = run(process.execPath, [BIN, 'admin', 'tenant', 'create', 'ghost'], {
        env: { ...env, ANVIL_DATA_DIR: missing, ANVIL_DATABASE_URL: db.url, ANVIL_MASTER_KEY: 'ef'.repeat(32) },
      });
      await expect(withKey).rejects.toThrow(
        engine === 'sqlite' ? /no Anvil deployment at .*: the SQLite file does not exist/ : /no Anvil deployment in the database/,
      );
      if (engine === 'sqlite') expect(fs.existsSync(path.join(parent, 'elsewhere'))).toBe(false);
      else {
        const { default: pg } = await import('pg');
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          expect((await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows).toEqual([]);
        } finally {
          await c.end();
        }
      }
    } finally {
      await db.drop();
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it('keeps secrets encrypted at rest', async () => {
    const rows = await t.anvil.meta.control.selectFrom('access_keys').select(['access_key_id', 'secret_enc']).execute();
    for (const row of rows) expect(row.secret_enc).not.toContain('imported-secret-value');
    if (engine === 'sqlite') {
      for (const file of ['anvil.db', 'anvil.db-wal']) {
        const p = path.join(t.dataDir, file);
        if (fs.existsSync(p)) expect(fs.readFileSync(p).includes(Buffer.from('imported-secret-value'))).toBe(false);
      }
    }
  });
});
