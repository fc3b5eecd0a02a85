/**
 * Property-based fuzzing of SigV2 authentication, on both engines, as
 * fuzz-sigv4.test.ts does for SigV4: validly signed requests (header-signed
 * and presigned, made by the test's own SigV2 signer) are mutated one field
 * at a time. A mutation that changes what was signed must be refused with a
 * 4xx and must change nothing (no object written, no upload started, no
 * private byte served); an equivalent spelling, or a part SigV2 does not
 * sign, may be accepted. Never a 5xx, never a process-level error.
 */
import crypto, { randomBytes } from 'node:crypto';

import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { expect, it } from 'vitest';

import { describeEachEngine, type TestAnvil } from '../support/anvil.js';
import { expectClientError, fuzzParams, fuzzSuite, restoring, Sentinels } from '../support/fuzz.js';
import { headerMutationArb, mutateHeaderSigned, mutatePresigned, queryMutationArb, type V2Request } from '../support/sigv2-fuzz.js';
import { headerSignV2, presignV2 } from '../support/sigv2-signer.js';
import { objectPath, send, type WireResponse } from '../support/wire.js';

const BUCKET = 'fuzz-v2';
const SECRET_KEY = 'private-object';
const SECRET = randomBytes(48).toString('hex');
const MAX_SKEW_S = 15 * 60;
/** Times this close to a validity boundary may go either way (request latency, clock granularity). */
const MARGIN_S = 5;
const md5b64 = (b: Buffer) => crypto.createHash('md5').update(b).digest('base64');
const epoch = () => Math.floor(Date.now() / 1000);

describeEachEngine('fuzz: SigV2 headers and presigned URLs', (engine) => {
  let t: TestAnvil;
  let sentinels: Sentinels;
  let n = 0;

  const watch = fuzzSuite(engine, {
    bucket: BUCKET,
    ready: (suite) => ({ t, sentinels } = suite),
    seed: async () => {
      await sentinels.put(SECRET_KEY, SECRET);
    },
  });

  function signedPut(key: string, body: Buffer): V2Request {
    const path = objectPath(BUCKET, key);
    const headers = {
      'content-type': 'text/plain',
      'content-md5': md5b64(body),
      'x-amz-meta-colour': 'blue',
      'content-length': String(body.length),
      host: new URL(t.endpoint).host,
    };
    return { method: 'PUT', path, query: '', headers: headerSignV2(t, 'PUT', path, '', headers), body };
  }

  async function status(method: string, path: string): Promise<number> {
    return (await send(t, method, path, headerSignV2(t, method, path, ''))).status;
  }

  /** The object at `path` exists with exactly `body` (then it is deleted), or does not exist. */
  async function expectWritten(path: string, body: Buffer | null, what: string): Promise<void> {
    const got = await send(t, 'GET', path, headerSignV2(t, 'GET', path, ''));
    if (body === null) {
      expect(got.status, `object written by a refused request: ${what}`).toBe(404);
      return;
    }
    expect(got.status, what).toBe(200);
    expect(got.body.equals(body), what).toBe(true);
    expect(await status('DELETE', path)).toBe(204);
  }

  async function expectNoUploads(what: string): Promise<void> {
    const uploads = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(uploads.Uploads ?? [], `upload started by a refused request: ${what}`).toEqual([]);
  }

  function expectNoLeak(res: WireResponse, what: string): void {
    expect(res.text.includes(SECRET), `private bytes served: ${what}`).toBe(false);
  }

  it('a header-signed PUT accepts equivalent spellings and refuses every change to what was signed', async () => {
    const valid = signedPut('sanity', Buffer.from('ok'));
    expect((await send(t, 'PUT', valid.path, valid.headers, valid.body)).status).toBe(200);
    await expectWritten(valid.path, Buffer.from('ok'), 'the unmutated request');

    await fc.assert(
      fc.asyncProperty(
        headerMutationArb(BUCKET),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        restoring(
          async (mutation, bytes) => {
            const base = signedPut(`put-${n++}`, Buffer.from(bytes));
            const m = mutateHeaderSigned(base, mutation);
            const what = `${m.label} → ${m.method} ${m.path}${m.query ? `?${m.query}` : ''}`;
            const target = m.path + (m.query ? `?${m.query}` : '');
            const res = await send(t, m.method, target, m.headers, ['GET', 'HEAD'].includes(m.method) ? undefined : m.body);
            // 501: an unsigned parameter that names an operation Anvil does not have (PUT ?attributes).
            expectClientError(res.status, m.mustReject ? [] : [200, 501], `${what} (${res.status} ${res.code})`);
            if (m.mustReject) expect(res.status, `${what} (${res.code})`).not.toBe(200);
            await watch.assertNone(what);
            expectNoLeak(res, what);
            const accepted = res.status === 200 && m.method === 'PUT';
            await expectWritten(base.path, accepted && m.path === base.path ? m.body : null, what);
            // A changed path names an absent object, or one that cannot exist.
            if (m.path !== base.path) expect([400, 404], what).toContain(await status('HEAD', m.path));
            if (m.mustReject) await expectNoUploads(what);
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(70),
    );
    await sentinels.assertIntact();
  });

  it('a presigned GET URL for a private object never serves it once changed', async () => {
    const path = objectPath(BUCKET, SECRET_KEY);
    const fresh = presignV2(t, 'GET', path, '', { expires: epoch() + 600 });
    expect((await send(t, 'GET', fresh.pathAndQuery, {})).text).toBe(SECRET);
    await fc.assert(
      fc.asyncProperty(queryMutationArb, async (mutation) => {
        const expires = epoch() + 600;
        const p = presignV2(t, 'GET', path, '', { expires });
        const params: Array<[string, string]> = [
          ['AWSAccessKeyId', t.accessKeyId],
          ['Expires', String(expires)],
          ['Signature', p.signature],
        ];
        const m = mutatePresigned({ method: 'GET', path, params }, mutation);
        const what = `${m.label} → ${m.method} ${m.pathAndQuery}`;
        const res = await send(t, m.method, m.pathAndQuery, m.headers);
        expectClientError(res.status, m.mustReject ? [] : [200], `${what} (${res.status} ${res.code})`);
        await watch.assertNone(what);
        if (m.mustReject) expectNoLeak(res, what);
        else expect(res.text, what).toBe(SECRET);
      }),
      fuzzParams(50),
    );
    await sentinels.assertIntact();
  });

  it('a presigned PUT URL writes nothing once changed', async () => {
    await fc.assert(
      fc.asyncProperty(
        queryMutationArb,
        fc.uint8Array({ maxLength: 64 }),
        restoring(
          async (mutation, bytes) => {
            const key = `presigned-${n++}`;
            const path = objectPath(BUCKET, key);
            const body = Buffer.from(bytes);
            const expires = epoch() + 600;
            const p = presignV2(t, 'PUT', path, '', { expires });
            const params: Array<[string, string]> = [
              ['AWSAccessKeyId', t.accessKeyId],
              ['Expires', String(expires)],
              ['Signature', p.signature],
            ];
            const m = mutatePresigned({ method: 'PUT', path, params }, mutation);
            const what = `${m.label} → ${m.method} ${m.pathAndQuery}`;
            const sendsBody = !['GET', 'HEAD', 'DELETE'].includes(m.method);
            const headers = sendsBody ? { ...m.headers, 'content-length': String(body.length) } : m.headers;
            const res = await send(t, m.method, m.pathAndQuery, headers, sendsBody ? body : undefined);
            expectClientError(res.status, m.mustReject ? [] : [200], `${what} (${res.status} ${res.code})`);
            if (m.mustReject) expect(res.status, `${what} (${res.code})`).not.toBe(200);
            await watch.assertNone(what);
            await expectWritten(path, res.status === 200 && m.method === 'PUT' ? body : null, what);
            if (m.mustReject) await expectNoUploads(what);
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(40),
    );
    await sentinels.assertIntact();
  });

  it('presigned URLs are honoured exactly until Expires', async () => {
    const path = objectPath(BUCKET, SECRET_KEY);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer({ min: -8 * 86400, max: 8 * 86400 }), fc.integer({ min: -60, max: 60 })), async (offsetS) => {
        const p = presignV2(t, 'GET', path, '', { expires: epoch() + offsetS });
        const res = await send(t, 'GET', p.pathAndQuery, {});
        const what = `expires ${offsetS} s from now (${res.status} ${res.code})`;
        await watch.assertNone(what);
        if (offsetS > MARGIN_S) expect(res.status, what).toBe(200);
        if (offsetS < -MARGIN_S) {
          expect({ status: res.status, code: res.code }, what).toEqual({ status: 403, code: 'AccessDenied' });
          expect(res.text, what).toContain('Request has expired');
          expectNoLeak(res, what);
        }
      }),
      fuzzParams(25),
    );
  });

  it('header-signed requests are honoured exactly within 15 minutes of the server clock, by Date or x-amz-date', async () => {
    const path = objectPath(BUCKET, SECRET_KEY);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: -86400, max: 86400 }), fc.integer({ min: -1000, max: 1000 })),
        fc.boolean(),
        async (offsetS, amzDate) => {
          const signed = headerSignV2(t, 'GET', path, '', {}, { date: new Date(Date.now() + offsetS * 1000), amzDate });
          const res = await send(t, 'GET', path, signed);
          const what = `signed ${offsetS} s from now${amzDate ? ' (x-amz-date)' : ''} (${res.status} ${res.code})`;
          await watch.assertNone(what);
          if (Math.abs(offsetS) < MAX_SKEW_S - MARGIN_S) expect(res.status, what).toBe(200);
          if (Math.abs(offsetS) > MAX_SKEW_S + MARGIN_S) {
            expect({ status: res.status, code: res.code }, what).toEqual({ status: 403, code: 'RequestTimeTooSkewed' });
            expectNoLeak(res, what);
          }
        },
      ),
      fuzzParams(20),
    );
    await sentinels.assertIntact();
  });
});
