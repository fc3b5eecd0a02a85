/**
 * Property-based fuzzing of every operation that takes an XML body
 * (DeleteObjects, Put{Object,Bucket}Tagging, PutBucketCors, Put{Bucket,Object}Acl,
 * CreateBucket's configuration, CompleteMultipartUpload), on both engines.
 *
 * Documents are generated with their oracle (test/support/xml-fuzz.ts): text
 * that cannot be a name (NUL, surrogates, undefined entities, invalid UTF-8…)
 * must be refused and never read as another name; structurally damaged
 * documents (truncated, deeply nested, entity bombs…) must be refused with a
 * 4xx. For every run: never a 5xx for bad input (501 only where Anvil lacks the
 * feature), no process-level error, the server keeps serving, and nothing
 * changes that the request did not legitimately change.
 */
import { createHash } from 'node:crypto';

import {
  CreateMultipartUploadCommand,
  HeadBucketCommand,
  PutObjectCommand,
  type S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, type TestAnvil } from '../support/anvil.js';
import { expectClientError, fuzzParams, fuzzSuite, restoring, Sentinels } from '../support/fuzz.js';
import { objectPath, send, sign, type WireResponse } from '../support/wire.js';
import {
  type Damage,
  damage,
  damageArb,
  el,
  envelopeArb,
  likelyMisreadings,
  mayBeAccepted,
  render,
  spliced,
  type Text,
  text,
  textArb,
  textsIn,
  type XmlTree,
} from '../support/xml-fuzz.js';

const BUCKET = 'fuzz-xml';
const TARGET = 'target-object';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const SENTINEL_TAGS = [['keep', 'me']] as const;
const SENTINEL_CORS =
  '<CORSConfiguration><CORSRule><AllowedOrigin>https://sentinel.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>';

/** Deeper than any S3 document: such a document must be refused (issue 12, finding 7). */
const MUST_REFUSE_DEPTH = 5_000;

const md5Base64 = (b: Buffer) => createHash('md5').update(b).digest('base64');
const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Whether the document, damaged as it is, must still be read (not merely may). */
function mustBeRead(d: Damage, env: { bom: boolean }, texts: Text[]): boolean {
  return d.kind === 'none' && !env.bom && texts.every((x) => x.validity === 'strict');
}

/** Whether a reader may take the damaged document at all (as meaning what its undamaged form says). */
function docMayBeRead(d: Damage): boolean {
  return mayBeAccepted(d) && !(d.kind === 'deep' && d.depth >= MUST_REFUSE_DEPTH);
}

/** Whether a reader may take the document with these texts (as meaning exactly what they say). */
function mayBeRead(d: Damage, texts: Text[]): boolean {
  return docMayBeRead(d) && texts.every((x) => x.validity !== 'invalid');
}

/** XML Schema's whitespace collapse, for numbers and tokens: a reader may ignore it. */
const collapse = (s: string) => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');

function describeCase(body: Buffer, texts: Text[], d: Damage): string {
  return `damage=${JSON.stringify(d).slice(0, 80)} texts=${JSON.stringify(texts.map((x) => `${x.label} (${x.validity})`))} body=${JSON.stringify(body.subarray(0, 300).toString('latin1'))}`;
}

describeEachEngine('fuzz: XML request bodies', (engine) => {
  let t: TestAnvil;
  let sentinels: Sentinels;
  let ownerId: string;
  const watch = fuzzSuite(engine, {
    bucket: BUCKET,
    ready: (suite) => ({ t, sentinels } = suite),
    seed: async () => {
      const plain = ['a', 'b', 'aa', 'ab', 'ba', 'bb', 'aab', 'abb', 'A', 'aAb'];
      for (const key of new Set([...plain, ...likelyMisreadings(), TARGET])) await sentinels.put(key);
      const acl = await xml('GET', objectPath(BUCKET), { acl: '' });
      ownerId = textsIn(acl.text, 'Owner', 'ID')[0];
      expect(ownerId).toBeTruthy();
      await restoreTags();
      expect((await xml('PUT', objectPath(BUCKET), { cors: '' }, Buffer.from(SENTINEL_CORS))).status).toBe(200);
    },
  });

  /** A request signed over its body's SHA-256, with Content-MD5 (DeleteObjects requires an integrity header). */
  async function xml(method: string, path: string, query: Record<string, string>, body?: Buffer): Promise<WireResponse> {
    const headers: Record<string, string> = {};
    if (body !== undefined) {
      headers['content-md5'] = md5Base64(body);
      headers['content-length'] = String(body.length);
    }
    const signed = await sign(t, method, path, { query, headers, payloadHash: sha256Hex(body ?? Buffer.alloc(0)) });
    return send(t, method, signed.pathAndQuery, signed.headers, body);
  }

  const restoreCors = async () => xml('PUT', objectPath(BUCKET), { cors: '' }, Buffer.from(SENTINEL_CORS));
  const dropPolicy = async () => {
    const del = await sign(t, 'DELETE', objectPath(BUCKET), { query: { policy: '' } });
    await send(t, 'DELETE', del.pathAndQuery, del.headers);
  };

  async function tagsOf(target: 'object' | 'bucket'): Promise<Array<[string, string]>> {
    const res = await xml('GET', objectPath(BUCKET, target === 'object' ? TARGET : undefined), { tagging: '' });
    expect(res.status).toBe(200);
    const keys = textsIn(res.text, 'Tag', 'Key');
    const values = textsIn(res.text, 'Tag', 'Value');
    return keys.map((k, i) => [k, values[i]] as [string, string]).sort();
  }

  async function restoreTags(): Promise<void> {
    const doc = Buffer.from(
      `<Tagging><TagSet>${SENTINEL_TAGS.map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`).join('')}</TagSet></Tagging>`,
    );
    expect((await xml('PUT', objectPath(BUCKET, TARGET), { tagging: '' }, doc)).status).toBe(200);
    expect((await xml('PUT', objectPath(BUCKET), { tagging: '' }, doc)).status).toBe(204);
  }

  it('DeleteObjects: deletes exactly the keys the document names, never a key it cannot name', async () => {
    const arb = fc.record({
      keys: fc.array(textArb, { minLength: 1, maxLength: 4 }),
      quiet: fc.boolean(),
      env: envelopeArb,
      damage: damageArb,
    });
    await fc.assert(
      fc.asyncProperty(
        arb,
        restoring(
          async ({ keys, quiet, env, damage: d }) => {
            const tree = el('Delete', ...(quiet ? [el('Quiet', text('true'))] : []), ...keys.map((k) => el('Object', el('Key', k))));
            const body = damage(render(tree, env), 'Delete', d, 2 << 20);
            const what = describeCase(body, keys, d);
            const res = await xml('POST', objectPath(BUCKET), { delete: '' }, body);
            expectClientError(res.status, [200], what);
            await watch.assertNone(what);

            // An entry that cannot name a key may fail on its own; the others may still be deleted.
            const nameable = docMayBeRead(d) ? keys.filter((k) => k.validity !== 'invalid').map((k) => k.value) : [];
            const allowed = new Set(res.status === 200 ? nameable : []);
            if (res.status === 200) {
              expect(docMayBeRead(d), `accepted a document it must refuse: ${what}`).toBe(true);
              const reported = textsIn(res.text, 'Deleted', 'Key');
              expect(
                reported.filter((k) => !allowed.has(k)),
                `reported deleted but not named: ${what}`,
              ).toEqual([]);
              if (!quiet && mustBeRead(d, env, keys)) expect(new Set(reported), what).toEqual(new Set(keys.map((k) => k.value)));
            } else {
              expect(mustBeRead(d, env, keys), `refused a well-formed document (${res.status} ${res.code}): ${what}`).toBe(false);
              if (d.kind === 'deep' && d.depth >= MUST_REFUSE_DEPTH) expect(res.code, what).toBe('MalformedXML');
            }
            const listed = await sentinels.listed();
            const gone = sentinels.keys().filter((k) => !listed.has(k));
            await sentinels.restore(gone);
            expect(
              gone.filter((k) => !allowed.has(k)),
              `sentinels deleted though not named: ${what}`,
            ).toEqual([]);
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(50),
    );
    await sentinels.assertIntact();
  });

  for (const target of ['object', 'bucket'] as const) {
    it(`Put${target === 'object' ? 'Object' : 'Bucket'}Tagging: stores exactly the tags the document says, or refuses and keeps the old ones`, async () => {
      const max = target === 'object' ? 10 : 50;
      const arb = fc.record({
        tags: fc.array(fc.tuple(textArb, textArb), { minLength: 0, maxLength: 4 }),
        env: envelopeArb,
        damage: damageArb,
      });
      const path = objectPath(BUCKET, target === 'object' ? TARGET : undefined);
      await fc.assert(
        fc.asyncProperty(
          arb,
          restoring(async ({ tags, env, damage: d }) => {
            const tree = el('Tagging', el('TagSet', ...tags.map(([k, v]) => el('Tag', el('Key', k), el('Value', v)))));
            const body = damage(render(tree, env), 'Tagging', d, 1 << 20);
            const texts = tags.flat();
            const what = describeCase(body, texts, d);
            const res = await xml('PUT', path, { tagging: '' }, body);
            expectClientError(res.status, [200, 204], what);
            await watch.assertNone(what);

            const decoded = tags.map(([k, v]) => [k.value, v.value] as [string, string]).sort();
            const keys = decoded.map(([k]) => k);
            const obeysLimits =
              new Set(keys).size === keys.length &&
              tags.length <= max &&
              keys.every((k) => k.length >= 1 && k.length <= 128 && !k.toLowerCase().startsWith('aws:'));
            if (res.status < 300) {
              expect(mayBeRead(d, texts), `accepted a document it must refuse: ${what}`).toBe(true);
              expect(await tagsOf(target), what).toEqual(decoded);
              await restoreTags();
            } else {
              expect(mustBeRead(d, env, texts) && obeysLimits, `refused valid tags (${res.status} ${res.code}): ${what}`).toBe(false);
              expect(await tagsOf(target), what).toEqual([...SENTINEL_TAGS].map(([k, v]) => [k, v]));
            }
          }, restoreTags),
        ),
        fuzzParams(30),
      );
    });
  }

  it('PutBucketCors: a stored configuration never breaks later requests; a refused one changes nothing', async () => {
    const method = fc.oneof(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'get').map(text), textArb);
    const origin = fc.oneof(fc.constantFrom('*', 'https://*.example', 'https://a.example', '**').map(text), textArb);
    const rule = fc.record({
      origins: fc.array(origin, { minLength: 0, maxLength: 2 }),
      methods: fc.array(method, { minLength: 0, maxLength: 2 }),
      headers: fc.array(fc.oneof(fc.constant(text('*')), textArb), { maxLength: 2 }),
      expose: fc.array(fc.oneof(fc.constant(text('ETag')), textArb), { maxLength: 2 }),
      maxAge: fc.option(fc.oneof(fc.constantFrom('0', '3000', '-1', '1e3', '99999999999999999999', 'x').map(text), textArb), {
        nil: undefined,
      }),
      id: fc.option(textArb, { nil: undefined }),
    });
    const arb = fc.record({ rules: fc.array(rule, { minLength: 1, maxLength: 2 }), env: envelopeArb, damage: damageArb });
    const sentinelCors = await xml('GET', objectPath(BUCKET), { cors: '' });
    expect(sentinelCors.status).toBe(200);
    await fc.assert(
      fc.asyncProperty(
        arb,
        restoring(async ({ rules, env, damage: d }) => {
          const tree = el(
            'CORSConfiguration',
            ...rules.map((r) =>
              el(
                'CORSRule',
                ...(r.id ? [el('ID', r.id)] : []),
                ...r.origins.map((o) => el('AllowedOrigin', o)),
                ...r.methods.map((m) => el('AllowedMethod', m)),
                ...r.headers.map((h) => el('AllowedHeader', h)),
                ...r.expose.map((h) => el('ExposeHeader', h)),
                ...(r.maxAge ? [el('MaxAgeSeconds', r.maxAge)] : []),
              ),
            ),
          );
          const body = damage(render(tree, env), 'CORSConfiguration', d, 1 << 20);
          const texts = rules.flatMap((r) => [
            ...r.origins,
            ...r.methods,
            ...r.headers,
            ...r.expose,
            ...(r.maxAge ? [r.maxAge] : []),
            ...(r.id ? [r.id] : []),
          ]);
          const what = describeCase(body, texts, d);
          const res = await xml('PUT', objectPath(BUCKET), { cors: '' }, body);
          expectClientError(res.status, [200], what);
          await watch.assertNone(what);
          if (res.status === 200) {
            expect(mayBeRead(d, texts), `accepted a document it must refuse: ${what}`).toBe(true);
            // Whatever was stored, requests that consult it must still be answered properly.
            const got = await xml('GET', objectPath(BUCKET), { cors: '' });
            expect(got.status, what).toBe(200);
            for (const o of ['https://a.example', 'https://x.example', 'null']) {
              const pre = await send(t, 'OPTIONS', objectPath(BUCKET, TARGET), {
                origin: o,
                'access-control-request-method': 'GET',
                'access-control-request-headers': 'x-amz-date',
              });
              expectClientError(pre.status, [200], `preflight from ${o} after ${what}`);
              const signed = await sign(t, 'GET', objectPath(BUCKET, TARGET), { headers: { origin: o } });
              const get = await send(t, 'GET', signed.pathAndQuery, signed.headers);
              expect(get.status, `GET with Origin ${o} after ${what}`).toBe(200);
            }
            expect((await restoreCors()).status).toBe(200);
          } else {
            const got = await xml('GET', objectPath(BUCKET), { cors: '' });
            expect(got.text, what).toBe(sentinelCors.text.replace(/<RequestId>.*<\/RequestId>/, ''));
          }
        }, restoreCors),
      ),
      fuzzParams(30),
    );
  });

  for (const target of ['object', 'bucket'] as const) {
    it(`Put${target === 'object' ? 'Object' : 'Bucket'}Acl: grants exactly what the document says, never what a spoiled id resembles`, async () => {
      const grant = fc.oneof(
        fc.record({
          kind: fc.constant('owner' as const),
          who: spliced(ownerId),
          permission: fc.constantFrom('FULL_CONTROL', 'READ', 'full_control').map(text),
        }),
        fc.record({
          kind: fc.constant('all-users' as const),
          who: spliced(ALL_USERS),
          permission: fc.constantFrom('READ', 'WRITE').map(text),
        }),
        fc.record({ kind: fc.constant('other' as const), who: textArb, permission: fc.oneof(fc.constant(text('READ')), textArb) }),
      );
      const arb = fc.record({
        owner: spliced(ownerId),
        grants: fc.array(grant, { minLength: 0, maxLength: 3 }),
        env: envelopeArb,
        damage: damageArb,
      });
      const path = objectPath(BUCKET, target === 'object' ? TARGET : undefined);
      const isPublic = async () => (await xml('GET', path, { acl: '' })).text.includes(ALL_USERS);
      const resetAcl = async () => {
        const reset = await sign(t, 'PUT', path, { query: { acl: '' }, headers: { 'x-amz-acl': 'private' } });
        expect((await send(t, 'PUT', reset.pathAndQuery, reset.headers)).status).toBe(200);
      };
      await fc.assert(
        fc.asyncProperty(
          arb,
          restoring(async ({ owner, grants, env, damage: d }) => {
            const tree = el(
              'AccessControlPolicy',
              el('Owner', el('ID', owner)),
              el(
                'AccessControlList',
                ...grants.map((g) =>
                  el('Grant', el('Grantee', el(g.kind === 'all-users' ? 'URI' : 'ID', g.who)), el('Permission', g.permission)),
                ),
              ),
            );
            const body = damage(render(tree, env), 'AccessControlPolicy', d, 1 << 20);
            const texts = [owner, ...grants.flatMap((g) => [g.who, g.permission])];
            const what = describeCase(body, texts, d);
            const res = await xml('PUT', path, { acl: '' }, body);
            expectClientError(res.status, [200, 501], what);
            await watch.assertNone(what);
            const exactOwnerFull = (g: (typeof grants)[number]) =>
              g.kind === 'owner' && g.who.value === ownerId && g.permission.value === 'FULL_CONTROL';
            const exactPublicRead = (g: (typeof grants)[number]) =>
              g.kind === 'all-users' && g.who.value === ALL_USERS && g.permission.value === 'READ';
            const expressible = grants.some(exactOwnerFull) && grants.every((g) => exactOwnerFull(g) || exactPublicRead(g));
            if (res.status === 200) {
              expect(mayBeRead(d, texts) && expressible, `accepted an ACL it must refuse: ${what}`).toBe(true);
              expect(await isPublic(), what).toBe(grants.some(exactPublicRead));
              await resetAcl();
            } else {
              expect(mustBeRead(d, env, texts) && expressible, `refused a supported ACL (${res.status} ${res.code}): ${what}`).toBe(false);
              expect(await isPublic(), `ACL changed by a refused request: ${what}`).toBe(false);
            }
          }, resetAcl),
        ),
        fuzzParams(30),
      );
    });
  }

  it('CreateBucket: creates the bucket only for a configuration naming this region', async () => {
    const region = t.config.region;
    const arb = fc.record({
      constraint: fc.option(fc.oneof(spliced(region), textArb, fc.constantFrom('', 'EU', 'us-west-2').map(text)), { nil: undefined }),
      env: envelopeArb,
      damage: damageArb,
    });
    let n = 0;
    const dropCreated = async () => {
      const del = await sign(t, 'DELETE', objectPath(`fz-create-${engine}-${n - 1}`));
      await send(t, 'DELETE', del.pathAndQuery, del.headers);
    };
    await fc.assert(
      fc.asyncProperty(
        arb,
        restoring(async ({ constraint, env, damage: d }) => {
          const name = `fz-create-${engine}-${n++}`;
          const tree = el('CreateBucketConfiguration', ...(constraint ? [el('LocationConstraint', constraint)] : []));
          const body = damage(render(tree, env), 'CreateBucketConfiguration', d, 1 << 20);
          const texts = constraint ? [constraint] : [];
          const what = describeCase(body, texts, d);
          const res = await xml('PUT', objectPath(name), {}, body);
          expectClientError(res.status, [200], what);
          await watch.assertNone(what);
          if (res.status === 200) {
            expect(
              d.kind === 'empty' || (mayBeRead(d, texts) && [region, '', undefined].includes(constraint?.value)),
              `created a bucket it must refuse: ${what}`,
            ).toBe(true);
            const del = await sign(t, 'DELETE', objectPath(name));
            expect((await send(t, 'DELETE', del.pathAndQuery, del.headers)).status).toBe(204);
          } else {
            expect(
              mustBeRead(d, env, texts) && constraint?.value === region,
              `refused a valid configuration (${res.status} ${res.code}): ${what}`,
            ).toBe(false);
            const err: S3ServiceException = await s3Error(t.s3.send(new HeadBucketCommand({ Bucket: name })));
            expect(err.$metadata.httpStatusCode, what).toBe(404);
          }
        }, dropCreated),
      ),
      fuzzParams(30),
    );
    await sentinels.assertIntact();
  });

  it('CompleteMultipartUpload: completes only with the exact part list; a refused document leaves the upload open', async () => {
    const partBody = Buffer.from('the only part');
    let upload = await newUpload();
    async function newUpload(): Promise<{ key: string; id: string; etag: string }> {
      const key = `mpu-${Math.random().toString(36).slice(2)}`;
      const created = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      const part = await t.s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId!, PartNumber: 1, Body: partBody }),
      );
      return { key, id: created.UploadId!, etag: part.ETag! };
    }
    const arb = fc.record({
      parts: fc.array(
        fc.record({
          number: fc.oneof(
            { weight: 3, arbitrary: spliced('1') },
            { weight: 1, arbitrary: fc.constantFrom('0', '2', '10001', '-1', '1.0', '99999999999999999999').map(text) },
            { weight: 1, arbitrary: textArb },
          ),
          etag: fc.oneof({ weight: 3, arbitrary: fc.constant(0).chain(() => spliced(upload.etag)) }, { weight: 1, arbitrary: textArb }),
        }),
        { minLength: 0, maxLength: 2 },
      ),
      env: envelopeArb,
      damage: damageArb,
    });
    await fc.assert(
      fc.asyncProperty(
        arb,
        restoring(
          async ({ parts, env, damage: d }) => {
            const tree: XmlTree = el(
              'CompleteMultipartUpload',
              ...parts.map((p) => el('Part', el('PartNumber', p.number), el('ETag', p.etag))),
            );
            const body = damage(render(tree, env), 'CompleteMultipartUpload', d, 1 << 20);
            const texts = parts.flatMap((p) => [p.number, p.etag]);
            const what = describeCase(body, texts, d);
            const res = await xml('POST', objectPath(BUCKET, upload.key), { uploadId: upload.id }, body);
            expectClientError(res.status, [200], what);
            await watch.assertNone(what);
            const etagPlain = upload.etag.replace(/"/g, '');
            const exact = parts.length === 1 && parts[0].number.value === '1' && [upload.etag, etagPlain].includes(parts[0].etag.value);
            const nearlyExact =
              parts.length === 1 &&
              collapse(parts[0].number.value) === '1' &&
              [upload.etag, etagPlain].includes(collapse(parts[0].etag.value));
            const head = await sign(t, 'HEAD', objectPath(BUCKET, upload.key));
            const headRes = await send(t, 'HEAD', head.pathAndQuery, head.headers);
            if (res.status === 200 && !/<Error>/.test(res.text)) {
              expect(mayBeRead(d, texts) && nearlyExact, `completed with a part list it must refuse: ${what}`).toBe(true);
              expect(headRes.status, what).toBe(200);
              expect(headRes.headers['content-length'], what).toBe(String(partBody.length));
              const del = await sign(t, 'DELETE', objectPath(BUCKET, upload.key));
              expect((await send(t, 'DELETE', del.pathAndQuery, del.headers)).status).toBe(204);
              upload = await newUpload();
            } else {
              expect(mustBeRead(d, env, texts) && exact, `refused the exact part list (${res.status} ${res.code}): ${what}`).toBe(false);
              expect(headRes.status, `object made by a refused Complete: ${what}`).toBe(404);
              const list = await xml('GET', objectPath(BUCKET, upload.key), { uploadId: upload.id });
              expect(list.status, `upload gone after a refused Complete: ${what}`).toBe(200);
            }
          },
          async () => {
            upload = await newUpload();
          },
        ),
      ),
      fuzzParams(30),
    );
    await sentinels.assertIntact((k) => k.startsWith('mpu-'));
  });

  it('PutBucketPolicy (JSON): bad documents are refused with a 4xx (or 501) and change nothing', async () => {
    const valid = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/public/*` }],
    };
    const jsonish = fc.oneof(
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ ...valid, Statement: [{ ...valid.Statement[0], Resource: v }] })),
      fc.jsonValue().map((v) => JSON.stringify({ ...valid, Statement: v })),
      fc.jsonValue().map((v) => JSON.stringify({ ...valid, Statement: [{ ...valid.Statement[0], Principal: v }] })),
      fc.jsonValue().map((v) => JSON.stringify({ ...valid, Statement: [{ ...valid.Statement[0], Action: v }] })),
      fc.constantFrom(
        '{"__proto__": {"x": 1}}',
        '{"Statement": [{"constructor": 1}]}',
        '[',
        '{"a":' + '['.repeat(5000),
        'null',
        '\u0000',
        '{}',
      ),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(
        jsonish,
        restoring(async (doc) => {
          const body = Buffer.from(doc, 'utf8');
          const res = await xml('PUT', objectPath(BUCKET), { policy: '' }, body);
          expectClientError(res.status, [204, 501], `policy ${doc.slice(0, 200)}`);
          await watch.assertNone(doc.slice(0, 200));
          const got = await xml('GET', objectPath(BUCKET), { policy: '' });
          if (res.status === 204) {
            expect(got.text).toBe(doc);
            await dropPolicy();
          } else {
            expect(got.status, `policy stored by a refused request: ${doc.slice(0, 200)}`).toBe(404);
          }
        }, dropPolicy),
      ),
      fuzzParams(30),
    );
  });

  it('a request body that is not UTF-8 text or not XML at all is refused by every XML operation', async () => {
    const ops: Array<[string, string, Record<string, string>]> = [
      ['POST', objectPath(BUCKET), { delete: '' }],
      ['PUT', objectPath(BUCKET, TARGET), { tagging: '' }],
      ['PUT', objectPath(BUCKET), { tagging: '' }],
      ['PUT', objectPath(BUCKET), { cors: '' }],
      ['PUT', objectPath(BUCKET, TARGET), { acl: '' }],
      ['PUT', objectPath(BUCKET), { acl: '' }],
      ['POST', objectPath(BUCKET, 'no-such-upload'), { uploadId: 'no-such-upload' }],
      ['PUT', objectPath(BUCKET), { versioning: '' }],
      ['PUT', objectPath(BUCKET), { 'object-lock': '' }],
      ['PUT', objectPath(BUCKET, TARGET), { retention: '' }],
      ['PUT', objectPath(BUCKET, TARGET), { 'legal-hold': '' }],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), fc.uint8Array({ minLength: 1, maxLength: 512 }), async ([method, path, query], bytes) => {
        const res = await xml(method, path, query, Buffer.from(bytes));
        expectClientError(
          res.status,
          [],
          `${method} ${path}?${Object.keys(query)[0]} with ${Buffer.from(bytes).toString('hex').slice(0, 80)}`,
        );
        await watch.assertNone();
      }),
      fuzzParams(25),
    );
    expect(await tagsOf('object')).toEqual([['keep', 'me']]);
    await sentinels.assertIntact();
  });

  it('the sentinel objects survived every property unchanged', async () => {
    await sentinels.assertIntact();
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'after-fuzz', Body: 'still serving' }));
    await sentinels.assertIntact((k) => k === 'after-fuzz');
  });
});
