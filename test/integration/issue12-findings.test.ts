/**
 * Issue 12's findings 1, 2, 3, 4 and 7 as plain regression tests, with the
 * exact requests the review describes (the fuzz suites cover the same ground
 * at random). Each one also proves that no process-level error escaped and
 * that the server keeps serving what it had.
 */
import { createHash, randomBytes } from 'node:crypto';

import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

import { describeEachEngine, type TestAnvil } from '../support/anvil.js';
import { crc32Base64, encodeUnsigned } from '../support/aws-chunked.js';
import { fuzzSuite, Sentinels } from '../support/fuzz.js';
import { objectPath, presign, send, sign, type WireResponse } from '../support/wire.js';
import { textsIn } from '../support/xml-fuzz.js';

const BUCKET = 'findings';
const MAX_OBJECT_SIZE = 1024 * 1024;
const md5Base64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');

describeEachEngine('issue 12 findings', (engine) => {
  let t: TestAnvil;
  let sentinels: Sentinels;
  const watch = fuzzSuite(engine, {
    bucket: BUCKET,
    overrides: { maxObjectSize: MAX_OBJECT_SIZE },
    ready: (suite) => ({ t, sentinels } = suite),
    seed: async () => {
      for (const key of ['existing', 'ab', 'b', 'private-source']) await sentinels.put(key, `kept: ${key}`);
    },
  });

  /** The request was answered, nothing escaped, and the server still serves every object it had. */
  async function stillServing(what: string): Promise<void> {
    await watch.assertNone(what);
    await sentinels.assertIntact();
  }

  describe('finding 1: an aws-chunked body refused on its headers never stops the process', () => {
    // Small enough to fit the decoder's buffers: the decoder reads it all, unasked, and fails when it ends.
    const payload = randomBytes(4 * 1024);
    const body = encodeUnsigned(payload, { chunkSize: 1024, trailers: { 'x-amz-checksum-crc32': crc32Base64(payload) } });
    /** Cut inside the last chunk: the decoder fails when the (unread) body ends. */
    const cut = body.subarray(0, body.length - 100);
    const bigPayload = randomBytes(200 * 1024);
    const big = encodeUnsigned(bigPayload, { chunkSize: 16 * 1024, trailers: { 'x-amz-checksum-crc32': crc32Base64(bigPayload) } });
    const bigCut = big.subarray(0, big.length - 100);

    async function chunkedPut(
      path: string,
      query: Record<string, string>,
      extra: Record<string, string>,
      sent: Buffer,
      presigned = false,
    ): Promise<WireResponse> {
      const headers = {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(sent.length > payload.length * 2 ? bigPayload.length : payload.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
        ...extra,
      };
      if (presigned) {
        // The review's browser case: a presigned PUT URL, with the bad headers added (unsigned) by the holder.
        const p = await presign(t, 'PUT', path, { query });
        return send(
          t,
          'PUT',
          p.pathAndQuery,
          { ...headers, 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'content-length': String(sent.length) },
          sent,
        );
      }
      const s = await sign(t, 'PUT', path, {
        query,
        headers,
        payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        unsignable: ['content-length'],
      });
      return send(t, 'PUT', s.pathAndQuery, { ...s.headers, 'content-length': String(sent.length) }, sent);
    }

    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['an unknown x-amz-sdk-checksum-algorithm', { 'x-amz-sdk-checksum-algorithm': 'MD17' }, 400, 'InvalidRequest'],
      [
        'an x-amz-decoded-content-length over the size limit',
        { 'x-amz-decoded-content-length': String(MAX_OBJECT_SIZE + 1) },
        400,
        'EntityTooLarge',
      ],
      ['If-None-Match: * on an existing key', { 'if-none-match': '*' }, 412, 'PreconditionFailed'],
    ];
    for (const [name, extra, status, code] of cases) {
      for (const [label, sent] of [
        ['whole body', body],
        ['body cut short', cut],
        ['200 KiB body cut short', bigCut],
      ] as const) {
        it(`PutObject with ${name} (${label}): ${status} ${code}, and the server keeps serving`, async () => {
          const key = extra['if-none-match'] ? 'existing' : `refused-${randomBytes(4).toString('hex')}`;
          const res = await chunkedPut(objectPath(BUCKET, key), {}, extra, sent);
          expect({ status: res.status, code: res.code }).toEqual({ status, code });
          await stillServing(`${name}, ${label}`);
        });
      }
      it(`a presigned PUT URL plus ${name} (unsigned), body cut short: refused, and the server keeps serving`, async () => {
        const key = extra['if-none-match'] ? 'existing' : `presigned-${randomBytes(4).toString('hex')}`;
        const res = await chunkedPut(objectPath(BUCKET, key), {}, extra, cut, true);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        await stillServing(`presigned, ${name}`);
      });
    }

    it('UploadPart with an unknown checksum algorithm or a bad part number, body cut short: 400, and the server keeps serving', async () => {
      const created = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mpu' }));
      for (const [query, extra] of [
        [{ partNumber: '1', uploadId: created.UploadId! }, { 'x-amz-sdk-checksum-algorithm': 'MD17' }],
        [{ partNumber: '0', uploadId: created.UploadId! }, {}],
        [{ partNumber: '10001', uploadId: created.UploadId! }, {}],
      ] as const) {
        const res = await chunkedPut(objectPath(BUCKET, 'mpu'), query, extra, cut);
        expect(res.status, JSON.stringify(query)).toBe(400);
        await stillServing(JSON.stringify(query));
      }
    });

    it('UploadPart with a malformed aws-chunked body and valid headers: 400, and the server keeps serving (found by the fuzz suite)', async () => {
      const created = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mpu-2' }));
      // The chunk's data is not followed by CRLF: the decoder fails on the first bytes, before the part is staged.
      const malformed = Buffer.from('1\r\nxy0\r\n\r\n');
      const s = await sign(t, 'PUT', objectPath(BUCKET, 'mpu-2'), {
        query: { partNumber: '1', uploadId: created.UploadId! },
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '1', 'content-length': String(malformed.length) },
        payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      });
      const res = await send(t, 'PUT', s.pathAndQuery, s.headers, malformed);
      expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidRequest' });
      await stillServing('malformed UploadPart');
    });
  });

  describe('finding 2: x-amz-* headers the signature does not cover are refused', () => {
    it('a presigned PUT URL plus unsigned x-amz-copy-source and x-amz-acl: 403, no public copy of a private object', async () => {
      const p = await presign(t, 'PUT', objectPath(BUCKET, 'stolen'));
      const res = await send(t, 'PUT', p.pathAndQuery, {
        'x-amz-copy-source': `${BUCKET}/private-source`,
        'x-amz-acl': 'public-read',
        'content-length': '0',
      });
      expect({ status: res.status, code: res.code }).toEqual({ status: 403, code: 'AccessDenied' });
      const anonymous = await send(t, 'GET', objectPath(BUCKET, 'stolen'), {});
      expect(anonymous.status).toBe(403);
      expect(anonymous.text).not.toContain('kept: private-source');
      const head = await s3Status(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'stolen' })));
      expect(head).toBe(404);
      await stillServing('unsigned copy source');
    });

    for (const [name, value] of [
      ['x-amz-meta-injected', 'yes'],
      ['x-amz-tagging', 'a=b'],
      ['x-amz-acl', 'public-read'],
    ]) {
      it(`a header-signed PUT plus an unsigned ${name}: 403, nothing written`, async () => {
        const s = await sign(t, 'PUT', objectPath(BUCKET, 'signed-put'), {
          headers: { 'content-length': '2' },
          unsigned: { [name]: value },
        });
        const res = await send(t, 'PUT', s.pathAndQuery, s.headers, 'hi');
        expect({ status: res.status, code: res.code }).toEqual({ status: 403, code: 'AccessDenied' });
        expect(await s3Status(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'signed-put' })))).toBe(404);
        await stillServing(name);
      });
    }
  });

  describe('finding 3: DeleteObjects never deletes a key other than the one named', () => {
    async function deleteObjects(xml: string): Promise<WireResponse> {
      const body = Buffer.from(xml, 'utf8');
      const s = await sign(t, 'POST', objectPath(BUCKET), {
        query: { delete: '' },
        headers: { 'content-md5': md5Base64(body), 'content-length': String(body.length) },
      });
      return send(t, 'POST', s.pathAndQuery, s.headers, body);
    }

    // A reference to a code point that cannot be in a key names no key; U+FFFE is a (non)character, and a valid key.
    for (const [ref, itself] of [
      ['&#0;'],
      ['&#x0;'],
      ['&#xD800;'],
      ['&#xDFFF;'],
      ['&#x110000;'],
      ['&#99999999999;'],
      ['&#xFFFE;', 'a\uFFFEb'],
    ]) {
      it(`<Key>a${ref}b</Key> does not delete "ab"${itself ? ' (only the key it names)' : ''}`, async () => {
        const res = await deleteObjects(`<Delete><Object><Key>a${ref}b</Key></Object></Delete>`);
        expect(res.status).toBeLessThan(500);
        if (res.status === 200) expect(textsIn(res.text, 'Deleted', 'Key')).toEqual(itself ? [itself] : []);
        else expect(res.code).toBe('MalformedXML');
        await stillServing(ref);
      });
    }

    it('a key with invalid UTF-8 bytes does not delete the key with U+FFFD in their place', async () => {
      await sentinels.put('a\uFFFDb');
      const body = Buffer.concat([Buffer.from('<Delete><Object><Key>a'), Buffer.from([0xff]), Buffer.from('b</Key></Object></Delete>')]);
      const s = await sign(t, 'POST', objectPath(BUCKET), {
        query: { delete: '' },
        headers: { 'content-md5': md5Base64(body), 'content-length': String(body.length) },
      });
      const res = await send(t, 'POST', s.pathAndQuery, s.headers, body);
      expect(res.status).toBeLessThan(500);
      await stillServing('invalid UTF-8 key');
    });

    it('a key with a control character, as Anvil lists it (&#x1;), deletes exactly that key and not its neighbour without it', async () => {
      await sentinels.put('x\u0001b');
      await sentinels.put('xb');
      const list = await sign(t, 'GET', objectPath(BUCKET), { query: { 'list-type': '2', prefix: 'x' } });
      const listed = await send(t, 'GET', list.pathAndQuery, list.headers);
      expect(listed.text).toContain('<Key>x&#x1;b</Key>');
      const res = await deleteObjects('<Delete><Object><Key>x&#x1;b</Key></Object></Delete>');
      expect(res.status).toBe(200);
      expect(textsIn(res.text, 'Deleted', 'Key')).toEqual(['x\u0001b']);
      expect(await s3Status(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'xb' })))).toBe(200);
      expect(await s3Status(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'x\u0001b' })))).toBe(404);
      await sentinels.restore(['x\u0001b']);
      // The SDK (which sends the control character raw) agrees.
      const sdk = await t.s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'x\u0001b' }] } }));
      expect(sdk.Deleted?.map((d) => d.Key)).toEqual(['x\u0001b']);
      expect(await s3Status(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'xb' })))).toBe(200);
      await sentinels.restore(['x\u0001b']);
      await stillServing('control character key');
    });
  });

  describe('finding 4: NUL in keys, prefixes, markers, upload ids and copy sources is a 400 on both engines, before any query', () => {
    const requests: Array<[string, string, string, Record<string, string>, Record<string, string>]> = [
      ['GetObject', 'GET', objectPath(BUCKET, 'a\u0000b'), {}, {}],
      ['HeadObject', 'HEAD', objectPath(BUCKET, 'a\u0000b'), {}, {}],
      ['PutObject', 'PUT', objectPath(BUCKET, 'a\u0000b'), {}, { 'content-length': '0' }],
      ['DeleteObject', 'DELETE', objectPath(BUCKET, 'a\u0000b'), {}, {}],
      ['ListObjectsV2 prefix', 'GET', objectPath(BUCKET), { 'list-type': '2', prefix: 'a\u0000' }, {}],
      ['ListObjectsV2 start-after', 'GET', objectPath(BUCKET), { 'list-type': '2', 'start-after': 'a\u0000' }, {}],
      ['ListObjectsV2 delimiter', 'GET', objectPath(BUCKET), { 'list-type': '2', delimiter: '\u0000' }, {}],
      [
        'ListObjectsV2 continuation token',
        'GET',
        objectPath(BUCKET),
        { 'list-type': '2', 'continuation-token': Buffer.from('1:a\u0000').toString('base64url') },
        {},
      ],
      ['ListObjects marker', 'GET', objectPath(BUCKET), { marker: 'a\u0000' }, {}],
      ['ListMultipartUploads key-marker', 'GET', objectPath(BUCKET), { uploads: '', 'key-marker': 'a\u0000' }, {}],
      [
        'ListMultipartUploads upload-id-marker',
        'GET',
        objectPath(BUCKET),
        { uploads: '', 'key-marker': 'a', 'upload-id-marker': '\u0000' },
        {},
      ],
      ['ListParts upload id', 'GET', objectPath(BUCKET, 'k'), { uploadId: 'u\u0000' }, {}],
      ['AbortMultipartUpload upload id', 'DELETE', objectPath(BUCKET, 'k'), { uploadId: 'u\u0000' }, {}],
      ['UploadPart upload id', 'PUT', objectPath(BUCKET, 'k'), { partNumber: '1', uploadId: 'u\u0000' }, { 'content-length': '0' }],
      ['CopyObject source', 'PUT', objectPath(BUCKET, 'copy'), {}, { 'x-amz-copy-source': `${BUCKET}/a%00b`, 'content-length': '0' }],
    ];
    for (const [name, method, path, query, headers] of requests) {
      it(`${name}: 400`, async () => {
        const s = await sign(t, method, path, { query, headers });
        const res = await send(t, method, s.pathAndQuery, s.headers);
        expect(res.status, res.code).toBe(400);
        if (method !== 'HEAD') expect(res.code).not.toBe('InternalError');
        await stillServing(name);
      });
    }

    it('the SDK sees the same 400 for a NUL key on every operation', async () => {
      expect(await s3Status(t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a\u0000b', Body: 'x' })))).toBe(400);
      expect(await s3Status(t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a\u0000b' })))).toBe(400);
      expect(await s3Status(t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: '\u0000' })))).toBe(400);
      await stillServing('SDK NUL key');
    });
  });

  describe('finding 7: parser failures are S3 errors, never 500', () => {
    const deep = (root: string, inner: string) => `<${root}>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}${inner}</${root}>`;
    const ops: Array<[string, string, string, Record<string, string>, string]> = [
      ['DeleteObjects', 'POST', objectPath(BUCKET), { delete: '' }, deep('Delete', '<Object><Key>ab</Key></Object>')],
      ['PutObjectTagging', 'PUT', objectPath(BUCKET, 'existing'), { tagging: '' }, deep('Tagging', '<TagSet></TagSet>')],
      ['PutBucketTagging', 'PUT', objectPath(BUCKET), { tagging: '' }, deep('Tagging', '<TagSet></TagSet>')],
      ['PutBucketCors', 'PUT', objectPath(BUCKET), { cors: '' }, deep('CORSConfiguration', '')],
      ['PutObjectAcl', 'PUT', objectPath(BUCKET, 'existing'), { acl: '' }, deep('AccessControlPolicy', '')],
      ['PutBucketAcl', 'PUT', objectPath(BUCKET), { acl: '' }, deep('AccessControlPolicy', '')],
      ['CreateBucket', 'PUT', objectPath('deep-config'), {}, deep('CreateBucketConfiguration', '')],
      ['CompleteMultipartUpload', 'POST', objectPath(BUCKET, 'k'), { uploadId: 'none' }, deep('CompleteMultipartUpload', '')],
    ];
    for (const [name, method, path, query, xml] of ops) {
      it(`${name} with XML nested 100 000 deep: 400 MalformedXML`, async () => {
        const body = Buffer.from(xml);
        const s = await sign(t, method, path, {
          query,
          headers: { 'content-md5': md5Base64(body), 'content-length': String(body.length) },
        });
        const res = await send(t, method, s.pathAndQuery, s.headers, body);
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'MalformedXML' });
        await stillServing(name);
      });
    }

    for (const [name, root] of [
      ['a DTD entity bomb', 'Delete'],
      ['an external entity', 'Delete'],
      ['an element named __proto__', 'Tagging'],
    ] as const) {
      it(`${name}: 400, never 500`, async () => {
        const doc =
          name === 'a DTD entity bomb'
            ? `<!DOCTYPE Delete [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Delete><Object><Key>&c;</Key></Object></Delete>`
            : name === 'an external entity'
              ? `<!DOCTYPE Delete [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>`
              : `<Tagging><__proto__><x>1</x></__proto__><TagSet></TagSet></Tagging>`;
        const body = Buffer.from(doc);
        const path = root === 'Delete' ? objectPath(BUCKET) : objectPath(BUCKET, 'existing');
        const query: Record<string, string> = root === 'Delete' ? { delete: '' } : { tagging: '' };
        const method = root === 'Delete' ? 'POST' : 'PUT';
        const s = await sign(t, method, path, {
          query,
          headers: { 'content-md5': md5Base64(body), 'content-length': String(body.length) },
        });
        const res = await send(t, method, s.pathAndQuery, s.headers, body);
        expect(res.status, res.code).toBeGreaterThanOrEqual(400);
        expect(res.status, res.code).toBeLessThan(500);
        await stillServing(name);
      });
    }

    it('POST Object with multipart/form-data and no boundary: 400', async () => {
      const res = await send(t, 'POST', objectPath(BUCKET), { 'content-type': 'multipart/form-data', 'content-length': '5' }, 'hello');
      expect(res.status, res.code).toBe(400);
      await stillServing('no boundary');
    });

    it('POST Object with a boundary the body never uses, or a body cut short: 400', async () => {
      for (const body of [
        'no parts at all',
        '--xyz\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--xyz\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\npartial',
      ]) {
        const res = await send(
          t,
          'POST',
          objectPath(BUCKET),
          { 'content-type': 'multipart/form-data; boundary=xyz', 'content-length': String(body.length) },
          body,
        );
        expect(res.status, `${res.code} for ${JSON.stringify(body.slice(0, 30))}`).toBeGreaterThanOrEqual(400);
        expect(res.status, res.code).toBeLessThan(500);
      }
      await stillServing('bad form');
    });
  });

  describe('found by the fuzz suites', () => {
    async function xmlRequest(method: string, path: string, query: Record<string, string>, xml: string): Promise<WireResponse> {
      const body = Buffer.from(xml, 'utf8');
      const s = await sign(t, method, path, { query, headers: { 'content-md5': md5Base64(body), 'content-length': String(body.length) } });
      return send(t, method, s.pathAndQuery, s.headers, body);
    }

    for (const ref of ['&foo;', '&#;', '&#x;', '&#xZZ;', '&']) {
      it(`an undefined or malformed reference (${ref}) is MalformedXML, never the key spelled literally`, async () => {
        await sentinels.put(`a${ref}b`);
        const res = await xmlRequest('POST', objectPath(BUCKET), { delete: '' }, `<Delete><Object><Key>a${ref}b</Key></Object></Delete>`);
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'MalformedXML' });
        await stillServing(ref);
      });
    }

    for (const value of ['v<?pi x?>', '<x>v</x>', 'v<x/>']) {
      it(`a tag value that is not text (${value}) is refused, not stored as an empty value`, async () => {
        const res = await xmlRequest(
          'PUT',
          objectPath(BUCKET, 'existing'),
          { tagging: '' },
          `<Tagging><TagSet><Tag><Key>k</Key><Value>${value}</Value></Tag></TagSet></Tagging>`,
        );
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'MalformedXML' });
        const get = await sign(t, 'GET', objectPath(BUCKET, 'existing'), { query: { tagging: '' } });
        expect(textsIn((await send(t, 'GET', get.pathAndQuery, get.headers)).text, 'Tag', 'Key')).toEqual([]);
        await stillServing(value);
      });
    }

    it('ListObjects with a delimiter keeps every common prefix across pages (PostgreSQL dropped them)', async () => {
      const keys = [
        'a',
        'a/b',
        'a/b/c',
        'a/c',
        'a-b',
        'ab',
        'a b',
        'a+b',
        'a%b',
        'A',
        'b',
        'b/',
        'b//c',
        'é',
        'é/x',
        'e\u0301',
        'z',
        'zz/zz/zz',
        'zz/zy',
        '😀',
        '😀/a',
        '\u0001x',
        'x\ry',
        '\uFFFD',
        '\u007F',
        'ｚ',
      ];
      const bucket = 'paged-prefixes';
      await t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
      for (const key of keys) await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      for (const version of ['1', '2']) {
        const seen: string[] = [];
        let marker: string | undefined;
        for (let page = 0; page < 20; page++) {
          const query: Record<string, string> = { delimiter: 'a', 'max-keys': '5', 'encoding-type': 'url' };
          if (version === '2') {
            query['list-type'] = '2';
            if (marker) query['continuation-token'] = marker;
          } else if (marker) query.marker = marker;
          const s = await sign(t, 'GET', objectPath(bucket), { query });
          const res = await send(t, 'GET', s.pathAndQuery, s.headers);
          expect(res.status).toBe(200);
          seen.push(
            ...textsIn(res.text, 'Contents', 'Key').map(decodeURIComponent),
            ...textsIn(res.text, 'CommonPrefixes', 'Prefix').map((p) => `${decodeURIComponent(p)}*`),
          );
          if (!res.text.includes('<IsTruncated>true</IsTruncated>')) break;
          marker = decodeURIComponent(/<(?:NextMarker|NextContinuationToken)>([^<]*)</.exec(res.text)![1]);
        }
        const expected = [...keys.filter((k) => !k.includes('a')), 'a*', '😀/a*'];
        expect(seen.sort(), `ListObjects v${version}`).toEqual(expected.sort());
      }
    });
  });

  async function s3Status(p: Promise<unknown>): Promise<number> {
    try {
      await p;
      return 200;
    } catch (err) {
      if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode ?? -1;
      throw err;
    }
  }
});
