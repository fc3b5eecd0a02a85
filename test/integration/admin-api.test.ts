/**
 * The admin API (/admin/v1/ on the S3 port): OpenAPI document, SigV4 and
 * bearer authentication, tenant isolation, users and sessions, grant
 * delegation of keys, bucket usage and forced deletion — on both engines.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { adminRoutes } from '../../src/admin/routes.js';
import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}
interface ApiResult {
  status: number;
  headers: Headers;
  json: any;
}

describeEachEngine('admin API', (engine) => {
  const t = useAnvil(engine, { start: { workerIntervalMs: 100, sessions: { throttle: { maxPerAccount: 3 } } } });

  async function result(res: Response): Promise<ApiResult> {
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  }

  /** A request signed with an access key (root's unless given). */
  async function api(method: string, path: string, opts: { body?: unknown; creds?: Creds } = {}): Promise<ApiResult> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const res = await signedFetch(t, method, `${t.endpoint}${path}`, {
      creds: opts.creds,
      body,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    });
    return result(res);
  }

  /** A request with a bearer token (or none). */
  async function bearer(method: string, path: string, token: string | null, body?: unknown): Promise<ApiResult> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${t.endpoint}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return result(res);
  }

  const keyCreds = (k: { accessKeyId: string; secretAccessKey: string }): Creds => ({
    accessKeyId: k.accessKeyId,
    secretAccessKey: k.secretAccessKey,
  });

  let alphaAdmin: Creds;
  let betaAdmin: Creds;

  it('serves an OpenAPI 3.1 document listing every route, without authentication', async () => {
    const res = await fetch(`${t.endpoint}/admin/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = await res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('Anvil admin API');
    expect(doc.components.securitySchemes).toHaveProperty('sigv4');
    expect(doc.components.securitySchemes).toHaveProperty('bearer');
    for (const r of adminRoutes()) {
      const op = doc.paths[r.path.replace(/:([^/]+)/g, '{$1}')]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(op.summary).toBe(r.summary);
      expect(op.operationId).toMatch(/^[a-z]+[A-Za-z0-9]*$/);
    }
    const operationIds = Object.values(doc.paths).flatMap((p: any) => Object.values(p).map((op: any) => op.operationId));
    expect(new Set(operationIds).size).toBe(operationIds.length);
    // Every $ref resolves inside the document.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([^"]+)"/.exec(ref)?.[1];
      expect(name, ref).toBeDefined();
      expect(doc.components.schemas[name!], ref).toBeDefined();
    }
    const createUser = doc.paths['/admin/v1/tenants/{tenant}/users'].post;
    expect(createUser.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateUser' });
    expect(doc.components.schemas.CreateUser.required).toEqual(['email', 'password']);
    expect(createUser.responses['201']).toBeDefined();
  });

  it('answers 401 JSON without credentials or with bad ones, and 404 JSON for unknown paths', async () => {
    const none = await bearer('GET', '/admin/v1/tenants', null);
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('Unauthorized');
    const badSecret = await api('GET', '/admin/v1/tenants', {
      creds: { accessKeyId: t.accessKeyId, secretAccessKey: 'wrong-secret-value' },
    });
    expect(badSecret.status).toBe(401);
    expect(badSecret.json.error).toMatchObject({ code: 'Unauthorized', reason: 'SignatureDoesNotMatch' });
    const badToken = await bearer('GET', '/admin/v1/auth/whoami', 'not.a.jwt');
    expect(badToken.status).toBe(401);
    expect(badToken.json.error.code).toBe('Unauthorized');
    const unknown = await api('GET', '/admin/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('NotFound');
    const wrongMethod = await api('PUT', '/admin/v1/tenants');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toContain('GET');
  });

  it('rejects a bad body with 400 and the zod path', async () => {
    const r = await api('POST', '/admin/v1/tenants', { body: { name: 5 } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect(r.json.error.path).toEqual(['body', 'name']);
    const extra = await api('POST', '/admin/v1/tenants', { body: { name: 'x', color: 'red' } });
    expect(extra.status).toBe(400);
    const notJson = await signedFetch(t, 'POST', `${t.endpoint}/admin/v1/tenants`, { body: '{nope' });
    expect(notJson.status).toBe(400);
    const policy = await api('POST', '/admin/v1/tenants/root/keys', {
      body: { policies: [{ effect: 'maybe', actions: ['read'], resources: ['*'] }] },
    });
    expect(policy.status).toBe(400);
    expect(policy.json.error.path).toEqual(['body', 'policies', '0', 'effect']);
  });

  it('lets root create tenants, tenant-admin keys and users', async () => {
    for (const name of ['alpha', 'beta']) {
      const created = await api('POST', '/admin/v1/tenants', { body: { name } });
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({ name, displayName: name });
    }
    expect((await api('POST', '/admin/v1/tenants', { body: { name: 'alpha' } })).status).toBe(409);
    const list = await api('GET', '/admin/v1/tenants');
    expect(list.json.tenants.map((x: { name: string }) => x.name)).toEqual(['alpha', 'beta', 'root']);

    const a = await api('POST', '/admin/v1/tenants/alpha/keys', { body: { name: 'alpha admin' } });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ tenant: 'alpha', name: 'alpha admin', policies: null });
    expect(a.json.secretAccessKey.length).toBeGreaterThanOrEqual(40);
    alphaAdmin = keyCreds(a.json);
    betaAdmin = keyCreds((await api('POST', '/admin/v1/tenants/beta/keys', { body: {} })).json);

    const who = await api('GET', '/admin/v1/auth/whoami', { creds: alphaAdmin });
    expect(who.json).toMatchObject({ kind: 'key', level: 'admin', tenant: 'alpha', accessKeyId: alphaAdmin.accessKeyId, policies: null });
    expect((await api('GET', '/admin/v1/auth/whoami')).json.level).toBe('root');

    const user = await api('POST', '/admin/v1/tenants/alpha/users', {
      body: { email: 'Ada@Example.com', password: 'correct horse battery', role: 'admin' },
    });
    expect(user.status).toBe(201);
    expect(user.json).toMatchObject({ tenant: 'alpha', email: 'ada@example.com', role: 'admin', disabled: false });
    const shortPw = await api('POST', '/admin/v1/tenants/alpha/users', { body: { email: 'bob@example.com', password: 'short' } });
    expect(shortPw.status).toBe(400);
    const dup = await api('POST', '/admin/v1/tenants/alpha/users', { body: { email: 'ada@example.com', password: 'another password' } });
    expect(dup.status).toBe(409);

    const status = await api('GET', '/admin/v1/status');
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ region: t.config.region, engine: t.anvil.meta.kind, tenants: 3, users: 1 });
    expect(status.json.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(status.json.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect((await api('GET', '/admin/v1/status', { creds: alphaAdmin })).status).toBe(403);
  });

  it("keeps a tenant admin inside its tenant: another tenant's data is 404", async () => {
    await t.client(betaAdmin).send(new CreateBucketCommand({ Bucket: 'beta-bucket' }));
    const as = (method: string, path: string, body?: unknown) => api(method, path, { creds: alphaAdmin, body });
    expect((await as('GET', '/admin/v1/tenants')).status).toBe(403);
    expect((await as('POST', '/admin/v1/tenants', { name: 'gamma' })).status).toBe(403);
    expect((await as('GET', '/admin/v1/tenants/alpha')).status).toBe(200);
    for (const path of [
      '/admin/v1/tenants/beta',
      '/admin/v1/tenants/beta/keys',
      '/admin/v1/tenants/beta/buckets',
      '/admin/v1/tenants/beta/users',
      '/admin/v1/buckets/beta-bucket',
      '/admin/v1/tenants/no-such-tenant',
    ]) {
      const r = await as('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.json.error.code).toBe('NotFound');
    }
    // Same answer whether the other tenant's resource exists or not.
    expect((await as('GET', '/admin/v1/tenants/beta')).json.error.message).toBe('no tenant named beta');
    expect((await as('POST', '/admin/v1/tenants/beta/keys', {})).status).toBe(404);
    expect((await as('DELETE', `/admin/v1/tenants/beta/keys/${betaAdmin.accessKeyId}`)).status).toBe(404);
    expect((await as('DELETE', '/admin/v1/buckets/beta-bucket?force=true')).status).toBe(404);
    // Key ids are global: only root may choose one (a clash would reveal another tenant's key).
    const importing = await as('POST', '/admin/v1/tenants/alpha/keys', {
      accessKeyId: betaAdmin.accessKeyId,
      secretAccessKey: 'whatever-secret',
    });
    expect(importing.status).toBe(403);
    const keys = await as('GET', '/admin/v1/tenants/alpha/keys');
    expect(keys.json.keys.map((k: { accessKeyId: string }) => k.accessKeyId)).toEqual([alphaAdmin.accessKeyId]);
    expect(JSON.stringify(keys.json)).not.toContain(alphaAdmin.secretAccessKey);
    // Root sees everything.
    expect((await api('GET', '/admin/v1/buckets/beta-bucket')).json).toMatchObject({ name: 'beta-bucket', tenant: 'beta' });
  });

  let refreshToken: string;
  it('logs in, answers whoami with the bearer token, refreshes and logs out', async () => {
    const login = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'alpha',
      email: 'ada@example.com',
      password: 'correct horse battery',
    });
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({ tokenType: 'Bearer' });
    expect(login.json.expiresIn).toBeGreaterThan(0);
    const who = await bearer('GET', '/admin/v1/auth/whoami', login.json.accessToken);
    expect(who.status).toBe(200);
    expect(who.json).toMatchObject({
      kind: 'user',
      level: 'admin',
      tenant: 'alpha',
      email: 'ada@example.com',
      role: 'admin',
      appPasswordId: null,
    });
    expect(who.json.sessionId).toBe(login.json.sessionId);

    const sessions = await bearer('GET', '/admin/v1/sessions', login.json.accessToken);
    expect(sessions.json.sessions).toHaveLength(1);
    expect(sessions.json.sessions[0]).toMatchObject({ id: login.json.sessionId, current: true });

    const refreshed = await bearer('POST', '/admin/v1/auth/refresh', null, { refreshToken: login.json.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refreshToken).not.toBe(login.json.refreshToken);
    expect(refreshed.json.sessionId).toBe(login.json.sessionId);
    const who2 = await bearer('GET', '/admin/v1/auth/whoami', refreshed.json.accessToken);
    expect(who2.status).toBe(200);

    const logout = await bearer('POST', '/admin/v1/auth/logout', null, { refreshToken: refreshed.json.refreshToken });
    expect(logout.status).toBe(204);
    const refused = await bearer('GET', '/admin/v1/auth/whoami', refreshed.json.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.json.error).toMatchObject({ code: 'Unauthorized', reason: 'SessionRevoked' });
    const again = await bearer('POST', '/admin/v1/auth/refresh', null, { refreshToken: refreshed.json.refreshToken });
    expect(again.status).toBe(401);

    // A fresh session for the next test; logout-all needs a bearer token.
    const fresh = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'alpha',
      email: 'ada@example.com',
      password: 'correct horse battery',
    });
    refreshToken = fresh.json.refreshToken;
    expect((await api('POST', '/admin/v1/auth/logout-all')).status).toBe(401);
  });

  it('throttles failed logins with 429 and Retry-After', async () => {
    await api('POST', '/admin/v1/tenants/alpha/users', { body: { email: 'target@example.com', password: 'the real password' } });
    for (let i = 0; i < 3; i++) {
      const r = await bearer('POST', '/admin/v1/auth/login', null, {
        tenant: 'alpha',
        email: 'target@example.com',
        password: `wrong-${i}-password`,
      });
      expect(r.status).toBe(401);
      expect(r.json.error).toMatchObject({ code: 'Unauthorized', reason: 'InvalidCredentials' });
    }
    const locked = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'alpha',
      email: 'target@example.com',
      password: 'the real password',
    });
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('TooManyAttempts');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('keeps app-password sessions from managing users or credentials', async () => {
    const full = (await bearer('POST', '/admin/v1/auth/refresh', null, { refreshToken })).json;
    const created = await bearer('POST', '/admin/v1/app-passwords', full.accessToken, { name: 'backup script' });
    expect(created.status).toBe(201);
    expect(created.json.password).toMatch(/^anvil-app-/);
    const listed = await bearer('GET', '/admin/v1/app-passwords', full.accessToken);
    expect(listed.json.appPasswords.map((a: { name: string }) => a.name)).toEqual(['backup script']);
    expect(JSON.stringify(listed.json)).not.toContain(created.json.password);

    const appLogin = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'alpha',
      email: 'ada@example.com',
      password: created.json.password,
    });
    expect(appLogin.status).toBe(200);
    const app = appLogin.json.accessToken;
    const who = await bearer('GET', '/admin/v1/auth/whoami', app);
    expect(who.json).toMatchObject({ level: 'member', role: 'admin', appPasswordId: created.json.id });
    const makeUser = await bearer('POST', '/admin/v1/tenants/alpha/users', app, { email: 'eve@example.com', password: 'eve password 123' });
    expect(makeUser.status).toBe(403);
    expect(makeUser.json.error.code).toBe('Forbidden');
    expect((await bearer('GET', '/admin/v1/tenants/alpha/users', app)).status).toBe(403);
    expect((await bearer('POST', '/admin/v1/app-passwords', app, { name: 'another' })).status).toBe(403);
    expect((await bearer('DELETE', `/admin/v1/app-passwords/${created.json.id}`, app)).status).toBe(403);
    expect((await bearer('DELETE', `/admin/v1/sessions/${full.sessionId}`, app)).status).toBe(403);
    expect((await bearer('POST', '/admin/v1/auth/logout-all', app)).status).toBe(403);
    // The full session may: revoking the app password ends its sessions.
    expect((await bearer('DELETE', '/admin/v1/app-passwords/backup%20script', full.accessToken)).status).toBe(204);
    expect((await bearer('GET', '/admin/v1/auth/whoami', app)).status).toBe(401);
    const all = await bearer('POST', '/admin/v1/auth/logout-all', full.accessToken);
    expect(all.status).toBe(200);
    expect(all.json.revoked).toBeGreaterThanOrEqual(1);
    expect((await bearer('GET', '/admin/v1/auth/whoami', full.accessToken)).status).toBe(401);
  });

  it('lets a tenant admin manage users (PATCH, DELETE) and members read only themselves', async () => {
    const member = await api('POST', '/admin/v1/tenants/alpha/users', {
      creds: alphaAdmin,
      body: {
        email: 'mia@example.com',
        password: 'mia password 1',
        policies: [{ effect: 'allow', actions: ['read'], resources: ['alpha-data/*'] }],
      },
    });
    expect(member.status).toBe(201);
    expect(member.json.role).toBe('member');
    const id = member.json.id;
    const login = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'alpha',
      email: 'mia@example.com',
      password: 'mia password 1',
    });
    const token = login.json.accessToken;
    expect((await bearer('GET', `/admin/v1/tenants/alpha/users/${id}`, token)).status).toBe(200);
    expect((await bearer('GET', '/admin/v1/tenants/alpha/users', token)).status).toBe(403);
    expect((await bearer('PATCH', `/admin/v1/tenants/alpha/users/${id}`, token, { role: 'admin' })).status).toBe(403);

    const patched = await api('PATCH', `/admin/v1/tenants/alpha/users/${id}`, {
      creds: alphaAdmin,
      body: { policies: null, disabled: true },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ disabled: true, policies: null });
    expect((await bearer('GET', '/admin/v1/auth/whoami', token)).status).toBe(401);
    expect((await api('PATCH', `/admin/v1/tenants/alpha/users/${id}`, { creds: alphaAdmin, body: {} })).status).toBe(400);
    expect((await api('PATCH', `/admin/v1/tenants/beta/users/${id}`, { creds: betaAdmin, body: { role: 'admin' } })).status).toBe(404);
    expect((await api('DELETE', `/admin/v1/tenants/alpha/users/${id}`, { creds: alphaAdmin })).status).toBe(204);
    expect((await api('GET', `/admin/v1/tenants/alpha/users/${id}`, { creds: alphaAdmin })).status).toBe(404);
  });

  it('lets a key with grant create narrower keys only, which S3 honours', async () => {
    const alpha = t.client(alphaAdmin);
    await alpha.send(new CreateBucketCommand({ Bucket: 'alpha-data' }));
    await alpha.send(new PutObjectCommand({ Bucket: 'alpha-data', Key: 'team/readme', Body: 'hello' }));
    const scoped = await api('POST', '/admin/v1/tenants/alpha/keys', {
      creds: alphaAdmin,
      body: {
        name: 'team lead',
        policies: [{ effect: 'allow', actions: ['read', 'list', 'write', 'grant'], resources: ['alpha-data/team/*'] }],
      },
    });
    expect(scoped.status).toBe(201);
    const lead = keyCreds(scoped.json);
    expect((await api('GET', '/admin/v1/auth/whoami', { creds: lead })).json.level).toBe('member');

    const narrower = await api('POST', '/admin/v1/tenants/alpha/keys', {
      creds: lead,
      body: { policies: [{ effect: 'allow', actions: ['read', 'write'], resources: ['alpha-data/team/sub/*'] }] },
    });
    expect(narrower.status).toBe(201);
    expect(narrower.json.policies[0].resources).toEqual(['alpha-data/team/sub/*']);
    const wider = await api('POST', '/admin/v1/tenants/alpha/keys', {
      creds: lead,
      body: { policies: [{ effect: 'allow', actions: ['read'], resources: ['alpha-data/*'] }] },
    });
    expect(wider.status).toBe(403);
    expect(wider.json.error.code).toBe('Forbidden');
    // "Tenant-wide" from a restricted grantor means nothing beyond its own rights, never everything.
    const unscoped = await api('POST', '/admin/v1/tenants/alpha/keys', { creds: lead, body: {} });
    expect(unscoped.status).toBe(201);
    expect(unscoped.json.policies).not.toBeNull();
    expect(
      (
        await api('POST', '/admin/v1/tenants/alpha/keys', {
          creds: lead,
          body: { accessKeyId: 'IMPORTME123', secretAccessKey: 'imported-secret' },
        })
      ).status,
    ).toBe(403);
    // Members see and delete only the keys they made; they cannot manage users.
    const seen = await api('GET', '/admin/v1/tenants/alpha/keys', { creds: lead });
    expect(seen.json.keys.map((k: { accessKeyId: string }) => k.accessKeyId).sort()).toEqual(
      [narrower.json.accessKeyId, unscoped.json.accessKeyId].sort(),
    );
    expect((await api('DELETE', `/admin/v1/tenants/alpha/keys/${alphaAdmin.accessKeyId}`, { creds: lead })).status).toBe(404);
    expect((await api('DELETE', `/admin/v1/tenants/alpha/keys/${unscoped.json.accessKeyId}`, { creds: lead })).status).toBe(204);
    expect((await api('GET', '/admin/v1/tenants/alpha/users', { creds: lead })).status).toBe(403);
    // A key without grant cannot make keys at all.
    const sub = keyCreds(narrower.json);
    const noGrant = await api('POST', '/admin/v1/tenants/alpha/keys', {
      creds: sub,
      body: { policies: [{ effect: 'allow', actions: ['read'], resources: ['alpha-data/team/sub/x'] }] },
    });
    expect(noGrant.status).toBe(403);
    // Buckets a member reaches are readable; the list shows only those.
    expect((await api('GET', '/admin/v1/buckets/alpha-data', { creds: sub })).status).toBe(200);
    expect((await api('GET', '/admin/v1/tenants/alpha/buckets', { creds: sub })).json.buckets.map((b: { name: string }) => b.name)).toEqual(
      ['alpha-data'],
    );
    expect((await api('DELETE', '/admin/v1/buckets/alpha-data?force=true', { creds: lead })).status).toBe(403);

    // The new key works on S3 inside its prefix, and nowhere else.
    const s3 = t.client(sub);
    await s3.send(new PutObjectCommand({ Bucket: 'alpha-data', Key: 'team/sub/report.txt', Body: 'mine' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'alpha-data', Key: 'team/sub/report.txt' }));
    expect(await got.Body!.transformToString()).toBe('mine');
    const outside = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'alpha-data', Key: 'team/other.txt', Body: 'no' })));
    expect(outside.name).toBe('AccessDenied');
    const readOutside = await s3Error(s3.send(new GetObjectCommand({ Bucket: 'alpha-data', Key: 'team/readme' })));
    expect(readOutside.name).toBe('AccessDenied');
  });

  it('reports bucket usage from the regional bucket state', async () => {
    const alpha = t.client(alphaAdmin);
    await alpha.send(new CreateBucketCommand({ Bucket: 'alpha-usage' }));
    const sizes = [10, 2000, 70_000];
    for (const [i, size] of sizes.entries()) {
      await alpha.send(new PutObjectCommand({ Bucket: 'alpha-usage', Key: `obj-${i}`, Body: Buffer.alloc(size, 7) }));
    }
    const b = await api('GET', '/admin/v1/buckets/alpha-usage', { creds: alphaAdmin });
    expect(b.status).toBe(200);
    expect(b.json).toMatchObject({
      name: 'alpha-usage',
      tenant: 'alpha',
      region: t.config.region,
      acl: 'private',
      hasPolicy: false,
      usage: { objectCount: 3, byteCount: sizes.reduce((a, x) => a + x, 0) },
    });
    expect(Date.parse(b.json.createdAt)).toBeGreaterThan(0);
    const list = await api('GET', '/admin/v1/tenants/alpha/buckets', { creds: alphaAdmin });
    expect(list.json.buckets.map((x: { name: string }) => x.name)).toEqual(['alpha-data', 'alpha-usage']);
  });

  it('deletes a bucket: 409 when not empty, 202 and a background task with force=true', async () => {
    const notEmpty = await api('DELETE', '/admin/v1/buckets/alpha-usage', { creds: alphaAdmin });
    expect(notEmpty.status).toBe(409);
    expect(notEmpty.json.error.code).toBe('Conflict');
    const bad = await api('DELETE', '/admin/v1/buckets/alpha-usage?force=maybe', { creds: alphaAdmin });
    expect(bad.status).toBe(400);
    expect(bad.json.error.path).toEqual(['query', 'force']);
    const forced = await api('DELETE', '/admin/v1/buckets/alpha-usage?force=true', { creds: alphaAdmin });
    expect(forced.status).toBe(202);
    expect(forced.json).toMatchObject({ bucket: 'alpha-usage', deleted: false });
    expect(forced.json.task).toBeGreaterThan(0);
    const deadline = Date.now() + 20_000;
    while ((await api('GET', '/admin/v1/buckets/alpha-usage', { creds: alphaAdmin })).status !== 404) {
      if (Date.now() > deadline) throw new Error('the delete-bucket task did not finish');
      await new Promise((r) => setTimeout(r, 100));
    }
    await alphaAdminEmptyBucketDeletes();
  });

  async function alphaAdminEmptyBucketDeletes() {
    await t.client(alphaAdmin).send(new CreateBucketCommand({ Bucket: 'alpha-empty' }));
    const r = await api('DELETE', '/admin/v1/buckets/alpha-empty', { creds: alphaAdmin });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ bucket: 'alpha-empty', deleted: true });
  }

  it('deletes keys with immediate effect', async () => {
    expect((await api('DELETE', `/admin/v1/tenants/beta/keys/${betaAdmin.accessKeyId}`)).status).toBe(204);
    const r = await api('GET', '/admin/v1/auth/whoami', { creds: betaAdmin });
    expect(r.status).toBe(401);
    expect(r.json.error.reason).toBe('InvalidAccessKeyId');
    expect((await api('DELETE', `/admin/v1/tenants/beta/keys/${betaAdmin.accessKeyId}`)).status).toBe(404);
  });
});
