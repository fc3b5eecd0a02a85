/**
 * Regression tests for the outside security and fault review (issue 12): each
 * finding's exact request, on both engines, proving the answer is a precise
 * S3 error, the server stays up and nothing changed that should not.
 */
import { createHash, randomBytes } from 'node:crypto';

import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { beforeAll, describe, expect, it } from 'vitest';

import { blobFiles, describeEachEngine, s3Error, stagedFiles, useAnvil } from '../support/anvil.js';
import { crc32Base64, encodeUnsigned } from '../support/aws-chunked.js';
import { signedFetch } from '../support/signed-fetch.js';
import { send, sign, type WireResponse } from '../support/wire.js';

const BUCKET = 'hardening';

describeEachEngine('hardening', (engine) => {
  const t = useAnvil(engine, { buckets: [BUCKET], config: { maxObjectSize: 1024 * 1024 } });

  beforeAll(async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'existing', Body: 'kept' }));
  });

  async function text(key: string): Promise<string> {
    const res = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return res.Body!.transformToString();
  }

  async function keys(): Promise<string[]> {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    return (res.Contents ?? []).map((c) => c.Key!);
  }

  /** The server still answers, with the objects it had. */
  async function stillServing(): Promise<void> {
    await t.s3.send(new HeadBucketCommand({ Bucket: BUCKET }));
    expect(await text('existing')).toBe('kept');
  }

  describe('finding 1: an aws-chunked body refused on its headers cannot stop the process', () => {
    const payload = randomBytes(100 * 1024);
    const chunked = encodeUnsigned(payload, { chunkSize: 16 * 1024, trailers: { 'x-amz-checksum-crc32': crc32Base64(payload) } });

    async function chunkedPut(
      path: string,
      query: Record<string, string>,
      extra: Record<string, string>,
      body: Buffer,
    ): Promise<WireResponse> {
      const signed = await sign(t, 'PUT', path, {
        query,
        headers: {
          'content-encoding': 'aws-chunked',
          'content-length': String(body.length),
          'x-amz-decoded-content-length': String(payload.length),
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-trailer': 'x-amz-checksum-crc32',
          ...extra,
        },
      });
      return send(t, 'PUT', signed.pathAndQuery, signed.headers, body);
    }

    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['an unknown x-amz-sdk-checksum-algorithm', { 'x-amz-sdk-checksum-algorithm': 'MD17' }, 400, 'InvalidRequest'],
      [
        'an x-amz-decoded-content-length over the size limit',
        { 'x-amz-decoded-content-length': String(64 * 1024 * 1024) },
        400,
        'EntityTooLarge',
      ],
      ['a failed If-None-Match on an existing key', { 'if-none-match': '*' }, 412, 'PreconditionFailed'],
    ];

    for (const [name, extra, status, code] of cases) {
      for (const cut of [false, true]) {
        it(`PutObject with ${name}${cut ? ', body cut short' : ''}: ${status} ${code}, server keeps serving`, async () => {
          const key = extra['if-none-match'] ? 'existing' : `refused-${randomBytes(4).toString('hex')}`;
          const body = cut ? chunked.subarray(0, chunked.length - 40) : chunked;
          const res = await chunkedPut(`/${BUCKET}/${key}`, {}, extra, body);
          expect({ status: res.status, code: res.code }).toEqual({ status, code });
          // Give the decoder time to see its input end (where the crash happened).
          await new Promise((r) => setTimeout(r, 100));
          await stillServing();
          expect(await keys()).toEqual(['existing']);
          expect(stagedFiles(t.dataDir)).toEqual([]);
        });
      }
    }

    it('UploadPart with an unknown checksum algorithm: 400, server keeps serving', async () => {
      const upload = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp' }));
      const res = await chunkedPut(
        `/${BUCKET}/mp`,
        { partNumber: '1', uploadId: upload.UploadId! },
        { 'x-amz-sdk-checksum-algorithm': 'MD17' },
        chunked.subarray(0, 1000),
      );
      expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidRequest' });
      await new Promise((r) => setTimeout(r, 100));
      await stillServing();
    });

    it('keeps a reused connection usable after a refused small body', async () => {
      const blobsBefore = blobFiles(t.dataDir).sort();
      const res = await chunkedPut(`/${BUCKET}/small`, {}, { 'x-amz-sdk-checksum-algorithm': 'MD17' }, chunked);
      expect(res.status).toBe(400);
      expect(blobFiles(t.dataDir).sort()).toEqual(blobsBefore);
      await stillServing();
    });
  });

  describe('finding 2: x-amz-* headers the signature does not cover are refused', () => {
    const sseKey = randomBytes(32);
    const unsignedCases: Array<[string, Record<string, string>]> = [
      ['x-amz-copy-source and x-amz-acl', { 'x-amz-copy-source': `/${BUCKET}/private`, 'x-amz-acl': 'public-read' }],
      ['x-amz-meta-*', { 'x-amz-meta-owner': 'mallory' }],
      ['x-amz-tagging', { 'x-amz-tagging': 'a=b' }],
      [
        'SSE-C headers',
        {
          'x-amz-server-side-encryption-customer-algorithm': 'AES256',
          'x-amz-server-side-encryption-customer-key': sseKey.toString('base64'),
          'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(sseKey).digest('base64'),
        },
      ],
    ];

    beforeAll(async () => {
      await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'private', Body: 'secret' }));
    });

    async function unchanged(key: string) {
      expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))).name).toBe('NotFound');
      const acl = await t.s3.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: 'private' }));
      expect(acl.Grants!.some((g) => g.Grantee?.URI?.includes('AllUsers'))).toBe(false);
      expect(await text('private')).toBe('secret');
    }

    for (const [name, extra] of unsignedCases) {
      it(`presigned PUT URL plus unsigned ${name}: 403 AccessDenied, nothing written`, async () => {
        const key = `presigned-${randomBytes(4).toString('hex')}`;
        const url = await getSignedUrl(t.s3, new PutObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 300 });
        const u = new URL(url);
        const res = await send(t, 'PUT', u.pathname + u.search, { ...extra, 'content-length': '5' }, 'hello');
        expect({ status: res.status, code: res.code }).toEqual({ status: 403, code: 'AccessDenied' });
        expect(res.text).toContain('There were headers present in the request which were not signed');
        for (const h of Object.keys(extra)) expect(res.text).toContain(h);
        await unchanged(key);
      });

      it(`header-signed PUT plus unsigned ${name}: 403 AccessDenied, nothing written`, async () => {
        const key = `signed-${randomBytes(4).toString('hex')}`;
        const signed = await sign(t, 'PUT', `/${BUCKET}/${key}`, {
          headers: { 'content-length': '5' },
          payloadHash: 'UNSIGNED-PAYLOAD',
          unsigned: extra,
        });
        const res = await send(t, 'PUT', signed.pathAndQuery, signed.headers, 'hello');
        expect({ status: res.status, code: res.code }).toEqual({ status: 403, code: 'AccessDenied' });
        await unchanged(key);
      });
    }

    it('still takes the same headers when they are signed (presigned and header-signed)', async () => {
      const url = await getSignedUrl(
        t.s3,
        new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned-ok', Metadata: { owner: 'alice' }, Tagging: 'a=b' }),
        {
          expiresIn: 300,
          // Kept as signed headers, not hoisted into the query string.
          unhoistableHeaders: new Set(['x-amz-meta-owner', 'x-amz-tagging']),
        },
      );
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-amz-meta-owner;x-amz-tagging');
      const u = new URL(url);
      const res = await send(
        t,
        'PUT',
        u.pathname + u.search,
        { 'x-amz-meta-owner': 'alice', 'x-amz-tagging': 'a=b', 'content-length': '5' },
        'hello',
      );
      expect(res.status, res.text).toBe(200);
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'presigned-ok' }));
      expect(head.Metadata).toEqual({ owner: 'alice' });
      const tags = await t.s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'presigned-ok' }));
      expect(tags.TagSet).toEqual([{ Key: 'a', Value: 'b' }]);
      // The plain presigned URL that browsers use (no extra headers) keeps working.
      const plain = await getSignedUrl(t.s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned-plain' }), { expiresIn: 300 });
      const p = new URL(plain);
      expect((await send(t, 'PUT', p.pathname + p.search, { 'content-length': '2' }, 'ok')).status).toBe(200);
      expect(await text('presigned-plain')).toBe('ok');
    });
  });

  /** A signed request with a body whose Content-MD5 is right (DeleteObjects needs one). */
  async function signedBody(method: string, path: string, query: Record<string, string>, body: Buffer): Promise<WireResponse> {
    const signed = await sign(t, method, path, {
      query,
      headers: { 'content-md5': createHash('md5').update(body).digest('base64'), 'content-length': String(body.length) },
      payloadHash: createHash('sha256').update(body).digest('hex'),
    });
    return send(t, method, signed.pathAndQuery, signed.headers, body);
  }

  describe('finding 3: DeleteObjects never maps an impossible key to another one', () => {
    beforeAll(async () => {
      for (const key of ['ab', 'a\u0001b']) await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    });

    const refused: Array<[string, Buffer]> = [
      ['a NUL character reference', Buffer.from('<Delete><Object><Key>a&#0;b</Key></Object></Delete>')],
      ['a hexadecimal NUL reference', Buffer.from('<Delete><Object><Key>a&#x0;b</Key></Object></Delete>')],
      ['a lone surrogate reference', Buffer.from('<Delete><Object><Key>a&#xD800;b</Key></Object></Delete>')],
      ['a reference beyond Unicode', Buffer.from('<Delete><Object><Key>a&#x110000;b</Key></Object></Delete>')],
      ['a raw NUL byte', Buffer.from('<Delete><Object><Key>a\u0000b</Key></Object></Delete>')],
      [
        'bytes that are not UTF-8',
        Buffer.concat([Buffer.from('<Delete><Object><Key>a'), Buffer.from([0xff]), Buffer.from('b</Key></Object></Delete>')]),
      ],
      [
        'a UTF-8-encoded surrogate',
        Buffer.concat([Buffer.from('<Delete><Object><Key>a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('b</Key></Object></Delete>')]),
      ],
    ];
    for (const [name, body] of refused) {
      it(`refuses ${name} with MalformedXML and deletes nothing`, async () => {
        const res = await signedBody('POST', `/${BUCKET}`, { delete: '' }, body);
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'MalformedXML' });
        expect(await text('ab')).toBe('ab');
        expect(await text('a\u0001b')).toBe('a\u0001b');
      });
    }

    it('deletes exactly the key a control-character reference names', async () => {
      const res = await signedBody(
        'POST',
        `/${BUCKET}`,
        { delete: '' },
        Buffer.from('<Delete><Quiet>true</Quiet><Object><Key>a&#x1;b</Key></Object></Delete>'),
      );
      expect(res.status, res.text).toBe(200);
      expect(await text('ab')).toBe('ab');
      expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a\u0001b' })))).name).toBe('NoSuchKey');
    });
  });

  describe('finding 4: NUL and undecodable text in keys, prefixes, markers, ids and copy sources', () => {
    const cases: Array<[string, string, string, Record<string, string>, number, string]> = [
      ['GET of a key with NUL', 'GET', `/${BUCKET}/a%00b`, {}, 400, 'InvalidArgument'],
      ['PUT of a key with NUL', 'PUT', `/${BUCKET}/a%00b`, {}, 400, 'InvalidArgument'],
      ['DELETE of a key with NUL', 'DELETE', `/${BUCKET}/a%00b`, {}, 400, 'InvalidArgument'],
      ['a prefix with NUL', 'GET', `/${BUCKET}?list-type=2&prefix=a%00`, {}, 400, 'InvalidArgument'],
      ['a start-after with NUL', 'GET', `/${BUCKET}?list-type=2&start-after=%00`, {}, 400, 'InvalidArgument'],
      ['a continuation token with NUL', 'GET', `/${BUCKET}?list-type=2&continuation-token=%00`, {}, 400, 'InvalidArgument'],
      ['a V1 marker with NUL', 'GET', `/${BUCKET}?marker=a%00`, {}, 400, 'InvalidArgument'],
      ['a delimiter with NUL', 'GET', `/${BUCKET}?delimiter=%00`, {}, 400, 'InvalidArgument'],
      ['an upload id with NUL', 'GET', `/${BUCKET}/k?uploadId=%00`, {}, 400, 'InvalidArgument'],
      ['a key-marker with NUL', 'GET', `/${BUCKET}?uploads&key-marker=%00`, {}, 400, 'InvalidArgument'],
      ['a prefix that is not UTF-8', 'GET', `/${BUCKET}?list-type=2&prefix=%FF`, {}, 400, 'InvalidURI'],
      ['a key that is not UTF-8', 'GET', `/${BUCKET}/a%FFb`, {}, 400, 'InvalidURI'],
      ['a copy source with NUL', 'PUT', `/${BUCKET}/copy-target`, { 'x-amz-copy-source': `/${BUCKET}/a%00b` }, 400, 'InvalidArgument'],
      [
        'a copy source that is not UTF-8',
        'PUT',
        `/${BUCKET}/copy-target`,
        { 'x-amz-copy-source': `/${BUCKET}/a%FFb` },
        400,
        'InvalidArgument',
      ],
    ];
    for (const [name, method, pathAndQuery, headers, status, code] of cases) {
      it(`${name}: ${status} ${code} before any query`, async () => {
        const [path, qs] = pathAndQuery.split('?');
        // Signed over the decoded form the SDK signer expects; the raw text is sent as written.
        const query: Record<string, string> = {};
        for (const part of (qs ?? '').split('&').filter(Boolean)) {
          const [k, v = ''] = part.split('=');
          query[k] = unescape(v);
        }
        const signed = await sign(t, method, unescape(path), {
          headers: { ...headers, 'content-length': '0' },
          query,
          payloadHash: 'UNSIGNED-PAYLOAD',
        });
        const res = await send(t, method, pathAndQuery, signed.headers, '');
        expect({ status: res.status, code: res.code }).toEqual({ status, code });
        await stillServing();
        expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'copy-target' })))).name).toBe('NotFound');
      });
    }
  });

  describe('finding 7: parser failures are S3 errors, not 500', () => {
    it('deeply nested XML answers 400 MalformedXML on every XML-taking operation', async () => {
      const deep = Buffer.from('<Tagging>' + '<TagSet>'.repeat(50_000) + '</TagSet>'.repeat(50_000) + '</Tagging>');
      for (const [path, query] of [
        [`/${BUCKET}`, { tagging: '' }],
        [`/${BUCKET}/existing`, { tagging: '' }],
        [`/${BUCKET}`, { delete: '' }],
        [`/${BUCKET}`, { cors: '' }],
        [`/${BUCKET}`, { acl: '' }],
      ] as const) {
        const res = await signedBody('delete' in query ? 'POST' : 'PUT', path, query, deep);
        expect({ path, query, status: res.status, code: res.code }).toEqual({ path, query, status: 400, code: 'MalformedXML' });
      }
      await stillServing();
    });

    it('a POST form without a boundary answers 400 MalformedPOSTRequest', async () => {
      const res = await send(t, 'POST', `/${BUCKET}`, { 'content-type': 'multipart/form-data', 'content-length': '5' }, 'hello');
      expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'MalformedPOSTRequest' });
      await stillServing();
    });
  });

  describe('finding 8: Object Lock protects what it promises', () => {
    it('a COMPLIANCE-locked version cannot be deleted a second later, by root, with or without the bypass', async () => {
      await t.s3.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }));
      const put = await t.s3.send(
        new PutObjectCommand({
          Bucket: 'locked',
          Key: 'worm',
          Body: 'kept for a day',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
        }),
      );
      expect(put.VersionId).toMatch(/^[0-9a-f]{20}$/);
      await new Promise((r) => setTimeout(r, 1000));
      for (const bypass of [undefined, true]) {
        const err = await s3Error(
          t.s3.send(
            new DeleteObjectCommand({ Bucket: 'locked', Key: 'worm', VersionId: put.VersionId, BypassGovernanceRetention: bypass }),
          ),
        );
        expect({ bypass, name: err.name, status: err.$metadata.httpStatusCode }).toEqual({ bypass, name: 'AccessDenied', status: 403 });
      }
      const got = await t.s3.send(new GetObjectCommand({ Bucket: 'locked', Key: 'worm', VersionId: put.VersionId }));
      expect(await got.Body!.transformToString()).toBe('kept for a day');
      expect(got.ObjectLockMode).toBe('COMPLIANCE');
    });

    it('PutObject, CreateMultipartUpload and CopyObject with lock headers on a bucket without Object Lock: 400 InvalidRequest, nothing written', async () => {
      const until = new Date(Date.now() + 86_400_000);
      const attempts = [
        () =>
          t.s3.send(
            new PutObjectCommand({
              Bucket: BUCKET,
              Key: 'worm',
              Body: 'x',
              ObjectLockMode: 'COMPLIANCE',
              ObjectLockRetainUntilDate: until,
            }),
          ),
        () => t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'worm', Body: 'x', ObjectLockLegalHoldStatus: 'ON' })),
        // A hold OFF is a lock header too: a bucket without Object Lock refuses any of them.
        () => t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'worm', Body: 'x', ObjectLockLegalHoldStatus: 'OFF' })),
        () =>
          t.s3.send(
            new CreateMultipartUploadCommand({
              Bucket: BUCKET,
              Key: 'worm',
              ObjectLockMode: 'GOVERNANCE',
              ObjectLockRetainUntilDate: until,
            }),
          ),
        () =>
          t.s3.send(
            new CopyObjectCommand({
              Bucket: BUCKET,
              Key: 'worm',
              CopySource: `${BUCKET}/existing`,
              ObjectLockMode: 'COMPLIANCE',
              ObjectLockRetainUntilDate: until,
            }),
          ),
      ];
      for (const attempt of attempts) {
        const err = await s3Error(attempt());
        expect({ name: err.name, status: err.$metadata.httpStatusCode }).toEqual({ name: 'InvalidRequest', status: 400 });
      }
      expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'worm' })))).name).toBe('NotFound');
      const uploads = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'worm' }));
      expect(uploads.Uploads ?? []).toEqual([]);
      await stillServing();
    });
  });

  describe('beyond the review: the admin API refuses NUL before the database', () => {
    async function admin(method: string, path: string, body?: string) {
      const res = await signedFetch(t, method, `${t.endpoint}${path}`, {
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body,
        payloadHash: createHash('sha256')
          .update(body ?? '')
          .digest('hex'),
      });
      return { status: res.status, json: (await res.json().catch(() => null)) as { error?: { code?: string } } | null };
    }

    it('answers 400 for NUL in a JSON body, 404 for NUL in a path, 400 for bytes that are not UTF-8', async () => {
      const before = await admin('GET', '/admin/v1/tenants');
      expect(before.status).toBe(200);
      expect((await admin('POST', '/admin/v1/tenants', JSON.stringify({ name: 'a\u0000b' }))).status).toBe(400);
      expect((await admin('GET', '/admin/v1/tenants/a%00b')).status).toBe(404);
      const bad = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff]), Buffer.from('"}')]);
      const notUtf8 = await signedFetch(t, 'POST', `${t.endpoint}/admin/v1/tenants`, {
        headers: { 'content-type': 'application/json' },
        body: bad,
        payloadHash: createHash('sha256').update(bad).digest('hex'),
      });
      expect(notUtf8.status).toBe(400);
      expect(await admin('GET', '/admin/v1/tenants')).toEqual(before);
    });
  });
});
