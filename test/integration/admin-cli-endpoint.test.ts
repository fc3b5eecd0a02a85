/**
 * `anvil admin --endpoint <url>`: the same commands through the admin API of
 * a running server (SigV4-signed), with the same output as against the
 * database. Runs bin/anvil.js, which uses dist/ (npm run build first).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
const run = promisify(execFile);
const BIN = path.resolve('bin/anvil.js');

describeEachEngine('anvil admin --endpoint', (engine) => {
  const t = useAnvil(engine, { start: { workerIntervalMs: 100 } });

  /** Runs `anvil admin … --json` against the server only: no data folder or database in its environment. */
  const remote = async (args: string[], creds = { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ANVIL_REGION: t.config.region };
    for (const name of [
      'ANVIL_DATA_DIR',
      'ANVIL_DATABASE_URL',
      'ANVIL_ENDPOINT',
      'ANVIL_ACCESS_KEY',
      'ANVIL_SECRET_KEY',
      'ANVIL_ROOT_ACCESS_KEY',
      'ANVIL_ROOT_SECRET_KEY',
    ])
      delete env[name];
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
      { env, cwd: '/' },
    );
    return JSON.parse(stdout);
  };

  it('creates and lists tenants', async () => {
    const created = await remote(['tenant', 'create', 'acme']);
    expect(created).toMatchObject({ name: 'acme', displayName: 'acme' });
    expect(created.canonicalId).toMatch(/^[0-9a-f]{64}$/);
    const list = await remote(['tenant', 'list']);
    expect(list.map((x: { name: string }) => x.name)).toEqual(['acme', 'root']);
    await expect(remote(['tenant', 'create', 'acme'])).rejects.toThrow(/Conflict: tenant acme already exists/);
  });

  let acme: { accessKeyId: string; secretAccessKey: string };
  it('creates keys (plain, imported, scoped) that work on S3, lists and deletes them', async () => {
    const key = await remote(['key', 'create', '--tenant', 'acme']);
    expect(Object.keys(key).sort()).toEqual(['accessKeyId', 'secretAccessKey', 'tenant']);
    expect(key.tenant).toBe('acme');
    acme = key;
    const client = t.client(acme);
    await client.send(new CreateBucketCommand({ Bucket: 'acme-bucket' }));
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['acme-bucket']);

    const imported = await remote([
      'key',
      'create',
      '--tenant',
      'acme',
      '--access-key',
      'REMOTEIMPORT1',
      '--secret-key',
      'remote-imported-secret',
    ]);
    expect(imported).toEqual({ accessKeyId: 'REMOTEIMPORT1', secretAccessKey: 'remote-imported-secret', tenant: 'acme' });

    const policy = JSON.stringify([{ effect: 'allow', actions: ['read', 'list'], resources: ['acme-bucket/*'] }]);
    const scoped = await remote(['key', 'create', '--tenant', 'acme', '--name', 'reader', '--policy', policy], acme);
    expect(scoped).toMatchObject({ tenant: 'acme', name: 'reader', policies: JSON.parse(policy) });

    const all = await remote(['key', 'list']);
    expect(all.map((k: { accessKeyId: string }) => k.accessKeyId)).toEqual(
      expect.arrayContaining([acme.accessKeyId, 'REMOTEIMPORT1', scoped.accessKeyId, t.accessKeyId]),
    );
    // A tenant admin's key sees its own tenant only.
    const own = await remote(['key', 'list'], acme);
    expect(new Set(own.map((k: { tenant: string }) => k.tenant))).toEqual(new Set(['acme']));

    expect(await remote(['key', 'delete', 'REMOTEIMPORT1'])).toEqual({ deleted: 'REMOTEIMPORT1' });
    await expect(remote(['key', 'delete', 'REMOTEIMPORT1'])).rejects.toThrow(/no access key REMOTEIMPORT1/);
  });

  it('creates, lists and deletes users', async () => {
    const created = await remote([
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
    ]);
    expect(created).toMatchObject({ tenant: 'acme', email: 'ops@acme.test', role: 'admin', disabled: false });
    expect(created.password).toBeUndefined();
    const generated = await remote(['user', 'create', '--tenant', 'acme', '--email', 'dev@acme.test'], acme);
    expect(generated.role).toBe('member');
    expect(generated.password.length).toBeGreaterThanOrEqual(20);
    // The generated password logs in.
    const login = await fetch(`${t.endpoint}/admin/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', email: 'dev@acme.test', password: generated.password }),
    });
    expect(login.status).toBe(200);
    const list = await remote(['user', 'list', '--tenant', 'acme']);
    expect(list.map((u: { email: string }) => u.email)).toEqual(['dev@acme.test', 'ops@acme.test']);
    expect(await remote(['user', 'delete', 'dev@acme.test', '--tenant', 'acme'])).toEqual({
      deleted: generated.id,
      email: 'dev@acme.test',
    });
    expect((await remote(['user', 'list', '--tenant', 'acme'])).map((u: { email: string }) => u.email)).toEqual(['ops@acme.test']);
  });

  it('reports status and force-deletes a bucket through the API; refuses what the key may not do', async () => {
    const status = await remote(['status']);
    expect(status).toMatchObject({ region: t.config.region, tenants: 2, users: 1 });
    await t.client(acme).send(new PutObjectCommand({ Bucket: 'acme-bucket', Key: 'x', Body: 'y' }));
    const del = await remote(['bucket', 'delete', 'acme-bucket', '--force'], acme);
    expect(del).toMatchObject({ bucket: 'acme-bucket' });
    expect(del.task).toBeGreaterThan(0);
    await expect(remote(['status'], acme)).rejects.toThrow(/Forbidden/);
    await expect(remote(['tenant', 'list'], { accessKeyId: acme.accessKeyId, secretAccessKey: 'not-the-secret' })).rejects.toThrow(
      /Unauthorized/,
    );
    // The task queue and the scrub through the API too (root only).
    await expect(remote(['tasks', 'list'], acme)).rejects.toThrow(/Forbidden/);
    const listed = await remote(['tasks', 'list']);
    const deletion = listed.find((x: { id: number }) => x.id === del.task);
    expect(deletion).toMatchObject({ type: 'delete-bucket', payload: { bucket: 'acme-bucket' } });
    expect(['pending', 'running', 'done']).toContain(deletion.status);
    await expect
      .poll(async () => (await remote(['tasks', 'list', '--status', 'done'])).map((x: { id: number }) => x.id), { timeout: 30_000 })
      .toContain(del.task);
    // It reported its progress: the one version there was, deleted.
    const finished = (await remote(['tasks', 'list', '--status', 'done'])).find((x: { id: number }) => x.id === del.task);
    expect(finished.progress).toMatchObject({ done: 1, total: 1, etaSeconds: 0 });
    await expect(remote(['tasks', 'cancel', String(del.task)])).rejects.toThrow(/Conflict: task \d+ has already finished \(it is done\)/);
    await expect(remote(['tasks', 'retry', '999999'])).rejects.toThrow(/NotFound: no task 999999/);
    await expect(remote(['tasks', 'list', '--status', 'bogus'])).rejects.toThrow(/--status must be one of/);
    const scrub = await remote(['scrub', 'status']);
    expect(scrub).toMatchObject({ corrupt: [], badReplicas: 0 });
    expect(scrub.blobs).toBeGreaterThanOrEqual(scrub.verified);
    // The cleanup queue still needs the database.
    await expect(remote(['cleanup', 'list'])).rejects.toThrow(/not available with --endpoint/);
  });
});
