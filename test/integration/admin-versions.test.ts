/**
 * Versioning and Object Lock as the operator sees them: the admin API's
 * bucket view (versioning, lock state, version counts, noncurrent bytes) and
 * a key's history (GET /admin/v1/buckets/{bucket}/versions), and the same
 * through `anvil admin bucket show|list|versions`, against the database and
 * with --endpoint. Runs bin/anvil.js, which uses dist/ (npm run build first).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/anvil.js');

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

describeEachEngine('admin: versioning, Object Lock and key history', (engine) => {
  const t = useAnvil(engine, { buckets: ['plain'] });

  async function api(pathAndQuery: string, creds?: Creds, method = 'GET', body?: unknown): Promise<{ status: number; json: any }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await signedFetch(t, method, `${t.endpoint}${pathAndQuery}`, {
      creds,
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
    });
    const out = await res.text();
    return { status: res.status, json: out ? JSON.parse(out) : undefined };
  }

  /** `anvil admin …` against the database (direct) or the admin API (--endpoint); JSON unless text. */
  async function cli(mode: 'direct' | 'endpoint', args: string[], opts: { text?: boolean } = {}): Promise<any> {
    const env: NodeJS.ProcessEnv = { ...process.env, ANVIL_REGION: t.config.region };
    for (const name of ['ANVIL_ENDPOINT', 'ANVIL_ACCESS_KEY', 'ANVIL_SECRET_KEY', 'ANVIL_ROOT_ACCESS_KEY', 'ANVIL_ROOT_SECRET_KEY'])
      delete env[name];
    const extra: string[] = [];
    if (mode === 'direct') {
      env.ANVIL_DATA_DIR = t.dataDir;
      env.ANVIL_DATABASE_URL = t.config.databaseUrl;
    } else {
      delete env.ANVIL_DATA_DIR;
      delete env.ANVIL_DATABASE_URL;
      extra.push('--endpoint', t.endpoint, '--auth-access-key', t.accessKeyId, '--auth-secret-key', t.secretAccessKey);
    }
    const { stdout } = await run(process.execPath, [BIN, 'admin', ...args, ...extra, ...(opts.text ? [] : ['--json'])], {
      env,
      cwd: mode === 'endpoint' ? '/' : undefined,
    });
    return opts.text ? stdout : JSON.parse(stdout);
  }

  const KEY = 'docs/a b+c é.txt';
  const SIZES = [11, 2048, 70_000];
  /** The versions' ids, newest first, and the delete marker's. */
  let ids: string[] = [];
  let markerId = '';
  let lockedIds: string[] = [];

  beforeAll(async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'vers' }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: 'vers', VersioningConfiguration: { Status: 'Enabled' } }));
    const written: string[] = [];
    for (const [i, size] of SIZES.entries()) {
      const put = await t.s3.send(new PutObjectCommand({ Bucket: 'vers', Key: KEY, Body: Buffer.alloc(size, 65 + i) }));
      expect(put.VersionId).toMatch(/^[0-9a-f]{20}$/);
      written.push(put.VersionId!);
    }
    ids = written.reverse();
    const del = await t.s3.send(new DeleteObjectCommand({ Bucket: 'vers', Key: KEY }));
    expect(del.DeleteMarker).toBe(true);
    markerId = del.VersionId!;

    await t.s3.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }));
    await t.s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: 'locked',
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } } },
      }),
    );
    const first = await t.s3.send(new PutObjectCommand({ Bucket: 'locked', Key: 'held', Body: 'one' }));
    const second = await t.s3.send(new PutObjectCommand({ Bucket: 'locked', Key: 'held', Body: 'two!' }));
    await t.s3.send(
      new PutObjectLegalHoldCommand({ Bucket: 'locked', Key: 'held', VersionId: first.VersionId, LegalHold: { Status: 'ON' } }),
    );
    lockedIds = [second.VersionId!, first.VersionId!];

    await t.s3.send(new CreateBucketCommand({ Bucket: 'paused' }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: 'paused', VersioningConfiguration: { Status: 'Enabled' } }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'paused', Key: 'k', Body: 'v1' }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: 'paused', VersioningConfiguration: { Status: 'Suspended' } }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'paused', Key: 'k', Body: 'null version' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'only', Body: 'x' }));
  });

  const total = SIZES.reduce((a, b) => a + b, 0);

  it("shows a bucket's versioning, lock state, version counts and noncurrent bytes", async () => {
    const vers = await api('/admin/v1/buckets/vers');
    expect(vers.status).toBe(200);
    expect(vers.json).toMatchObject({
      name: 'vers',
      versioning: 'Enabled',
      objectLock: { enabled: false, defaultRetention: null },
      usage: {
        objectCount: 0,
        byteCount: 0,
        versionCount: 3,
        versionBytes: total,
        noncurrentVersionCount: 3,
        noncurrentBytes: total,
        deleteMarkerCount: 1,
      },
    });

    const locked = await api('/admin/v1/buckets/locked');
    expect(locked.json).toMatchObject({
      versioning: 'Enabled',
      objectLock: { enabled: true, defaultRetention: { mode: 'GOVERNANCE', days: 2 } },
      usage: {
        objectCount: 1,
        byteCount: 4,
        versionCount: 2,
        versionBytes: 7,
        noncurrentVersionCount: 1,
        noncurrentBytes: 3,
        deleteMarkerCount: 0,
      },
    });
    expect(locked.json.objectLock.defaultRetention).not.toHaveProperty('years');

    const paused = await api('/admin/v1/buckets/paused');
    expect(paused.json).toMatchObject({
      versioning: 'Suspended',
      objectLock: { enabled: false, defaultRetention: null },
      usage: { objectCount: 1, byteCount: 12, versionCount: 2, versionBytes: 14, noncurrentVersionCount: 1, noncurrentBytes: 2 },
    });

    const plain = await api('/admin/v1/buckets/plain');
    expect(plain.json).toMatchObject({
      versioning: 'Unversioned',
      objectLock: { enabled: false, defaultRetention: null },
      usage: {
        objectCount: 1,
        byteCount: 1,
        versionCount: 1,
        versionBytes: 1,
        noncurrentVersionCount: 0,
        noncurrentBytes: 0,
        deleteMarkerCount: 0,
      },
    });

    // The tenant's bucket list carries the same view.
    const list = await api('/admin/v1/tenants/root/buckets');
    const byName = Object.fromEntries(list.json.buckets.map((b: { name: string }) => [b.name, b]));
    expect(Object.keys(byName).sort()).toEqual(['locked', 'paused', 'plain', 'vers']);
    expect(byName.vers).toEqual(vers.json);
    expect(byName.locked).toEqual(locked.json);
  });

  it("lists a key's history newest first, with delete markers and lock state", async () => {
    const r = await api(`/admin/v1/buckets/vers/versions?key=${encodeURIComponent(KEY)}`);
    expect(r.status).toBe(200);
    expect(r.json.bucket).toBe('vers');
    expect(r.json.key).toBe(KEY);
    expect(r.json.isTruncated).toBe(false);
    expect(r.json).not.toHaveProperty('nextVersionIdMarker');
    const v = r.json.versions;
    expect(v.map((x: { versionId: string }) => x.versionId)).toEqual([markerId, ...ids]);
    expect(v[0]).toMatchObject({
      isLatest: true,
      isDeleteMarker: true,
      size: 0,
      etag: '',
      lockMode: null,
      lockUntil: null,
      legalHold: false,
    });
    expect(v.slice(1).map((x: { size: number }) => x.size)).toEqual([...SIZES].reverse());
    for (const x of v.slice(1)) {
      expect(x).toMatchObject({ isLatest: false, isDeleteMarker: false, lockMode: null, lockUntil: null, legalHold: false });
      expect(x.etag).toMatch(/^[0-9a-f]{32}$/);
    }
    const times = v.map((x: { lastModified: string }) => Date.parse(x.lastModified));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1]);

    const held = await api('/admin/v1/buckets/locked/versions?key=held');
    expect(held.json.versions.map((x: { versionId: string }) => x.versionId)).toEqual(lockedIds);
    const [newest, oldest] = held.json.versions;
    expect(newest).toMatchObject({ isLatest: true, size: 4, lockMode: 'GOVERNANCE', legalHold: false });
    expect(oldest).toMatchObject({ isLatest: false, size: 3, lockMode: 'GOVERNANCE', legalHold: true });
    // The default retention: two days from the write.
    const days = (Date.parse(newest.lockUntil) - Date.parse(newest.lastModified)) / 86_400_000;
    expect(days).toBeCloseTo(2, 5);

    // Suspended: the null version replaced nothing that was versioned.
    const paused = await api('/admin/v1/buckets/paused/versions?key=k');
    expect(paused.json.versions.map((x: { versionId: string; size: number }) => [x.versionId === 'null', x.size])).toEqual([
      [true, 12],
      [false, 2],
    ]);

    const none = await api('/admin/v1/buckets/vers/versions?key=absent');
    expect(none.json).toEqual({ bucket: 'vers', key: 'absent', versions: [], isTruncated: false });
  });

  it('pages a key history by version id', async () => {
    const first = await api(`/admin/v1/buckets/vers/versions?key=${encodeURIComponent(KEY)}&limit=3`);
    expect(first.json.versions.map((x: { versionId: string }) => x.versionId)).toEqual([markerId, ids[0], ids[1]]);
    expect(first.json.isTruncated).toBe(true);
    expect(first.json.nextVersionIdMarker).toBe(ids[1]);
    const second = await api(`/admin/v1/buckets/vers/versions?key=${encodeURIComponent(KEY)}&limit=3&after=${ids[1]}`);
    expect(second.json.versions.map((x: { versionId: string }) => x.versionId)).toEqual([ids[2]]);
    expect(second.json.isTruncated).toBe(false);

    // A "null" version as the marker is looked up.
    const paused = await api('/admin/v1/buckets/paused/versions?key=k&after=null');
    expect(paused.json.versions).toHaveLength(1);
    expect(paused.json.versions[0].versionId).not.toBe('null');

    const badLimit = await api(`/admin/v1/buckets/vers/versions?key=x&limit=0`);
    expect(badLimit.status).toBe(400);
    expect(badLimit.json.error.path).toEqual(['query', 'limit']);
    const noKey = await api('/admin/v1/buckets/vers/versions');
    expect(noKey.status).toBe(400);
    expect(noKey.json.error.path).toEqual(['query', 'key']);
    const badMarker = await api('/admin/v1/buckets/vers/versions?key=x&after=not-an-id');
    expect(badMarker.status).toBe(400);
    const goneNull = await api('/admin/v1/buckets/vers/versions?key=x&after=null');
    expect(goneNull.status).toBe(404);
    expect((await api('/admin/v1/buckets/nosuch/versions?key=x')).status).toBe(404);
  });

  it("lets members see a key's history only with the list right on it", async () => {
    const make = async (resources: string[]) =>
      (
        await api('/admin/v1/tenants/root/keys', undefined, 'POST', {
          policies: [{ effect: 'allow', actions: ['list', 'read'], resources }],
        })
      ).json as Creds;
    const docs = await make(['vers/docs/*']);
    const other = await make(['vers/other/*']);
    const ok = await api(`/admin/v1/buckets/vers/versions?key=${encodeURIComponent(KEY)}`, docs);
    expect(ok.status).toBe(200);
    expect(ok.json.versions).toHaveLength(4);
    const denied = await api(`/admin/v1/buckets/vers/versions?key=${encodeURIComponent(KEY)}`, other);
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('Forbidden');
    // Another tenant does not learn the bucket exists.
    await api('/admin/v1/tenants', undefined, 'POST', { name: 'outsider' });
    const outsider = (await api('/admin/v1/tenants/outsider/keys', undefined, 'POST', {})).json as Creds;
    expect((await api(`/admin/v1/buckets/vers/versions?key=${encodeURIComponent(KEY)}`, outsider)).status).toBe(404);
  });

  it('documents the versions route and the new bucket fields in the OpenAPI document', async () => {
    const doc = await (await fetch(`${t.endpoint}/admin/v1/openapi.json`)).json();
    const op = doc.paths['/admin/v1/buckets/{bucket}/versions'].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['bucket', 'key', 'limit', 'after']));
    const bucket = doc.components.schemas.Bucket;
    expect(Object.keys(bucket.properties)).toEqual(expect.arrayContaining(['versioning', 'objectLock', 'usage']));
    expect(doc.components.schemas.KeyVersion.properties).toHaveProperty('legalHold');
  });

  for (const mode of ['direct', 'endpoint'] as const) {
    it(`anvil admin bucket show and list (${mode})`, async () => {
      const shown = await cli(mode, ['bucket', 'show', 'vers']);
      expect(shown).toEqual((await api('/admin/v1/buckets/vers')).json);
      expect(shown.usage).toMatchObject({ objectCount: 0, versionCount: 3, noncurrentBytes: total, deleteMarkerCount: 1 });

      const text = await cli(mode, ['bucket', 'show', 'vers'], { text: true });
      expect(text).toContain('versioning:      Enabled');
      expect(text).toContain('object lock:     off');
      expect(text).toContain('objects:         0 (0 B)');
      expect(text).toContain(`versions:        3 (70 KiB), noncurrent 3 (70 KiB)`);
      expect(text).toContain('delete markers:  1');
      const lockedText = await cli(mode, ['bucket', 'show', 'locked'], { text: true });
      expect(lockedText).toContain('object lock:     enabled, default retention GOVERNANCE 2 days');

      const list = await cli(mode, ['bucket', 'list', '--tenant', 'root']);
      expect(list.map((b: { name: string }) => b.name).sort()).toEqual(['locked', 'paused', 'plain', 'vers']);
      const byName = Object.fromEntries(list.map((b: { name: string }) => [b.name, b]));
      expect(byName.paused.versioning).toBe('Suspended');
      expect(byName.locked.objectLock).toEqual({ enabled: true, defaultRetention: { mode: 'GOVERNANCE', days: 2 } });
      expect(byName.plain.versioning).toBe('Unversioned');
    });

    it(`anvil admin bucket versions as JSON, paged (${mode})`, async () => {
      const history = await cli(mode, ['bucket', 'versions', 'vers', KEY]);
      expect(history).toEqual((await api(`/admin/v1/buckets/vers/versions?key=${encodeURIComponent(KEY)}`)).json);
      expect(history.versions.map((x: { versionId: string }) => x.versionId)).toEqual([markerId, ...ids]);

      // --limit cuts the listing, --after resumes it.
      const cut = await cli(mode, ['bucket', 'versions', 'vers', KEY, '--limit', '2']);
      expect(cut.versions.map((x: { versionId: string }) => x.versionId)).toEqual([markerId, ids[0]]);
      expect(cut.isTruncated).toBe(true);
      expect(cut.nextVersionIdMarker).toBe(ids[0]);
      const rest = await cli(mode, ['bucket', 'versions', 'vers', KEY, '--after', ids[0]]);
      expect(rest.versions.map((x: { versionId: string }) => x.versionId)).toEqual([ids[1], ids[2]]);
      expect(rest.isTruncated).toBe(false);
      await expect(cli(mode, ['bucket', 'versions', 'nosuch', 'k'])).rejects.toThrow(/nosuch/);
    });

    it(`anvil admin bucket versions as text (${mode})`, async () => {
      const lines = (await cli(mode, ['bucket', 'versions', 'vers', KEY], { text: true })).trimEnd().split('\n');
      expect(lines[0].split('\t')).toEqual(['VERSION ID', 'LATEST', 'SIZE', 'ETAG', 'LAST MODIFIED', 'RETENTION', 'LEGAL HOLD']);
      const rows = lines.slice(1).map((l: string) => l.split('\t'));
      expect(rows.map((r: string[]) => r[0])).toEqual([markerId, ...ids]);
      expect(rows[0].slice(1, 4)).toEqual(['latest', 'delete marker', '-']);
      expect(rows.slice(1).map((r: string[]) => [r[1], r[2], r[5], r[6]])).toEqual([
        ['-', String(SIZES[2]), '-', '-'],
        ['-', String(SIZES[1]), '-', '-'],
        ['-', String(SIZES[0]), '-', '-'],
      ]);

      const heldRows = (await cli(mode, ['bucket', 'versions', 'locked', 'held'], { text: true }))
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l: string) => l.split('\t'));
      expect(heldRows.map((r: string[]) => r[0])).toEqual(lockedIds);
      for (const r of heldRows) expect(r[5]).toMatch(/^GOVERNANCE until \d{4}-\d\d-\d\dT[\d:.]+Z$/);
      expect(heldRows.map((r: string[]) => r[6])).toEqual(['-', 'on']);

      expect(await cli(mode, ['bucket', 'versions', 'vers', 'absent'], { text: true })).toBe('(no versions of absent in vers)\n');
    });
  }
});
