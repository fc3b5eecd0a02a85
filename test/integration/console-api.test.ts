/**
 * What the web console stands on, without a browser: the session's S3
 * credentials (POST /admin/v1/auth/s3-credentials) used by a real S3 client,
 * and the console's static files under /-/console/ (headers, CSP, caching,
 * the `console` setting) — on both engines.
 */
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { CONSOLE_CSP } from '../../src/http/console.js';
import { anvilPerTest, describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

const PASSWORD = 'correct horse battery staple';

describeEachEngine('session S3 credentials', (engine) => {
  const t = useAnvil(engine, { buckets: ['shared', 'private'] });

  async function login(email: string): Promise<{ accessToken: string; refreshToken: string }> {
    const res = await fetch(`${t.endpoint}/admin/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'root', email, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { accessToken: string; refreshToken: string };
  }

  async function credentials(accessToken: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${t.endpoint}/admin/v1/auth/s3-credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    return { status: res.status, json: await res.json() };
  }

  function clientFor(c: { accessKeyId: string; secretAccessKey: string }): S3Client {
    return t.client({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
  }

  it("signs S3 requests as the session's user, with the user's rights", async () => {
    await t.anvil.users.createUser('root', {
      email: 'member@example.test',
      password: PASSWORD,
      role: 'member',
      policies: [{ effect: 'allow', actions: ['read', 'list', 'write'], resources: ['shared/*', 'shared'] }],
    });
    const session = await login('member@example.test');
    const { status, json } = await credentials(session.accessToken);
    expect(status).toBe(200);
    expect(json.accessKeyId).toMatch(/^ASIA[0-9A-F]{32}\d{10}$/);
    expect(json.region).toBe(t.config.region);
    const expires = Date.parse(json.expiresAt);
    expect(expires).toBeGreaterThan(Date.now() + 55 * 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);

    const s3 = clientFor(json);
    await s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'a.txt', Body: 'hello' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'a.txt' }));
    expect(await got.Body!.transformToString()).toBe('hello');
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'shared' }))).KeyCount).toBe(1);
    // Outside the user's policy: refused as for any key with those rights.
    expect((await s3Error(s3.send(new PutObjectCommand({ Bucket: 'private', Key: 'x', Body: 'no' })))).name).toBe('AccessDenied');
    expect((await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'member-made' })))).name).toBe('AccessDenied');
  });

  it('stop working when the session ends, and are no way into the admin API', async () => {
    await t.anvil.users.createUser('root', { email: 'admin@example.test', password: PASSWORD, role: 'admin' });
    const session = await login('admin@example.test');
    const { json } = await credentials(session.accessToken);
    const s3 = clientFor(json);
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining(['shared', 'private']));

    // Signed with them, the admin API refuses (an app-password session could otherwise pass for a key).
    const admin = await signedFetch({ ...t, ...json }, 'GET', `${t.endpoint}/admin/v1/auth/whoami`);
    expect(admin.status).toBe(401);
    expect((await admin.json()).error.message).toMatch(/session credentials are for the S3 API/);

    // A forged secret for a real session id is refused.
    const forged = clientFor({ accessKeyId: json.accessKeyId, secretAccessKey: 'x'.repeat(43) });
    expect((await s3Error(forged.send(new ListBucketsCommand({})))).name).toBe('SignatureDoesNotMatch');
    // So is a key id whose expiry was moved (its secret no longer matches).
    const later = json.accessKeyId.replace(/\d{10}$/, String(Math.floor(Date.now() / 1000) + 7200));
    expect((await s3Error(clientFor({ ...json, accessKeyId: later }).send(new ListBucketsCommand({})))).name).toBe('SignatureDoesNotMatch');

    const out = await fetch(`${t.endpoint}/admin/v1/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    expect(out.status).toBe(204);
    expect((await s3Error(s3.send(new ListBucketsCommand({})))).name).toBe('InvalidAccessKeyId');
  });

  it('are only for user sessions, and no stored key can take their form', async () => {
    // A key principal has no session to derive them from.
    const byKey = await signedFetch(t, 'POST', `${t.endpoint}/admin/v1/auth/s3-credentials`);
    expect(byKey.status).toBe(401);
    const imported = await signedFetch(t, 'POST', `${t.endpoint}/admin/v1/tenants/root/keys`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessKeyId: `ASIA${'0'.repeat(32)}9999999999`, secretAccessKey: 'some-secret-value' }),
    });
    expect(imported.status).toBe(400);
    expect((await imported.json()).error.message).toMatch(/session credentials/);
    // An expired or unknown session's key id is an unknown key.
    const unknown = clientFor({ accessKeyId: `ASIA${'A'.repeat(32)}9999999999`, secretAccessKey: 'whatever-secret' });
    expect((await s3Error(unknown.send(new ListBucketsCommand({})))).name).toBe('InvalidAccessKeyId');
  });
});

describeEachEngine('console static files', (engine) => {
  const t = useAnvil(engine);
  const anvils = anvilPerTest(engine);

  it('serves index.html uncached and hashed assets immutable, with a strict CSP on every answer', async () => {
    expect(t.anvil.consoleUrl).toBe(`${t.endpoint}/-/console/`);
    const index = await fetch(t.anvil.consoleUrl!, { headers: { 'accept-encoding': 'identity' } });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await index.text();
    // No inline script: every <script> has a src.
    expect(html.match(/<script\b[^>]*>/g)?.every((tag) => / src="/.test(tag))).toBe(true);
    const script = /<script[^>]+src="([^"]+)"/.exec(html)![1];
    expect(script).toMatch(/^\/-\/console\/assets\/[^/]+\.js$/);

    const asset = await fetch(`${t.endpoint}${script}`, { headers: { 'accept-encoding': 'br' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const etag = asset.headers.get('etag')!;
    const again = await fetch(`${t.endpoint}${script}`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);

    const bare = await fetch(`${t.endpoint}/-/console`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/-/console/');
    expect((await fetch(`${t.endpoint}/-/console/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${t.endpoint}/-/console/%2e%2e%2fpackage.json`)).status).toBe(404);
    expect((await fetch(t.anvil.consoleUrl!, { method: 'POST' })).status).toBe(405);
  });

  it('is off with console: false', async () => {
    const off = await anvils.start({ console: false });
    expect(off.anvil.consoleUrl).toBeUndefined();
    const res = await fetch(`${off.endpoint}/-/console/`);
    expect(res.headers.get('content-security-policy')).toBeNull();
    expect(res.status).not.toBe(200);
  });
});
