/** The token buckets behind the request rate limits (core/limits.ts), on a clock the test moves. */
import { describe, expect, it } from 'vitest';

import { effectiveRate, NO_TENANT_LIMITS, RequestRateLimiter, TokenBuckets } from '../../src/core/limits.js';

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('token buckets', () => {
  it('let a burst through, then one request per 1/rate seconds; a refusal says how long to wait', () => {
    const c = clock();
    const b = new TokenBuckets(c.now);
    const rate = { perSecond: 2, burst: 3 };
    for (let i = 0; i < 3; i++) expect(b.take([{ id: 'k', rate }])).toBeUndefined();
    expect(b.take([{ id: 'k', rate }])).toEqual({ index: 0, retryAfterSeconds: 0.5 });
    c.advance(250);
    expect(b.take([{ id: 'k', rate }])?.retryAfterSeconds).toBeCloseTo(0.25);
    c.advance(250);
    expect(b.take([{ id: 'k', rate }])).toBeUndefined();
    // Never more than the burst, however long it was idle.
    c.advance(3_600_000);
    for (let i = 0; i < 3; i++) expect(b.take([{ id: 'k', rate }])).toBeUndefined();
    expect(b.take([{ id: 'k', rate }])).toBeDefined();
  });

  it('take from every bucket or from none', () => {
    const c = clock();
    const b = new TokenBuckets(c.now);
    const wide = { perSecond: 1, burst: 10 };
    const narrow = { perSecond: 1, burst: 1 };
    expect(
      b.take([
        { id: 'key', rate: wide },
        { id: 'tenant', rate: narrow },
      ]),
    ).toBeUndefined();
    expect(
      b.take([
        { id: 'key', rate: wide },
        { id: 'tenant', rate: narrow },
      ]),
    ).toEqual({ index: 1, retryAfterSeconds: 1 });
    // The refused request took nothing from the key's bucket: 9 left.
    for (let i = 0; i < 9; i++) expect(b.take([{ id: 'key', rate: wide }])).toBeUndefined();
    expect(b.take([{ id: 'key', rate: wide }])).toBeDefined();
  });

  it('drop buckets that are full again, and keep at most the most recently used', () => {
    const c = clock();
    const b = new TokenBuckets(c.now, 3);
    const rate = { perSecond: 1, burst: 2 };
    for (const id of ['a', 'b', 'c', 'd', 'e']) b.take([{ id, rate }]);
    expect(b.size).toBe(3);
    // a was dropped (least recently used): it starts full again.
    expect(b.take([{ id: 'a', rate }])).toBeUndefined();
    expect(b.take([{ id: 'a', rate }])).toBeUndefined();
    c.advance(1000);
    b.sweep();
    expect(b.size).toBe(1); // only a, still refilling
    c.advance(2000);
    b.take([{ id: 'x', rate }]); // no sweep due yet
    expect(b.size).toBe(2);
    c.advance(10_000);
    b.take([{ id: 'y', rate }]);
    expect(b.size).toBe(1);
  });
});

describe('request rate limiter', () => {
  it("resolves a tenant's own limits over the defaults (null: default, 0: none)", () => {
    const def = { perSecond: 5, burst: 5 };
    expect(effectiveRate(null, null, def)).toEqual(def);
    expect(effectiveRate(null, 9, def)).toEqual({ perSecond: 5, burst: 9 });
    expect(effectiveRate(0, null, def)).toBeUndefined();
    expect(effectiveRate(2.5, null, undefined)).toEqual({ perSecond: 2.5, burst: 3 });
    expect(effectiveRate(null, null, undefined)).toBeUndefined();
  });

  it('refuses by key, then by tenant, and keeps no bucket without a limit', () => {
    const c = clock();
    const l = new RequestRateLimiter({ perKey: { perSecond: 1, burst: 1 }, perTenant: { perSecond: 1, burst: 2 } }, c.now);
    const s = (accessKeyId: string) => ({ accessKeyId, tenantId: 't', limits: NO_TENANT_LIMITS });
    expect(l.admit(s('k1'))).toBeUndefined();
    expect(l.admit(s('k1'))).toEqual({ scope: 'key', retryAfterSeconds: 1 });
    expect(l.admit(s('k2'))).toBeUndefined();
    expect(l.admit(s('k3'))).toEqual({ scope: 'tenant', retryAfterSeconds: 1 });
    l.update({});
    const free = new RequestRateLimiter({}, c.now);
    expect(free.admit(s('k1'))).toBeUndefined();
    expect(free.tracked).toBe(0);
  });
});
