/**
 * Regression tests for the findings of the access-control security review
 * (each one failed before its fix): app-password sessions minting keys (F1),
 * granted keys outliving their maker (F6), a POST form field publishing an
 * object (F2), literal '*' in keys slipping past deny globs (F3), concurrent
 * logins bypassing the throttle (F4), policies large enough to stall the
 * server (F5), and conditional writes revealing which keys exist (F7).
 *
 * Deliberately not changed (S3 behaves the same): a refused request with a
 * matching Origin still carries the bucket's CORS headers, which the
 * unauthenticated preflight reveals anyway.
 */
import crypto from 'node:crypto';

import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

describeEachEngine('access-control regressions', (engine) => {
  const t = useAnvil(engine, { start: { sessions: { throttle: { maxPerAccount: 5 } } } });

  async function api(method: string, path: string, opts: { body?: unknown; creds?: Creds } = {}) {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const res = await signedFetch(t, method, `${t.endpoint}${path}`, {
      creds: opts.creds,
      body,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }
  async function bearer(method: string, path: string, token: string | null, body?: unknown) {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${t.endpoint}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }
  const creds = (k: Creds): Creds => ({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });

  // ------------------------------------------------------------------ F1
  it('F1: a session opened with an app password cannot mint an unrestricted (root) access key', async () => {
    const made = await api('POST', '/admin/v1/tenants/root/users', {
      body: { email: 'ops@example.com', password: 'ops password 123', role: 'admin' },
    });
    expect(made.status).toBe(201);
    const full = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'root',
      email: 'ops@example.com',
      password: 'ops password 123',
    });
    const app = await bearer('POST', '/admin/v1/app-passwords', full.json.accessToken, { name: 'backup tool' });
    expect(app.status).toBe(201);

    // Whoever holds the tool's app password (meant to "never manage credentials"):
    const tool = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'root',
      email: 'ops@example.com',
      password: app.json.password,
    });
    const who = await bearer('GET', '/admin/v1/auth/whoami', tool.json.accessToken);
    expect(who.json.level).toBe('member');
    const minted = await bearer('POST', '/admin/v1/tenants/root/keys', tool.json.accessToken, {});
    // Secure: 403. Actual: 201 with policies null (a tenant-wide key of the root tenant = root).
    expect(minted.status, JSON.stringify(minted.json)).toBe(403);
    if (minted.status === 201) {
      const k = creds(minted.json);
      const asRoot = await api('GET', '/admin/v1/tenants', { creds: k });
      expect(asRoot.status, 'the minted key acts as root').not.toBe(200);

      // F6: revoking the app password and deleting the user leaves the minted key working.
      expect((await bearer('DELETE', '/admin/v1/app-passwords/backup%20tool', full.json.accessToken)).status).toBe(204);
      expect((await api('DELETE', `/admin/v1/tenants/root/users/${made.json.id}`)).status).toBe(204);
      const after = await api('GET', '/admin/v1/auth/whoami', { creds: k });
      expect(after.status, `still ${after.json?.level} after the app password was revoked and the user deleted`).toBe(401);
    }
  });

  // ------------------------------------------------------------------ F2
  it('F2: a write-only key cannot publish an object through a POST form field x-amz-acl', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'drop' }));
    const writer = creds(
      (
        await api('POST', '/admin/v1/tenants/root/keys', {
          body: { policies: [{ effect: 'allow', actions: ['write'], resources: ['drop/in/*'] }] },
        })
      ).json,
    );
    // The header route is refused, as intended (needs admin on the object):
    const put = await signedFetch(t, 'PUT', `${t.endpoint}/drop/in/a.txt`, {
      creds: writer,
      body: 'x',
      headers: { 'x-amz-acl': 'public-read' },
      payloadHash: crypto.createHash('sha256').update('x').digest('hex'),
    });
    expect(put.status).toBe(403);

    const now = new Date();
    const date = now.toISOString().slice(0, 10).replace(/-/g, '');
    const credential = `${writer.accessKeyId}/${date}/us-east-1/s3/aws4_request`;
    const policy = Buffer.from(
      JSON.stringify({
        expiration: new Date(now.getTime() + 600_000).toISOString(),
        conditions: [
          { bucket: 'drop' },
          ['eq', '$key', 'in/published.txt'],
          ['eq', '$x-amz-acl', 'public-read'],
          { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
          { 'x-amz-credential': credential },
          { 'x-amz-date': `${date}T000000Z` },
        ],
      }),
    ).toString('base64');
    const signingKey = hmac(hmac(hmac(hmac(`AWS4${writer.secretAccessKey}`, date), 'us-east-1'), 's3'), 'aws4_request');
    const form = new FormData();
    const fields: Record<string, string> = {
      key: 'in/published.txt',
      'x-amz-acl': 'public-read', // not `acl`: requireAclRight only looks at fields.get('acl')
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-credential': credential,
      'x-amz-date': `${date}T000000Z`,
      policy,
      'x-amz-signature': hmac(signingKey, policy).toString('hex'),
    };
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob(['published by a write-only key']), 'f.txt');
    const res = await fetch(`${t.endpoint}/drop`, { method: 'POST', body: form });
    expect(res.status, await res.text()).toBe(403);
    const anon = await fetch(`${t.endpoint}/drop/in/published.txt`);
    expect(anon.status, 'anonymous GET of the object').toBe(403);
  });

  // ------------------------------------------------------------------ F3
  it("F3: a deny on photos/private/* also covers keys with a literal '*' right after the prefix", async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'private/*payroll.csv', Body: 'salaries' }));
    const scoped = creds(
      (
        await api('POST', '/admin/v1/tenants/root/keys', {
          body: {
            policies: [
              { effect: 'allow', actions: ['read', 'write', 'delete'], resources: ['photos/*'] },
              { effect: 'deny', actions: ['read', 'write', 'delete'], resources: ['photos/private/*'] },
            ],
          },
        })
      ).json,
    );
    const denied = await signedFetch(t, 'GET', `${t.endpoint}/photos/private/payroll.csv`, { creds: scoped });
    expect(denied.status).toBe(403); // the deny works for ordinary names
    const c = t.client(scoped);
    const read = await c.send(new GetObjectCommand({ Bucket: 'photos', Key: 'private/*payroll.csv' })).then(
      async (o) => `200 ${await o.Body!.transformToString()}`,
      (e) => `${e.$metadata?.httpStatusCode} ${e.name}`,
    );
    expect(read, 'read of photos/private/*payroll.csv').toMatch(/^403/);
    const write = await c.send(new PutObjectCommand({ Bucket: 'photos', Key: 'private/*planted.txt', Body: 'planted' })).then(
      () => '200',
      (e) => `${e.$metadata?.httpStatusCode} ${e.name}`,
    );
    expect(write, 'write of photos/private/*planted.txt').toMatch(/^403/);
  });

  // ------------------------------------------------------------------ F4
  it('F4: a burst of concurrent wrong logins gets no more guesses than the per-account limit', async () => {
    await api('POST', '/admin/v1/tenants/root/users', { body: { email: 'victim@example.com', password: 'victim real password' } });
    const guesses = Array.from({ length: 30 }, (_, i) => `wrong guess ${i}`);
    guesses.push('victim real password'); // the attacker's 31st guess is right
    const answers = await Promise.all(
      guesses.map((password) => bearer('POST', '/admin/v1/auth/login', null, { tenant: 'root', email: 'victim@example.com', password })),
    );
    const evaluated = answers.filter((a) => a.status === 401 || a.status === 200).length;
    const codes = answers.map((a) => a.status).join(',');
    // Secure: at most 5 passwords are checked, the rest are 429. Actual: all 31 are checked.
    expect(evaluated, codes).toBeLessThanOrEqual(5);
    expect(answers[answers.length - 1].status, 'the right password inside the burst').toBe(429);
  });

  // ------------------------------------------------------------------ F5
  it('F5: a key with grant cannot store a policy that stalls the whole server on each request', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'dos' }));
    const granter = creds(
      (
        await api('POST', '/admin/v1/tenants/root/keys', {
          body: { policies: [{ effect: 'allow', actions: ['read', 'grant'], resources: ['dos/*'] }] },
        })
      ).json,
    );
    // Deny statements are never checked by delegate(), and neither the number of statements' resources nor the stars are bounded.
    const resources = Array.from({ length: 6 }, () => 'dos/*' + 'a'.repeat(500) + 'b');
    const policies = [
      { effect: 'allow', actions: ['read'], resources: ['dos/*'] },
      ...Array.from({ length: 99 }, () => ({ effect: 'deny', actions: ['read'], resources })),
    ];
    const heavy = await api('POST', '/admin/v1/tenants/root/keys', { creds: granter, body: { policies } });
    // Refused at the door: evaluation cost is bounded by the policy limits, whoever writes the policy.
    expect(heavy.status, JSON.stringify(heavy.json)).toBe(400);
    expect(heavy.json.error.code).toBe('InvalidRequest');
  });

  // ------------------------------------------------------------------ F7
  it('F7: a write-only (no list, no read) key cannot tell existing keys from missing ones', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'inbox' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'inbox', Key: 'drop/someone-else.pdf', Body: 'private' }));
    const writer = creds(
      (
        await api('POST', '/admin/v1/tenants/root/keys', {
          body: { policies: [{ effect: 'allow', actions: ['write'], resources: ['inbox/drop/*'] }] },
        })
      ).json,
    );
    const probe = (key: string) =>
      signedFetch(t, 'PUT', `${t.endpoint}/inbox/drop/${key}`, {
        creds: writer,
        body: 'x',
        headers: { 'if-match': '"00000000000000000000000000000000"' },
        payloadHash: crypto.createHash('sha256').update('x').digest('hex'),
      });
    const existing = await probe('someone-else.pdf');
    const missing = await probe('nobody.pdf');
    expect({ existing: existing.status, missing: missing.status }).toEqual({ existing: missing.status, missing: missing.status });
  });

  // ------------------------------------------------------------------ F6
  it('F6: a key made under grant never outlives or outgrows its maker', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'granted' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'granted', Key: 'a/x.txt', Body: 'x' }));
    const policies = [{ effect: 'allow', actions: ['read', 'list', 'grant'], resources: ['granted/a/*'] }];
    const made = await api('POST', '/admin/v1/tenants/root/users', {
      body: { email: 'granter@example.com', password: 'granter password 1', role: 'member', policies },
    });
    expect(made.status).toBe(201);
    const session = await bearer('POST', '/admin/v1/auth/login', null, {
      tenant: 'root',
      email: 'granter@example.com',
      password: 'granter password 1',
    });
    const child = await bearer('POST', '/admin/v1/tenants/root/keys', session.json.accessToken, {});
    expect(child.status, JSON.stringify(child.json)).toBe(201);
    // "No policies" from a grantor means all of the grantor's rights, never tenant-wide.
    expect(child.json.policies).not.toBeNull();
    const childKey = creds(child.json);
    const grandchild = creds(
      (
        await api('POST', '/admin/v1/tenants/root/keys', {
          creds: childKey,
          body: { policies: [{ effect: 'allow', actions: ['read'], resources: ['granted/a/*'] }] },
        })
      ).json,
    );
    const read = async (k: Creds) => (await signedFetch(t, 'GET', `${t.endpoint}/granted/a/x.txt`, { creds: k })).status;
    expect([await read(childKey), await read(grandchild)]).toEqual([200, 200]);

    // The maker loses the right: both keys lose it at once.
    expect(
      (
        await api('PATCH', `/admin/v1/tenants/root/users/${made.json.id}`, {
          body: { policies: [{ effect: 'allow', actions: ['list', 'grant'], resources: ['granted/a/*'] }] },
        })
      ).status,
    ).toBe(200);
    expect([await read(childKey), await read(grandchild)]).toEqual([403, 403]);
    expect((await api('PATCH', `/admin/v1/tenants/root/users/${made.json.id}`, { body: { policies } })).status).toBe(200);
    expect([await read(childKey), await read(grandchild)]).toEqual([200, 200]);
    // The maker is disabled, then deleted: the keys are worth nothing.
    expect((await api('PATCH', `/admin/v1/tenants/root/users/${made.json.id}`, { body: { disabled: true } })).status).toBe(200);
    expect([await read(childKey), await read(grandchild)]).toEqual([403, 403]);
    expect((await api('DELETE', `/admin/v1/tenants/root/users/${made.json.id}`)).status).toBe(204);
    expect([await read(childKey), await read(grandchild)]).toEqual([403, 403]);
    const who = await api('GET', '/admin/v1/auth/whoami', { creds: childKey });
    expect(who.json?.level ?? 'refused').not.toBe('root');
  });
});
