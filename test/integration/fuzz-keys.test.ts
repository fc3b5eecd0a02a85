/**
 * Property-based fuzzing of object keys and query strings, on both engines:
 * arbitrary Unicode keys (control characters, NUL, astral planes, keys at and
 * past the 1024-byte limit) round-trip exactly or are refused with a 400
 * before any query (issue 12, finding 4: NUL answered 500 on PostgreSQL);
 * raw paths with invalid percent-encoding are refused; listings with random
 * prefix, delimiter, start-after and page size agree with a model of S3's
 * semantics; and random values in every listing, upload-id and copy-source
 * parameter answer a 4xx, never a 5xx.
 */
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { expect, it } from 'vitest';

import { describeEachEngine, type TestAnvil } from '../support/anvil.js';
import { expectClientError, fuzzParams, fuzzSuite, restoring, Sentinels } from '../support/fuzz.js';
import { awsEncode, objectPath, send, sign, type WireResponse } from '../support/wire.js';
import { textsIn } from '../support/xml-fuzz.js';

const BUCKET = 'fuzz-keys';
const LIST_BUCKET = 'fuzz-list';
const MAX_KEY_BYTES = 1024;

/** Keys the listing model runs against: shared prefixes, '/' runs, NFC vs NFD, controls, astral characters. */
const LIST_KEYS = [
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

const utf8Compare = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** S3's listing, computed: keys after start-after under the prefix, rolled up at the first delimiter. */
function modelList(
  keys: string[],
  prefix: string,
  delimiter: string,
  startAfter: string,
): { contents: string[]; prefixes: string[]; order: string[] } {
  const sorted = [...keys].sort(utf8Compare).filter((k) => k.startsWith(prefix) && utf8Compare(k, startAfter) > 0);
  const contents: string[] = [];
  const prefixes: string[] = [];
  const order: string[] = [];
  for (const k of sorted) {
    const rest = k.slice(prefix.length);
    const at = delimiter ? rest.indexOf(delimiter) : -1;
    if (at >= 0) {
      const p = prefix + rest.slice(0, at + delimiter.length);
      // A start-after at or past a common prefix means "after everything under it" (how a page that
      // ended on that prefix resumes), as in S3.
      if (utf8Compare(p, startAfter) <= 0) continue;
      if (!prefixes.includes(p)) {
        prefixes.push(p);
        order.push(`P:${p}`);
      }
    } else {
      contents.push(k);
      order.push(`K:${k}`);
    }
  }
  return { contents, prefixes, order };
}

const odd = [
  'a',
  '/',
  '.',
  ' ',
  '%',
  '+',
  '?',
  '#',
  '&',
  '=',
  '\\',
  '\u0000',
  '\r',
  '\n',
  '\t',
  'é',
  '😀',
  '\uFFFF',
  '\uFFFE',
  '\u007F',
  '~',
  '*',
];
const keyArb = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }) },
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...odd), minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_KEY_BYTES - 4, max: MAX_KEY_BYTES + 4 }).map((n) => 'k'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 254, max: 258 }).map((n) => '😀'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom('.', '..', './a', 'a/../b', '//', '/a', 'a//', '%00', '%2F', '\u0000', 'a\u0000b') },
);

const paramText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom(...odd), maxLength: 12 }),
  fc.constantFrom(
    '',
    '0',
    '-1',
    '1',
    '1000',
    '1001',
    '2147483648',
    '99999999999999999999',
    '1e3',
    '0x10',
    ' 1',
    'null',
    'true',
    'url',
    'URL',
  ),
  fc.integer({ min: 1000, max: 6000 }).map((n) => 'q'.repeat(n)),
  fc.base64String({ maxLength: 40 }),
  fc.constantFrom(
    Buffer.from('1:a\u0000b').toString('base64url'),
    Buffer.from('1:\uFFFD').toString('base64url'),
    Buffer.from([0x31, 0x3a, 0xff, 0xfe]).toString('base64url'),
    Buffer.from('1:' + 'x'.repeat(3000)).toString('base64url'),
  ),
);

/** Raw query garbage that no encoder produces (appended unsigned: the parser sees it before the signature check). */
const rawGarbage = fc.constantFrom('%', '%zz', '%C3%28', '%ED%A0%80', '%C0%AF', '%00', '%F4%90%80%80', '&&', '=&=', 'a=%', 'prefix=%E2%82');

describeEachEngine('fuzz: keys and query strings', (engine) => {
  let t: TestAnvil;
  let sentinels: Sentinels;
  const watch = fuzzSuite(engine, {
    bucket: BUCKET,
    ready: (suite) => ({ t, sentinels } = suite),
    seed: async () => {
      await t.s3.send(new CreateBucketCommand({ Bucket: LIST_BUCKET }));
      await sentinels.put('sentinel', 'unchanged');
      await sentinels.put('a');
      await sentinels.put('ab');
      for (const key of LIST_KEYS) await t.s3.send(new PutObjectCommand({ Bucket: LIST_BUCKET, Key: key, Body: key }));
    },
  });

  async function raw(
    method: string,
    path: string,
    query: Record<string, string> = {},
    opts: { headers?: Record<string, string>; garbage?: string; body?: Buffer } = {},
  ): Promise<WireResponse> {
    const s = await sign(t, method, path, { query, headers: opts.headers });
    const pq = opts.garbage ? `${s.pathAndQuery}${s.pathAndQuery.includes('?') ? '&' : '?'}${opts.garbage}` : s.pathAndQuery;
    return send(t, method, pq, s.headers, opts.body);
  }

  async function sdkStatus(p: Promise<unknown>): Promise<number> {
    try {
      await p;
      return 200;
    } catch (err) {
      if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode ?? -1;
      throw err;
    }
  }

  it('a key round-trips exactly (put, get, head, list, delete), or is refused with a 400 everywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        keyArb,
        restoring(
          async (key) => {
            fc.pre(!sentinels.has(key));
            const bytes = Buffer.byteLength(key, 'utf8');
            const refusable = key.includes('\u0000') || bytes > MAX_KEY_BYTES;
            const what = `key ${JSON.stringify(key.slice(0, 60))} (${bytes} bytes)`;
            const put = await sdkStatus(t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `body of ${key}` })));
            await watch.assertNone(what);
            if (refusable) {
              expect(put, `put ${what}`).toBe(400);
              for (const status of [
                await sdkStatus(t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))),
                await sdkStatus(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))),
                await sdkStatus(t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }))),
              ]) {
                expect([400, 404], what).toContain(status);
              }
              const list = await raw('GET', objectPath(BUCKET), { 'list-type': '2', prefix: key, 'encoding-type': 'url' });
              expectClientError(list.status, [200], `list prefix ${what}`);
              if (list.status === 200) expect(textsIn(list.text, 'Contents', 'Key'), what).toEqual([]);
              return;
            }
            expect(put, `put ${what}`).toBe(200);
            const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
            expect(await got.Body!.transformToString(), what).toBe(`body of ${key}`);
            const list = await raw('GET', objectPath(BUCKET), { 'list-type': '2', prefix: key, 'encoding-type': 'url' });
            expect(list.status, what).toBe(200);
            const listed = textsIn(list.text, 'Contents', 'Key').map(decodeURIComponent);
            expect(listed[0], `first listed under its own prefix: ${what}`).toBe(key);
            expect(await sdkStatus(t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }))), what).toBe(200);
            expect(await sdkStatus(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))), what).toBe(404);
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(40),
    );
    await sentinels.assertIntact();
  });

  it('a raw path with invalid percent-encoding is refused with a 400, whatever the operation', async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        '%',
        '%z',
        '%zz',
        '%C3%28',
        '%ED%A0%80',
        '%ED%BF%BF',
        '%C0%AF',
        '%E0%80%AF',
        '%F4%90%80%80',
        '%FF',
        '%80',
        '%E2%82',
        '%00',
        'a%00b',
        '%%41',
      ),
      fc.constantFrom('%2500', '%41', '%2F', '%E2%82%AC'),
    );
    const arb = fc.record({
      method: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'),
      before: fc.constantFrom('', 'a', 'dir/'),
      seg: segment,
      after: fc.constantFrom('', 'b', '/c'),
    });
    await fc.assert(
      fc.asyncProperty(
        arb,
        restoring(
          async ({ method, before, seg, after }) => {
            const rawKey = `${before}${seg}${after}`;
            const path = `/${BUCKET}/${rawKey}`;
            let decoded: string | undefined;
            try {
              decoded = decodeURIComponent(rawKey);
            } catch {
              decoded = undefined;
            }
            const body = method === 'PUT' ? Buffer.from('raw') : undefined;
            // Signed over the canonical form of the path (each segment decoded once, encoded once), sent raw.
            const canonical = path
              .split('/')
              .map((seg) => {
                try {
                  return awsEncode(decodeURIComponent(seg));
                } catch {
                  return seg;
                }
              })
              .join('/');
            const signed = await sign(t, method, canonical, { headers: body ? { 'content-length': '3' } : {} });
            const res = await send(t, method, path, signed.headers, body);
            const what = `${method} ${path} → ${res.status} ${res.code ?? ''}`;
            await watch.assertNone(what);
            if (decoded === undefined || decoded.includes('\u0000')) {
              expect(res.status, what).toBe(400);
            } else {
              expectClientError(res.status, [200, 204], what);
              if (method === 'PUT') {
                expect(res.status, what).toBe(200);
                const got = await sdkStatus(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: decoded })));
                expect(got, `${what}: stored under another key than ${JSON.stringify(decoded)}`).toBe(200);
                await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: decoded }));
              }
            }
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(30),
    );
    await sentinels.assertIntact();
  });

  for (const version of ['2', '1'] as const) {
    it(`ListObjects${version === '2' ? 'V2' : ''} pages agree with S3's semantics for any prefix, delimiter, start and page size`, async () => {
      const fromKeys = fc.constantFrom(...LIST_KEYS).chain((k) => fc.nat({ max: [...k].length }).map((n) => [...k].slice(0, n).join('')));
      const small = fc.string({ unit: fc.constantFrom('a', 'b', '/', 'é', 'z', '😀', 'e', '\u0301', '-'), maxLength: 3 });
      const arb = fc.record({
        prefix: fc.oneof(fromKeys, small, fc.constant('')),
        delimiter: fc.oneof(fc.constantFrom('', '', '/', '//', 'b', 'b/', 'é', '😀', '\u0301', 'z'), small),
        startAfter: fc.oneof(fc.constant(''), fc.constantFrom(...LIST_KEYS), small),
        maxKeys: fc.oneof(fc.constantFrom(1, 2, 3, 1000), fc.integer({ min: 1, max: 7 })),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ prefix, delimiter, startAfter, maxKeys }) => {
          const model = modelList(LIST_KEYS, prefix, delimiter, startAfter);
          const order: string[] = [];
          let marker: string | undefined;
          let token: string | undefined;
          const what = `prefix=${JSON.stringify(prefix)} delimiter=${JSON.stringify(delimiter)} start=${JSON.stringify(startAfter)} max-keys=${maxKeys}`;
          for (let page = 0; page < 60; page++) {
            const query: Record<string, string> = { prefix, 'max-keys': String(maxKeys), 'encoding-type': 'url' };
            if (delimiter) query.delimiter = delimiter;
            if (version === '2') {
              query['list-type'] = '2';
              if (token) query['continuation-token'] = token;
              else if (startAfter) query['start-after'] = startAfter;
            } else if (marker ?? startAfter) {
              query.marker = marker ?? startAfter;
            }
            const res = await raw('GET', objectPath(LIST_BUCKET), query);
            expect(res.status, `${what} page ${page}: ${res.code}`).toBe(200);
            const body = res.text;
            // A page lists its Contents, then its CommonPrefixes: merge them in key order.
            const pageItems = [
              ...textsIn(body, 'Contents', 'Key').map((k) => `K:${decodeURIComponent(k)}`),
              ...textsIn(body, 'CommonPrefixes', 'Prefix').map((p) => `P:${decodeURIComponent(p)}`),
            ].sort((a, b) => utf8Compare(a.slice(2), b.slice(2)));
            expect(pageItems.length, `${what}: page ${page} longer than max-keys`).toBeLessThanOrEqual(maxKeys);
            order.push(...pageItems);
            const truncated = /<IsTruncated>true<\/IsTruncated>/.test(body);
            if (!truncated) break;
            if (version === '2') {
              token = /<NextContinuationToken>([^<]*)</.exec(body)?.[1];
              expect(token, `${what}: truncated page without a token`).toBeTruthy();
            } else {
              const next = /<NextMarker>([^<]*)</.exec(body)?.[1];
              const last = pageItems[pageItems.length - 1]?.slice(2);
              marker = next !== undefined ? decodeURIComponent(next) : last;
              expect(marker, `${what}: truncated page without a marker`).toBeTruthy();
            }
          }
          // Sort the model's groups by S3 order: contents and prefixes interleaved by UTF-8 byte order.
          const expected = [...model.order].sort((a, b) => utf8Compare(a.slice(2), b.slice(2)));
          expect(order, what).toEqual(expected);
        }),
        fuzzParams(version === '2' ? 25 : 15),
      );
    });
  }

  it('random values in listing, upload-id and part parameters answer a 4xx, never a 5xx', async () => {
    const created = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'open-upload' }));
    const ops: Array<{ method: string; path: string; base: Record<string, string>; params: string[]; body?: Buffer }> = [
      {
        method: 'GET',
        path: objectPath(LIST_BUCKET),
        base: { 'list-type': '2' },
        params: ['prefix', 'delimiter', 'start-after', 'continuation-token', 'max-keys', 'encoding-type', 'fetch-owner'],
      },
      { method: 'GET', path: objectPath(LIST_BUCKET), base: {}, params: ['prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type'] },
      {
        method: 'GET',
        path: objectPath(BUCKET),
        base: { uploads: '' },
        params: ['prefix', 'delimiter', 'key-marker', 'upload-id-marker', 'max-uploads', 'encoding-type'],
      },
      {
        method: 'GET',
        path: objectPath(BUCKET),
        base: { versions: '' },
        params: ['prefix', 'delimiter', 'key-marker', 'version-id-marker', 'max-keys', 'encoding-type'],
      },
      {
        method: 'GET',
        path: objectPath(BUCKET, 'open-upload'),
        base: { uploadId: created.UploadId! },
        params: ['max-parts', 'part-number-marker'],
      },
      { method: 'GET', path: objectPath(BUCKET, 'open-upload'), base: {}, params: ['uploadId'] },
      { method: 'DELETE', path: objectPath(BUCKET, 'open-upload'), base: {}, params: ['uploadId'] },
      {
        method: 'PUT',
        path: objectPath(BUCKET, 'open-upload'),
        base: { partNumber: '1' },
        params: ['uploadId'],
        body: Buffer.from('part'),
      },
      {
        method: 'PUT',
        path: objectPath(BUCKET, 'open-upload'),
        base: { uploadId: created.UploadId! },
        params: ['partNumber'],
        body: Buffer.from('part'),
      },
      {
        method: 'POST',
        path: objectPath(BUCKET, 'open-upload'),
        base: {},
        params: ['uploadId'],
        body: Buffer.from('<CompleteMultipartUpload></CompleteMultipartUpload>'),
      },
      {
        method: 'GET',
        path: objectPath(BUCKET, 'sentinel'),
        base: {},
        params: [
          'partNumber',
          'versionId',
          'response-content-type',
          'response-content-disposition',
          'response-expires',
          'response-cache-control',
        ],
      },
      { method: 'HEAD', path: objectPath(BUCKET, 'sentinel'), base: {}, params: ['partNumber', 'versionId'] },
      { method: 'GET', path: objectPath(BUCKET, 'sentinel'), base: { attributes: '' }, params: ['versionId'] },
    ];
    const arb = fc.record({
      op: fc.nat({ max: ops.length - 1 }),
      values: fc.array(fc.tuple(fc.nat({ max: 9 }), paramText), { minLength: 1, maxLength: 3 }),
      garbage: fc.option(rawGarbage, { nil: undefined, freq: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(
        arb,
        restoring(
          async ({ op: i, values, garbage }) => {
            const op = ops[i];
            const query = { ...op.base };
            for (const [p, v] of values) query[op.params[p % op.params.length]] = v;
            const headers: Record<string, string> = op.body ? { 'content-length': String(op.body.length) } : {};
            const res = await raw(op.method, op.path, query, { headers, garbage, body: op.body });
            const what = `${op.method} ${op.path} ${JSON.stringify(query).slice(0, 300)}${garbage ? ` + ${garbage}` : ''} → ${res.status} ${res.code ?? ''}`;
            await watch.assertNone(what);
            expectClientError(res.status, [200, 204, 206], what);
            const head = await sdkStatus(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'sentinel' })));
            expect(head, `still serving after ${what}`).toBe(200);
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(50),
    );
    await sentinels.assertIntact((k) => k === 'open-upload');
  });

  it('a random x-amz-copy-source copies exactly the object it names, or answers a 4xx', async () => {
    const source = fc.oneof(
      fc.constantFrom(
        `${BUCKET}/sentinel`,
        `/${BUCKET}/sentinel`,
        `${BUCKET}/sentinel?versionId=null`,
        `${BUCKET}/sentinel?versionId=x`,
        `${BUCKET}/%73entinel`,
      ),
      fc.constantFrom(
        `${BUCKET}/a%00b`,
        `${BUCKET}/%`,
        `${BUCKET}/%C3%28`,
        `${BUCKET}/%ED%A0%80`,
        `${BUCKET}`,
        `${BUCKET}/`,
        '/',
        '',
        `nobucket/sentinel`,
        `${BUCKET}/no-such-key`,
        `${BUCKET}//sentinel`,
        `..%2F${BUCKET}/sentinel`,
      ),
      fc.string({ unit: fc.constantFrom('a', '/', '%', '0', 'F', '?', '=', 'é', 's'), maxLength: 20 }).map((s) => `${BUCKET}/${s}`),
      fc.integer({ min: 1000, max: 5000 }).map((n) => `${BUCKET}/${'k'.repeat(n)}`),
    );
    await fc.assert(
      fc.asyncProperty(
        source,
        restoring(
          async (src) => {
            const dest = 'copy-dest';
            let header: string;
            try {
              header = /[^\x20-\x7e]/.test(src) ? encodeURI(src) : src;
            } catch {
              return;
            }
            const res = await raw('PUT', objectPath(BUCKET, dest), {}, { headers: { 'x-amz-copy-source': header } });
            const what = `x-amz-copy-source: ${header.slice(0, 120)} → ${res.status} ${res.code ?? ''}`;
            await watch.assertNone(what);
            expectClientError(res.status, [200], what);
            let namedKey: string | undefined;
            try {
              const path = decodeURIComponent(header.split('?')[0].replace(/^\//, ''));
              namedKey = path.startsWith(`${BUCKET}/`) ? path.slice(BUCKET.length + 1) : undefined;
            } catch {
              namedKey = undefined;
            }
            const copied = await sdkStatus(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: dest })));
            if (res.status === 200) {
              const source = namedKey === undefined ? undefined : sentinels.body(namedKey);
              expect(source !== undefined && !/versionId=(?!null)/.test(header), `copied something it should not: ${what}`).toBe(true);
              const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: dest }));
              expect(
                Buffer.from(await got.Body!.transformToByteArray()).equals(source!),
                `copied other bytes than the source's: ${what}`,
              ).toBe(true);
              await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: dest }));
            } else {
              expect(copied, `destination written by a refused copy: ${what}`).toBe(404);
            }
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(25),
    );
    await sentinels.assertIntact();
  });
});
