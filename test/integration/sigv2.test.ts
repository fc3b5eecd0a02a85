/**
 * AWS Signature Version 2, on both engines: header-signed requests,
 * presigned URLs and POST policy forms, signed by a second signer written in
 * the test (test/support/sigv2-signer.ts) and by the real clients that use
 * SigV2 (Debian's boto3, s3cmd). Tampering, expiry and clock skew are
 * refused with S3's errors and change nothing; keys' policies apply as under
 * SigV4; with `sigv2: false` every form is refused with a 403 naming the option.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { GetObjectAclCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/config.js';
import { ROOT_TENANT } from '../../src/core/tenants.js';
import { cleanEnv, fileExists, pythonCan, requireTools, run } from '../interop/tools.js';
import { describeEachEngine, s3Error, type TestAnvil, useAnvil } from '../support/anvil.js';
import { type Credentials, headerSignV2, hmacSha1Base64, policyFormV2, presignV2 } from '../support/sigv2-signer.js';
import { awsEncode, objectPath, send, type WireResponse } from '../support/wire.js';

const BUCKET = 'sigv2';
const md5b64 = (b: Buffer | string) => crypto.createHash('md5').update(b).digest('base64');
const sha256Hex = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
const epoch = (offsetS = 0) => Math.floor(Date.now() / 1000) + offsetS;

/** A request signed with SigV2 in the Authorization header and sent as is. */
function v2(
  t: TestAnvil,
  method: string,
  p: string,
  query = '',
  headers: Record<string, string> = {},
  body?: Buffer | string,
  opts: Parameters<typeof headerSignV2>[5] & { creds?: Credentials } = {},
): Promise<WireResponse> {
  const signed = headerSignV2(opts.creds ?? t, method, p, query, headers, opts);
  return send(t, method, query ? `${p}?${query}` : p, signed, body);
}

async function objectBody(t: TestAnvil, key: string): Promise<string | null> {
  try {
    const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return await got.Body!.transformToString();
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
}

function expectError(res: WireResponse, status: number, code: string, message?: RegExp): void {
  expect({ status: res.status, code: res.code }, res.text).toEqual({ status, code });
  if (message) expect(res.text).toMatch(message);
}

async function postForm(t: TestAnvil, fields: Record<string, string>, file: string, filename = 'f.txt'): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([file]), filename);
  return fetch(`${t.endpoint}/${BUCKET}`, { method: 'POST', body: form, redirect: 'manual' });
}

describeEachEngine('SigV2: header-signed requests, presigned URLs, POST policies', (engine) => {
  const t = useAnvil(engine, { buckets: [BUCKET] });

  it('header-signed PUT, GET, HEAD, list and DELETE work, with Date or with x-amz-date', async () => {
    const key = 'dir/a b+c ü.txt';
    const p = objectPath(BUCKET, key);
    const body = 'hello over SigV2';
    const put = await v2(
      t,
      'PUT',
      p,
      '',
      {
        'content-type': 'text/plain',
        'content-md5': md5b64(body),
        'x-amz-meta-colour': 'blue',
        'content-length': String(body.length),
      },
      body,
    );
    expect(put.status, put.text).toBe(200);
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect([head.ContentType, head.Metadata, head.ContentLength]).toEqual(['text/plain', { colour: 'blue' }, body.length]);

    for (const amzDate of [false, true]) {
      const get = await v2(t, 'GET', p, '', {}, undefined, { amzDate });
      expect([get.status, get.text]).toEqual([200, body]);
    }
    const headRes = await v2(t, 'HEAD', p);
    expect([headRes.status, headRes.headers['content-length']]).toEqual([200, String(body.length)]);
    // response-* overrides are signed sub-resources.
    const typed = await v2(t, 'GET', p, 'response-content-type=application%2Fjson');
    expect([typed.status, typed.headers['content-type']]).toEqual([200, 'application/json']);

    const list = await v2(t, 'GET', `/${BUCKET}`, 'list-type=2&prefix=dir%2F');
    expect(list.status, list.text).toBe(200);
    expect(list.text).toContain(`<Key>${key}</Key>`);
    const buckets = await v2(t, 'GET', '/');
    expect(buckets.text).toContain(`<Name>${BUCKET}</Name>`);

    const del = await v2(t, 'DELETE', p);
    expect(del.status).toBe(204);
    expect(await objectBody(t, key)).toBeNull();
  });

  it('signs sub-resources: tagging, ACLs, DeleteObjects and a multipart upload', async () => {
    const p = objectPath(BUCKET, 'sub.txt');
    expect((await v2(t, 'PUT', p, '', { 'content-length': '3' }, 'sub')).status).toBe(200);
    const tagging = '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>';
    expect((await v2(t, 'PUT', p, 'tagging', { 'content-md5': md5b64(tagging) }, tagging)).status).toBe(200);
    expect((await v2(t, 'GET', p, 'tagging')).text).toContain('<Key>k</Key><Value>v</Value>');
    expect((await v2(t, 'PUT', p, 'acl', { 'x-amz-acl': 'public-read' })).status).toBe(200);
    expect((await fetch(`${t.endpoint}${p}`)).status).toBe(200);
    const acl = await t.s3.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: 'sub.txt' }));
    expect(acl.Grants?.some((g) => g.Grantee?.URI?.endsWith('/AllUsers'))).toBe(true);

    const mp = objectPath(BUCKET, 'multi.bin');
    const created = await v2(t, 'POST', mp, 'uploads');
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)![1];
    const part1 = crypto.randomBytes(5 * 1024 * 1024);
    const part2 = crypto.randomBytes(1000);
    const etags: string[] = [];
    for (const [i, part] of [part1, part2].entries()) {
      const res = await v2(
        t,
        'PUT',
        mp,
        `partNumber=${i + 1}&uploadId=${awsEncode(uploadId)}`,
        { 'content-length': String(part.length) },
        part,
      );
      expect(res.status, res.text).toBe(200);
      etags.push(res.headers.etag as string);
    }
    const complete = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await v2(t, 'POST', mp, `uploadId=${awsEncode(uploadId)}`, {}, complete);
    expect(done.status, done.text).toBe(200);
    const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'multi.bin' }));
    expect(sha256Hex(Buffer.from(await got.Body!.transformToByteArray()))).toBe(sha256Hex(Buffer.concat([part1, part2])));

    const del = '<Delete><Object><Key>multi.bin</Key></Object><Object><Key>sub.txt</Key></Object></Delete>';
    const deleted = await v2(t, 'POST', `/${BUCKET}`, 'delete', { 'content-md5': md5b64(del) }, del);
    expect(deleted.status, deleted.text).toBe(200);
    expect([await objectBody(t, 'multi.bin'), await objectBody(t, 'sub.txt')]).toEqual([null, null]);
  });

  it('virtual-host-style requests sign /bucket/key', async () => {
    const host = `${BUCKET}.localhost:${new URL(t.endpoint).port}`;
    const signed = headerSignV2(t, 'PUT', '/vhost.txt', '', { host, 'content-length': '5' }, { virtualBucket: BUCKET });
    expect((await send(t, 'PUT', '/vhost.txt', signed, 'vhost')).status).toBe(200);
    expect(await objectBody(t, 'vhost.txt')).toBe('vhost');
    // Signed without the bucket (as if path-style): refused.
    const wrong = headerSignV2(t, 'GET', '/vhost.txt', '', { host });
    expectError(await send(t, 'GET', '/vhost.txt', wrong), 403, 'SignatureDoesNotMatch');
  });

  it('holds the body to Content-MD5 and to a sent x-amz-content-sha256 (both signed); a bad one stores nothing', async () => {
    const p = objectPath(BUCKET, 'digest.txt');
    const badMd5 = await v2(t, 'PUT', p, '', { 'content-md5': md5b64('other'), 'content-length': '4' }, 'body');
    expectError(badMd5, 400, 'BadDigest');
    const badSha = await v2(t, 'PUT', p, '', { 'x-amz-content-sha256': sha256Hex('other'), 'content-length': '4' }, 'body');
    expectError(badSha, 400, 'XAmzContentSHA256Mismatch');
    expect(await objectBody(t, 'digest.txt')).toBeNull();
    const good = await v2(t, 'PUT', p, '', { 'x-amz-content-sha256': sha256Hex('body'), 'content-length': '4' }, 'body');
    expect(good.status).toBe(200);
  });

  it('refuses a tampered header-signed request with 403 and changes nothing', async () => {
    const p = objectPath(BUCKET, 'tamper.txt');
    const headers = { 'content-type': 'text/plain', 'content-length': '8' };
    const signed = headerSignV2(t, 'PUT', p, '', headers);
    // Another path, another header value, an x-amz-* header added, a sub-resource added, another method.
    expectError(await send(t, 'PUT', objectPath(BUCKET, 'tamper2.txt'), signed, 'tampered'), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'PUT', p, { ...signed, 'content-type': 'text/html' }, 'tampered'), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'PUT', p, { ...signed, 'x-amz-acl': 'public-read' }, 'tampered'), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'PUT', p, { ...signed, 'x-amz-meta-added': 'x' }, 'tampered'), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'PUT', `${p}?acl`, { ...signed, 'x-amz-acl': 'public-read' }), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'POST', `${p}?uploads`, signed), 403, 'SignatureDoesNotMatch');
    const sigOnly = signed.authorization.split(':')[1];
    const flipped = sigOnly[0] === 'A' ? `B${sigOnly.slice(1)}` : `A${sigOnly.slice(1)}`;
    expectError(
      await send(t, 'PUT', p, { ...signed, authorization: `AWS ${t.accessKeyId}:${flipped}` }, 'tampered'),
      403,
      'SignatureDoesNotMatch',
    );
    expect([await objectBody(t, 'tamper.txt'), await objectBody(t, 'tamper2.txt')]).toEqual([null, null]);

    expectError(await v2(t, 'PUT', p, '', headers, 'tampered', { secret: 'not-the-secret' }), 403, 'SignatureDoesNotMatch');
    const unknown = { accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: t.secretAccessKey };
    expectError(await v2(t, 'PUT', p, '', headers, 'tampered', { creds: unknown }), 403, 'InvalidAccessKeyId');
    expectError(await send(t, 'GET', p, { ...signed, authorization: 'AWS no-colon-here' }), 400, 'InvalidArgument');
    expect(await objectBody(t, 'tamper.txt')).toBeNull();

    // The signed request itself is fine, and a changed response-* override of a GET is refused.
    expect((await send(t, 'PUT', p, signed, 'original')).status).toBe(200);
    const get = headerSignV2(t, 'GET', p, 'response-content-type=text%2Fplain');
    expectError(await send(t, 'GET', `${p}?response-content-type=text%2Fhtml`, get), 403, 'SignatureDoesNotMatch');
    expect((await send(t, 'GET', `${p}?response-content-type=text%2Fplain`, get)).text).toBe('original');
    expectError(await send(t, 'DELETE', p, headerSignV2(t, 'GET', p, '')), 403, 'SignatureDoesNotMatch');
    expect(await objectBody(t, 'tamper.txt')).toBe('original');
  });

  it('refuses a request time more than 15 minutes away (Date or x-amz-date) and one with none', async () => {
    const p = objectPath(BUCKET, 'skew.txt');
    for (const amzDate of [false, true]) {
      for (const offsetMin of [-20, 20]) {
        const res = await v2(t, 'PUT', p, '', { 'content-length': '4' }, 'skew', {
          amzDate,
          date: new Date(Date.now() + offsetMin * 60_000),
        });
        expectError(res, 403, 'RequestTimeTooSkewed');
      }
      const near = await v2(t, 'GET', `/${BUCKET}`, '', {}, undefined, { amzDate, date: new Date(Date.now() - 5 * 60_000) });
      expect(near.status).toBe(200);
    }
    expect(await objectBody(t, 'skew.txt')).toBeNull();
    const signed = headerSignV2(t, 'GET', `/${BUCKET}`, '');
    const { date: _date, ...noDate } = signed;
    expectError(await send(t, 'GET', `/${BUCKET}`, noDate), 403, 'AccessDenied', /Date or x-amz-date/);
  });

  it('presigned GET and PUT URLs work until they expire; a changed URL or an added x-amz-* header is refused', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'shared.txt', Body: 'shared secret' }));
    const p = objectPath(BUCKET, 'shared.txt');
    const get = presignV2(t, 'GET', p, '', { expires: epoch(600) });
    expect([(await send(t, 'GET', get.pathAndQuery, {})).text]).toEqual(['shared secret']);
    expect((await fetch(`${t.endpoint}${get.pathAndQuery}`)).status).toBe(200);

    const expired = presignV2(t, 'GET', p, '', { expires: epoch(-5) });
    expectError(await send(t, 'GET', expired.pathAndQuery, {}), 403, 'AccessDenied', /Request has expired/);
    const laterExpires = get.pathAndQuery.replace(/Expires=\d+/, `Expires=${epoch(7200)}`);
    expectError(await send(t, 'GET', laterExpires, {}), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'GET', get.pathAndQuery.replace('shared.txt', 'other.txt'), {}), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'GET', `${get.pathAndQuery}&tagging`, {}), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'DELETE', get.pathAndQuery, {}), 403, 'SignatureDoesNotMatch');
    expectError(await send(t, 'GET', get.pathAndQuery, { 'x-amz-meta-x': '1' }), 403, 'SignatureDoesNotMatch');
    expectError(
      await send(t, 'GET', get.pathAndQuery.replace(/&Signature=[^&]+/, ''), {}),
      403,
      'AccessDenied',
      /Signature, Expires and AWSAccessKeyId/,
    );
    expectError(
      await send(t, 'GET', presignV2(t, 'GET', p, '', { expires: epoch(600), secret: 'wrong' }).pathAndQuery, {}),
      403,
      'SignatureDoesNotMatch',
    );
    expectError(
      await send(
        t,
        'GET',
        presignV2({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'x' }, 'GET', p, '', { expires: epoch(600) }).pathAndQuery,
        {},
      ),
      403,
      'InvalidAccessKeyId',
    );
    const both = headerSignV2(t, 'GET', p, '');
    expectError(await send(t, 'GET', get.pathAndQuery, both), 400, 'InvalidArgument', /Only one auth mechanism/);

    // PUT: the Content-Type it was signed with must be sent; an x-amz-* header it was not signed with breaks it.
    const up = objectPath(BUCKET, 'uploaded.txt');
    const put = presignV2(t, 'PUT', up, '', { expires: epoch(600), headers: { 'content-type': 'text/plain' } });
    expectError(
      await send(t, 'PUT', put.pathAndQuery, { 'content-type': 'text/plain', 'x-amz-acl': 'public-read' }, 'x'),
      403,
      'SignatureDoesNotMatch',
    );
    expectError(await send(t, 'PUT', put.pathAndQuery, { 'content-type': 'text/html' }, 'x'), 403, 'SignatureDoesNotMatch');
    expect(await objectBody(t, 'uploaded.txt')).toBeNull();
    expect((await send(t, 'PUT', put.pathAndQuery, { 'content-type': 'text/plain' }, 'via url')).status).toBe(200);
    expect(await objectBody(t, 'uploaded.txt')).toBe('via url');
    // An x-amz-* header the URL was signed with is sent, and applied.
    const pub = presignV2(t, 'PUT', objectPath(BUCKET, 'public.txt'), '', { expires: epoch(600), headers: { 'x-amz-acl': 'public-read' } });
    expect((await send(t, 'PUT', pub.pathAndQuery, { 'x-amz-acl': 'public-read' }, 'public')).status).toBe(200);
    expect((await fetch(`${t.endpoint}/${BUCKET}/public.txt`)).status).toBe(200);
  });

  it("a key's policies apply to SigV2 requests as to SigV4 ones", async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ro/readme.txt', Body: 'read me' }));
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'elsewhere.txt', Body: 'no' }));
    const k = await t.anvil.services.tenants.createKey(ROOT_TENANT, {
      policies: [{ effect: 'allow', actions: ['read', 'list'], resources: [`${BUCKET}/ro/*`] }],
    });
    const creds = { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
    expect((await v2(t, 'GET', objectPath(BUCKET, 'ro/readme.txt'), '', {}, undefined, { creds })).text).toBe('read me');
    const write = await v2(t, 'PUT', objectPath(BUCKET, 'ro/new.txt'), '', { 'content-length': '1' }, 'x', { creds });
    expectError(write, 403, 'AccessDenied');
    expectError(await v2(t, 'GET', objectPath(BUCKET, 'elsewhere.txt'), '', {}, undefined, { creds }), 403, 'AccessDenied');
    const url = presignV2(creds, 'GET', objectPath(BUCKET, 'elsewhere.txt'), '', { expires: epoch(600) });
    expectError(await send(t, 'GET', url.pathAndQuery, {}), 403, 'AccessDenied');
    expect(await objectBody(t, 'ro/new.txt')).toBeNull();

    await t.anvil.services.tenants.createTenant('sigv2-other');
    const other = await t.anvil.services.tenants.createKey('sigv2-other');
    const otherCreds = { accessKeyId: other.accessKeyId, secretAccessKey: other.secretAccessKey };
    expect((await v2(t, 'GET', objectPath(BUCKET, 'ro/readme.txt'), '', {}, undefined, { creds: otherCreds })).status).toBe(403);
  });

  it('POST forms signed with a SigV2 policy store the file; the policy is checked as for SigV4', async () => {
    const conditions = [{ bucket: BUCKET }, ['starts-with', '$key', 'posted/'], ['content-length-range', 1, 100]];
    const ok = await postForm(t, policyFormV2(t, conditions, { key: 'posted/${filename}' }), 'form bytes', 'hello.txt');
    expect(ok.status, await ok.text()).toBe(204);
    expect(await objectBody(t, 'posted/hello.txt')).toBe('form bytes');

    const refused = async (fields: Record<string, string>, status: number, code: string, message?: RegExp, file = 'refused') => {
      const res = await postForm(t, fields, file, 'refused.txt');
      const text = await res.text();
      expect({ status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] }, text).toEqual({ status, code });
      if (message) expect(text).toMatch(message);
    };
    await refused(policyFormV2(t, conditions, { key: 'elsewhere/${filename}' }), 403, 'AccessDenied', /Invalid according to Policy/);
    await refused(
      policyFormV2(t, conditions, { key: 'posted/${filename}', 'x-amz-meta-extra': '1' }),
      403,
      'AccessDenied',
      /Extra input fields/,
    );
    await refused(policyFormV2(t, conditions, { key: 'posted/${filename}' }), 400, 'EntityTooLarge', undefined, 'x'.repeat(101));
    await refused(policyFormV2(t, conditions, { key: 'posted/${filename}' }, { expiresInMs: -1000 }), 403, 'AccessDenied', /expired/);
    await refused(policyFormV2(t, conditions, { key: 'posted/${filename}' }, { secret: 'wrong' }), 403, 'SignatureDoesNotMatch');
    const form = policyFormV2(t, conditions, { key: 'posted/${filename}' });
    // The policy changed after signing (a wider key prefix), the signature kept.
    const widened = Buffer.from(Buffer.from(form.policy, 'base64').toString().replace('posted/', '')).toString('base64');
    await refused({ ...form, policy: widened, key: 'anywhere' }, 403, 'SignatureDoesNotMatch');
    await refused({ ...form, AWSAccessKeyId: 'AKIANOSUCHKEY0000000' }, 403, 'InvalidAccessKeyId');
    await refused({ key: 'posted/x', AWSAccessKeyId: t.accessKeyId, policy: form.policy }, 403, 'AccessDenied');
    expect(await objectBody(t, 'posted/refused.txt')).toBeNull();
    expect(await objectBody(t, 'anywhere')).toBeNull();
    expect(hmacSha1Base64(t.secretAccessKey, form.policy)).toBe(form.signature);
  });
});

describe('the sigv2 option', () => {
  it('is on by default; YAML `sigv2: false` or ANVIL_SIGV2=false turns it off, the environment winning over the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-sigv2-conf-'));
    const file = path.join(dir, 'anvil.yaml');
    expect(loadConfig({}, {}).sigv2).toBe(true);
    fs.writeFileSync(file, 'sigv2: false\n');
    expect(loadConfig({}, { ANVIL_CONFIG: file }).sigv2).toBe(false);
    expect(loadConfig({}, { ANVIL_CONFIG: file, ANVIL_SIGV2: 'true' }).sigv2).toBe(true);
    fs.writeFileSync(file, 'sigv2: true\n');
    expect(loadConfig({}, { ANVIL_CONFIG: file }).sigv2).toBe(true);
    expect(loadConfig({}, { ANVIL_CONFIG: file, ANVIL_SIGV2: 'false' }).sigv2).toBe(false);
    expect(loadConfig({}, { ANVIL_SIGV2: 'off' }).sigv2).toBe(false);
    fs.rmSync(dir, { recursive: true });
  });
});

describeEachEngine('SigV2 turned off (sigv2: false)', (engine) => {
  const t = useAnvil(engine, { buckets: [BUCKET], config: { sigv2: false } });

  it('refuses header, presigned and POST-form SigV2 with 403 naming the option; nothing changes; SigV4 still works', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kept.txt', Body: 'kept' }));
    const p = objectPath(BUCKET, 'kept.txt');
    const message = /Signature Version 2 is turned off on this server \(option sigv2\)/;
    expectError(await v2(t, 'PUT', p, '', { 'content-length': '7' }, 'changed'), 403, 'AccessDenied', message);
    expectError(await v2(t, 'DELETE', p), 403, 'AccessDenied', message);
    expectError(await v2(t, 'GET', p), 403, 'AccessDenied', message);
    expectError(await send(t, 'GET', presignV2(t, 'GET', p, '', { expires: epoch(600) }).pathAndQuery, {}), 403, 'AccessDenied', message);
    const res = await postForm(t, policyFormV2(t, [{ bucket: BUCKET }, { key: 'kept.txt' }], { key: 'kept.txt' }), 'changed');
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(message);
    expect(await objectBody(t, 'kept.txt')).toBe('kept');
    const listed = await t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['kept.txt']);
    expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'absent' })))).name).toBe('NoSuchKey');
  });
});

// ------------------------------------------------------------------ real clients

const PYTHON = '/usr/bin/python3';
const S3CMD = '/usr/bin/s3cmd';
const BOTO3_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sigv2_boto3.py');
const haveBoto3 = requireTools(
  'sigv2 boto3',
  [{ what: `${PYTHON} with boto3`, ok: pythonCan(PYTHON, 'import boto3') }],
  'apt-get install python3-boto3',
);
const haveS3cmd = requireTools(
  'sigv2 s3cmd',
  [
    { what: S3CMD, ok: fileExists(S3CMD) },
    { what: `${PYTHON} with s3cmd`, ok: pythonCan(PYTHON, 'import S3.Config') },
  ],
  'apt-get install s3cmd',
);

describeEachEngine('SigV2 with real clients (Debian boto3, s3cmd)', (engine) => {
  const t = useAnvil(engine, { buckets: [BUCKET], enabled: haveBoto3 || haveS3cmd });
  let work: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-sigv2-'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it.skipIf(!haveBoto3)(
    "boto3 with signature_version='s3' (SigV2 headers), its default presigned URLs, and generate_presigned_post",
    async () => {
      const env = cleanEnv(work, { AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' });
      const { stdout } = await run(PYTHON, [BOTO3_SCRIPT, t.endpoint, t.accessKeyId, t.secretAccessKey, BUCKET], { env });
      const r = JSON.parse(stdout);
      // Every request the SigV2 client sent was signed `AWS AKID:…`.
      expect(r.schemes.length).toBeGreaterThan(8);
      expect(new Set(r.schemes)).toEqual(new Set(['AWS']));
      expect(r.head).toEqual({ length: 8, type: 'text/plain', meta: { who: 'boto3' } });
      expect(r.get).toBe('hello v2');
      expect(r.listed).toEqual(['boto/a b+c.txt', 'boto/multi.bin']);
      expect(r.listedV1).toEqual(r.listed);
      expect(r.versioning).toBe('Off');
      expect(r.multiSha256).toBe(r.multiSrcSha256);
      expect(r.multiEtag).toMatch(/^"[0-9a-f]{32}-2"$/);
      expect(r.tags).toEqual([{ Key: 'k', Value: 'v' }]);
      expect(r.deleted).toEqual(['boto/a b+c.txt', 'boto/multi.bin']);
      expect(r.afterDelete).toEqual([]);
      // Virtual-host-style, header-signed and presigned.
      expect([r.vhostGet, r.vhostListed, r.vhostPresignedBody]).toEqual(['virtual host', ['vhost/x y.txt'], 'virtual host']);
      expect(new URL(r.vhostUrl).hostname).toBe(`${BUCKET}.localhost`);
      expect(await objectBody(t, 'vhost/x y.txt')).toBeNull();

      // Its default presigner (no signature_version) is SigV2 on Debian: the URLs say so.
      expect(r.presignedGet).toMatch(/[?&]AWSAccessKeyId=/);
      expect(r.presignedGet).not.toMatch(/X-Amz-Algorithm/);
      expect(r.presignedGetBody).toBe('presigned body');
      expect(r.presignedPutStatus).toBe(200);
      expect(await objectBody(t, 'boto/put-by-url.txt')).toBe('uploaded through a presigned URL');

      // The presigned POST (policy v2), posted as a browser would.
      expect(Object.keys(r.post.fields).sort()).toEqual(['AWSAccessKeyId', 'key', 'policy', 'signature']);
      const form = new FormData();
      for (const [k, v] of Object.entries(r.post.fields as Record<string, string>)) form.append(k, v);
      form.append('file', new Blob(['posted by a form']), 'x.txt');
      const posted = await fetch(r.post.url, { method: 'POST', body: form, redirect: 'manual' });
      expect(posted.status, await posted.text()).toBe(204);
      expect(await objectBody(t, 'boto/posted.txt')).toBe('posted by a form');
    },
  );

  it.skipIf(!haveS3cmd)(
    's3cmd with signature_v2 = True: put (multipart too), ls, get, setacl, del, mb, rb, and s3cmd signurl',
    async () => {
      const hostPort = new URL(t.endpoint).host;
      const cfg = path.join(work, 's3cfg');
      fs.writeFileSync(
        cfg,
        [
          '[default]',
          `access_key = ${t.accessKeyId}`,
          `secret_key = ${t.secretAccessKey}`,
          `host_base = ${hostPort}`,
          `host_bucket = ${hostPort}`,
          'use_https = False',
          'signature_v2 = True',
          'bucket_location = us-east-1',
          'progress_meter = False',
          '',
        ].join('\n'),
      );
      const s3cmd = (...args: string[]) => run(S3CMD, ['-c', cfg, ...args], { env: cleanEnv(work), cwd: work });
      const file = path.join(work, 'up load.txt');
      fs.writeFileSync(file, 'sent by s3cmd over SigV2');
      const put = await s3cmd('--debug', 'put', '--no-mime-magic', file, `s3://${BUCKET}/s3cmd/up load.txt`);
      // s3cmd logs the SigV2 string it signed (SigV4 would log a canonical request instead).
      expect(put.stderr).toContain('SignHeaders');
      expect(put.stderr).not.toContain('AWS4-HMAC-SHA256');
      expect(await objectBody(t, 's3cmd/up load.txt')).toBe('sent by s3cmd over SigV2');
      expect((await s3cmd('ls', `s3://${BUCKET}/s3cmd/`)).stdout).toContain(`s3://${BUCKET}/s3cmd/up load.txt`);
      const down = path.join(work, 'down.txt');
      await s3cmd('get', `s3://${BUCKET}/s3cmd/up load.txt`, down);
      expect(fs.readFileSync(down, 'utf8')).toBe('sent by s3cmd over SigV2');

      const signed = await s3cmd('signurl', `s3://${BUCKET}/s3cmd/up load.txt`, '+600');
      const url = signed.stdout.trim();
      expect(url).toMatch(/[?&]AWSAccessKeyId=/);
      const fetched = await fetch(url.replace(/^https?:\/\/[^/]+/, t.endpoint));
      expect([fetched.status, await fetched.text()]).toEqual([200, 'sent by s3cmd over SigV2']);

      // Sub-resources: a multipart upload (uploads, partNumber, uploadId), an ACL, a DeleteObjects, a bucket of its own.
      const big = path.join(work, 'big.bin');
      fs.writeFileSync(big, crypto.randomBytes(11 * 1024 * 1024));
      await s3cmd('mb', 's3://sigv2-s3cmd');
      await s3cmd('put', '--multipart-chunk-size-mb=5', '--no-mime-magic', big, 's3://sigv2-s3cmd/big.bin');
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'sigv2-s3cmd', Key: 'big.bin' }));
      expect(head.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
      await s3cmd('setacl', '--acl-public', `s3://${BUCKET}/s3cmd/up load.txt`);
      expect((await fetch(`${t.endpoint}/${BUCKET}/s3cmd/up%20load.txt`)).status).toBe(200);
      await s3cmd('del', `s3://${BUCKET}/s3cmd/up load.txt`);
      expect(await objectBody(t, 's3cmd/up load.txt')).toBeNull();
      const removed = await s3cmd('del', '--recursive', '--force', 's3://sigv2-s3cmd/');
      expect(removed.stdout).toContain("delete: 's3://sigv2-s3cmd/big.bin'");
      await s3cmd('rb', 's3://sigv2-s3cmd');
      expect((await s3cmd('ls')).stdout).not.toContain('s3://sigv2-s3cmd');
    },
  );
});
