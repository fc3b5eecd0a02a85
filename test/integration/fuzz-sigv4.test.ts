/**
 * Property-based fuzzing of SigV4 authentication, on both engines: validly
 * signed requests (header-signed and presigned, made by the AWS SDK's own
 * signer) are mutated one field at a time. A mutation that changes what was
 * signed must be refused with a 4xx and must change nothing (no object
 * written, no private byte served); an equivalent spelling may be accepted.
 * Never a 5xx, never a process-level error, and the server keeps serving.
 */
import { createHash, randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { expect, it } from 'vitest';

import { describeEachEngine, type TestAnvil } from '../support/anvil.js';
import { expectClientError, fuzzParams, fuzzSuite, restoring, Sentinels } from '../support/fuzz.js';
import { headerMutationArb, mutateHeaders, mutateQuery, queryMutationArb, type SignedRequest } from '../support/sigv4-fuzz.js';
import { objectPath, presign, send, sign, type WireResponse } from '../support/wire.js';

const BUCKET = 'fuzz-auth';
const SECRET_KEY = 'private-object';
const SECRET = randomBytes(48).toString('hex');
const MAX_SKEW_S = 15 * 60;
/** Dates this close to a validity boundary may go either way (request latency, clock granularity). */
const MARGIN_S = 5;

const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describeEachEngine('fuzz: SigV4 headers and presigned URLs', (engine) => {
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

  async function signedPut(key: string, body: Buffer): Promise<SignedRequest> {
    const path = objectPath(BUCKET, key);
    const s = await sign(t, 'PUT', path, { headers: { 'content-length': String(body.length) }, payloadHash: sha256Hex(body) });
    return { method: 'PUT', path, query: '', headers: s.headers, body };
  }

  async function head(path: string): Promise<number> {
    const s = await sign(t, 'HEAD', path);
    return (await send(t, 'HEAD', s.pathAndQuery, s.headers)).status;
  }

  /** The object at `path` exists with exactly `body` (then it is deleted), or does not exist. */
  async function expectWritten(path: string, body: Buffer | null, what: string): Promise<void> {
    const s = await sign(t, 'GET', path);
    const got = await send(t, 'GET', s.pathAndQuery, s.headers);
    if (body === null) {
      expect(got.status, `object written by a refused request: ${what}`).toBe(404);
      return;
    }
    expect(got.status, what).toBe(200);
    expect(got.body.equals(body), what).toBe(true);
    const d = await sign(t, 'DELETE', path);
    expect((await send(t, 'DELETE', d.pathAndQuery, d.headers)).status).toBe(204);
  }

  function expectNoLeak(res: WireResponse, what: string): void {
    expect(res.text.includes(SECRET), `private bytes served: ${what}`).toBe(false);
  }

  it('a header-signed PUT accepts equivalent spellings and refuses every change to what was signed', async () => {
    const valid = await signedPut('sanity', Buffer.from('ok'));
    expect((await send(t, 'PUT', valid.path, valid.headers, valid.body)).status).toBe(200);
    await expectWritten(valid.path, Buffer.from('ok'), 'the unmutated request');

    await fc.assert(
      fc.asyncProperty(
        headerMutationArb,
        fc.uint8Array({ maxLength: 64 }),
        restoring(
          async (mutation, bytes) => {
            const key = `put-${n++}`;
            const base = await signedPut(key, Buffer.from(bytes));
            const m = mutateHeaders(base, mutation);
            const what = `${m.label} → ${m.method} ${m.path}`;
            const res = await send(
              t,
              m.method,
              m.path + (m.query ? `?${m.query}` : ''),
              m.headers,
              m.method === 'GET' ? undefined : m.body,
            );
            // 501: SigV4a streaming (ECDSA) is named but not implemented.
            expectClientError(res.status, m.mustReject ? [501] : [200, 501], `${what} (${res.code})`);
            await watch.assertNone(what);
            expectNoLeak(res, what);
            const accepted = res.status === 200 && m.method === 'PUT';
            await expectWritten(base.path, accepted && m.path === base.path ? m.body : null, what);
            // A changed path names an absent object, or one that cannot exist (NUL: 400 on both engines).
            if (m.path !== base.path) expect([400, 404], what).toContain(await head(m.path));
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(70),
    );
    await sentinels.assertIntact();
  });

  it('a header-signed GET of a private object never serves it under a changed signature', async () => {
    const path = objectPath(BUCKET, SECRET_KEY);
    await fc.assert(
      fc.asyncProperty(headerMutationArb, async (mutation) => {
        const s = await sign(t, 'GET', path);
        const m = mutateHeaders({ method: 'GET', path, query: '', headers: s.headers, body: Buffer.alloc(0) }, mutation);
        const what = `${m.label} → ${m.method} ${m.path}`;
        const res = await send(t, m.method, m.path, m.headers, m.body.length ? m.body : undefined);
        expectClientError(res.status, m.mustReject ? [501] : [200, 501], `${what} (${res.code})`);
        await watch.assertNone(what);
        if (m.mustReject) expectNoLeak(res, what);
        else if (res.status === 200) expect(res.text, what).toBe(SECRET);
      }),
      fuzzParams(40),
    );
    await sentinels.assertIntact();
  });

  it('a presigned PUT URL refuses every change to its X-Amz-* parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        queryMutationArb,
        fc.uint8Array({ maxLength: 64 }),
        restoring(
          async (mutation, bytes) => {
            const key = `presigned-${n++}`;
            const path = objectPath(BUCKET, key);
            const body = Buffer.from(bytes);
            const p = await presign(t, 'PUT', path);
            const m = mutateQuery(p.query, mutation);
            const what = `${m.label} → PUT ${path}?${m.query}`;
            const res = await send(t, 'PUT', `${path}?${m.query}`, { ...m.extraHeaders, 'content-length': String(body.length) }, body);
            expectClientError(res.status, m.mustReject ? [] : [200], `${what} (${res.code})`);
            await watch.assertNone(what);
            await expectWritten(path, res.status === 200 ? body : null, what);
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(40),
    );
    await sentinels.assertIntact();
  });

  it('a presigned GET URL for a private object never serves it once changed', async () => {
    const path = objectPath(BUCKET, SECRET_KEY);
    const p = await presign(t, 'GET', path);
    expect((await send(t, 'GET', p.pathAndQuery, {})).text).toBe(SECRET);
    await fc.assert(
      fc.asyncProperty(queryMutationArb, async (mutation) => {
        const fresh = await presign(t, 'GET', path);
        const m = mutateQuery(fresh.query, mutation);
        const what = `${m.label} → GET ${path}?${m.query}`;
        const res = await send(t, 'GET', `${path}?${m.query}`, m.extraHeaders);
        expectClientError(res.status, m.mustReject ? [] : [200], `${what} (${res.code})`);
        await watch.assertNone(what);
        if (m.mustReject) expectNoLeak(res, what);
      }),
      fuzzParams(30),
    );
  });

  it('presigned URLs are honoured exactly within [date - 15 min, date + expires]', async () => {
    const path = objectPath(BUCKET, SECRET_KEY);
    const arb = fc.record({
      offsetS: fc.oneof(fc.integer({ min: -8 * 86400, max: 2 * 3600 }), fc.integer({ min: -1200, max: 1200 })),
      expiresIn: fc.oneof(fc.integer({ min: 1, max: 604800 }), fc.constantFrom(1, 60, 900, 3600, 604800)),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ offsetS, expiresIn }) => {
        const now = Date.now();
        const signingDate = new Date(now + offsetS * 1000);
        const p = await presign(t, 'GET', path, { expiresIn, signingDate });
        const res = await send(t, 'GET', p.pathAndQuery, {});
        const what = `signed ${offsetS} s from now, expires in ${expiresIn} s (${res.status} ${res.code})`;
        await watch.assertNone(what);
        const ageS = -offsetS;
        const clearlyValid = offsetS < MAX_SKEW_S - MARGIN_S && ageS < expiresIn - MARGIN_S;
        const clearlyInvalid = offsetS > MAX_SKEW_S + MARGIN_S || ageS > expiresIn + MARGIN_S;
        if (clearlyValid) expect(res.status, what).toBe(200);
        if (clearlyInvalid) {
          expect(res.status, what).toBe(403);
          expectNoLeak(res, what);
        }
      }),
      fuzzParams(25),
    );
  });

  it('header-signed requests are honoured exactly within 15 minutes of the server clock', async () => {
    const path = objectPath(BUCKET, SECRET_KEY);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer({ min: -86400, max: 86400 }), fc.integer({ min: -1000, max: 1000 })), async (offsetS) => {
        const s = await sign(t, 'GET', path, { signingDate: new Date(Date.now() + offsetS * 1000) });
        const res = await send(t, 'GET', s.pathAndQuery, s.headers);
        const what = `signed ${offsetS} s from now (${res.status} ${res.code})`;
        await watch.assertNone(what);
        if (Math.abs(offsetS) < MAX_SKEW_S - MARGIN_S) expect(res.status, what).toBe(200);
        if (Math.abs(offsetS) > MAX_SKEW_S + MARGIN_S) {
          expect({ status: res.status, code: res.code }, what).toEqual({ status: 403, code: 'RequestTimeTooSkewed' });
        }
      }),
      fuzzParams(20),
    );
    await sentinels.assertIntact();
  });
});
