import crypto from 'node:crypto';

import { GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { blobFiles, describeEachEngine, s3Error, stagedFiles, type TestAnvil, useAnvil } from '../support/anvil.js';
function hmac(key: Buffer | string, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** Builds the form fields of a SigV4 POST policy, as browser-upload SDK helpers do. */
function signedForm(
  t: TestAnvil,
  conditions: unknown[],
  extra: Record<string, string>,
  opts: { expiresInMs?: number; secret?: string } = {},
) {
  const now = new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, '');
  const amzDate = `${date}T000000Z`;
  const credential = `${t.accessKeyId}/${date}/us-east-1/s3/aws4_request`;
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(now.getTime() + (opts.expiresInMs ?? 600_000)).toISOString(),
      conditions: [...conditions, { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': amzDate }],
    }),
  ).toString('base64');
  const kDate = hmac(`AWS4${opts.secret ?? t.secretAccessKey}`, date);
  const key = hmac(hmac(hmac(kDate, 'us-east-1'), 's3'), 'aws4_request');
  return {
    ...extra,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-credential': credential,
    'x-amz-date': amzDate,
    policy,
    'x-amz-signature': hmac(key, policy).toString('hex'),
  };
}

async function post(t: TestAnvil, fields: Record<string, string>, file: Buffer | string, filename = 'photo.jpg') {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([typeof file === 'string' ? file : new Uint8Array(file)]), filename);
  return fetch(`${t.endpoint}/forms`, { method: 'POST', body: form, redirect: 'manual' });
}

describeEachEngine('POST Object (browser form uploads)', (engine) => {
  const t = useAnvil(engine, { buckets: ['forms'] });

  const base = [{ bucket: 'forms' }, ['starts-with', '$key', 'uploads/'], ['content-length-range', 1, 1000]];

  it('stores a file uploaded with a valid policy, with ${filename}, metadata and 201 status', async () => {
    const fields = signedForm(
      t,
      [...base, ['starts-with', '$Content-Type', 'image/'], { success_action_status: '201' }, ['starts-with', '$x-amz-meta-owner', '']],
      {
        key: 'uploads/${filename}',
        'Content-Type': 'image/jpeg',
        success_action_status: '201',
        'x-amz-meta-owner': 'ada',
      },
    );
    const res = await post(t, fields, 'jpeg bytes');
    expect(res.status).toBe(201);
    const xml = await res.text();
    expect(xml).toContain('<Key>uploads/photo.jpg</Key>');
    expect(xml).toContain('<Bucket>forms</Bucket>');
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'uploads/photo.jpg' }));
    expect(head.ContentType).toBe('image/jpeg');
    expect(head.Metadata).toEqual({ owner: 'ada' });
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'forms', Key: 'uploads/photo.jpg' }));
    expect(await get.Body!.transformToString()).toBe('jpeg bytes');
  });

  it('answers x-amz-version-id on a versioning bucket (none for the null version of a suspended one)', async () => {
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: 'forms', VersioningConfiguration: { Status: 'Enabled' } }));
    try {
      const res = await post(t, signedForm(t, base, { key: 'uploads/versioned.txt' }), 'v1');
      expect(res.status).toBe(204);
      const id = res.headers.get('x-amz-version-id');
      expect(id).toMatch(/^[0-9a-f]{20}$/);
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'uploads/versioned.txt', VersionId: id! }));
      expect(head.ContentLength).toBe(2);
    } finally {
      await t.s3.send(new PutBucketVersioningCommand({ Bucket: 'forms', VersioningConfiguration: { Status: 'Suspended' } }));
    }
    const suspended = await post(t, signedForm(t, base, { key: 'uploads/versioned.txt' }), 'v2');
    expect(suspended.status).toBe(204);
    expect(suspended.headers.get('x-amz-version-id')).toBeNull();
  });

  it('redirects with success_action_redirect and answers 204 by default', async () => {
    const redirect = await post(
      t,
      signedForm(t, [...base, ['starts-with', '$success_action_redirect', 'https://app.example/']], {
        key: 'uploads/r.txt',
        success_action_redirect: 'https://app.example/done',
      }),
      'r',
    );
    expect(redirect.status).toBe(303);
    const loc = new URL(redirect.headers.get('location')!);
    expect(loc.origin + loc.pathname).toBe('https://app.example/done');
    expect(loc.searchParams.get('key')).toBe('uploads/r.txt');
    const plain = await post(t, signedForm(t, base, { key: 'uploads/plain.txt' }), 'p');
    expect(plain.status).toBe(204);
    expect(plain.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('refuses forms that break the policy, and stores nothing', async () => {
    const before = blobFiles(t.dataDir).length;
    const cases: Array<[Record<string, string>, Buffer | string, number, string]> = [
      [signedForm(t, base, { key: 'elsewhere/x' }), 'x', 403, 'AccessDenied'],
      [signedForm(t, base, { key: 'uploads/big' }), Buffer.alloc(5000), 400, 'EntityTooLarge'],
      [signedForm(t, base, { key: 'uploads/extra', 'x-amz-meta-sneaky': '1' }), 'x', 403, 'AccessDenied'],
      [signedForm(t, base, { key: 'uploads/expired' }, { expiresInMs: -1000 }), 'x', 403, 'AccessDenied'],
      [signedForm(t, base, { key: 'uploads/badsig' }, { secret: 'wrong-secret-value' }), 'x', 403, 'SignatureDoesNotMatch'],
    ];
    for (const [fields, body, status, code] of cases) {
      const res = await post(t, fields, body);
      expect(res.status).toBe(status);
      expect(await res.text()).toContain(`<Code>${code}</Code>`);
    }
    for (const key of ['elsewhere/x', 'uploads/big', 'uploads/extra', 'uploads/expired', 'uploads/badsig']) {
      expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: key })))).$metadata.httpStatusCode).toBe(404);
    }
    expect(blobFiles(t.dataDir).length).toBe(before);
    expect(stagedFiles(t.dataDir)).toEqual([]);
    const anonymous = await post(t, { key: 'uploads/anon' }, 'x');
    expect(anonymous.status).toBe(403);
  });
});
