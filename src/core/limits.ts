/**
 * Request rate limits: a token bucket per access key and one per tenant.
 * Each request takes a token from its key's bucket and from its tenant's;
 * a bucket refills at its rate (requests per second) up to its burst. A
 * request finding either empty is refused (the protocol layer answers 503
 * SlowDown with Retry-After) and takes nothing from the other.
 *
 * The buckets live in this process's memory: the limits hold per node. N
 * nodes behind a load balancer let a key through at up to N times its rate
 * (divide the rates by the nodes to bound the cluster). A restart starts
 * every bucket full.
 *
 * The limits: the server's defaults (config `rate_limit_per_key`,
 * `rate_limit_per_tenant` and their `_burst`, reloaded on SIGHUP) unless the
 * tenant has its own (tenants.rate_limit…, set through the admin API): null
 * keeps the default, 0 lifts the limit. Nothing grows without bound: a bucket
 * idle long enough to be full again is the same as no bucket and is dropped
 * (swept every SWEEP_MS), and past MAX_BUCKETS the least recently used go.
 */

/** A limit: requests per second, and how many a full bucket lets through at once. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** The server's defaults; undefined: no limit. */
export interface RateLimitDefaults {
  perKey?: Rate;
  perTenant?: Rate;
}

/** A tenant's own limits as stored: null keeps the server default, 0 (requests per second) lifts the limit. */
export interface TenantRateLimits {
  /** The tenant as a whole (all its keys together). */
  requestsPerSecond: number | null;
  burst: number | null;
  /** Each of its access keys. */
  perKeyRequestsPerSecond: number | null;
  perKeyBurst: number | null;
}

export const NO_TENANT_LIMITS: TenantRateLimits = {
  requestsPerSecond: null,
  burst: null,
  perKeyRequestsPerSecond: null,
  perKeyBurst: null,
};

/** Without a burst of its own, a limit lets one second's worth through at once (at least one request). */
export function defaultBurst(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond));
}

/** A rate from settings: undefined (no limit) when the rate is 0 or absent. */
export function rateOf(perSecond: number | undefined, burst?: number): Rate | undefined {
  if (perSecond === undefined || !(perSecond > 0)) return undefined;
  return { perSecond, burst: burst ?? defaultBurst(perSecond) };
}

/** The limit in effect: the tenant's own rate (0: none) with its burst, else the default. */
export function effectiveRate(own: number | null, ownBurst: number | null, byDefault: Rate | undefined): Rate | undefined {
  if (own !== null) return rateOf(own, ownBurst ?? undefined);
  if (!byDefault) return undefined;
  return ownBurst !== null ? { ...byDefault, burst: ownBurst } : byDefault;
}

export type RateScope = 'key' | 'tenant';

export interface Refusal {
  scope: RateScope;
  /** Seconds until a token is back in the bucket that refused. */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  /** When tokens was last brought up to date (ms, monotonic). */
  at: number;
  rate: Rate;
}

const SWEEP_MS = 10_000;
const MAX_BUCKETS = 100_000;

/** Token buckets by id ("key:…", "tenant:…"), in least recently used order. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt: number;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly maxBuckets = MAX_BUCKETS,
  ) {
    this.sweptAt = now();
  }

  get size(): number {
    return this.buckets.size;
  }

  private current(id: string, rate: Rate, now: number): Bucket {
    const b = this.buckets.get(id);
    if (!b) return { tokens: rate.burst, at: now, rate };
    const tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.perSecond);
    return { tokens, at: now, rate };
  }

  /**
   * Takes a token from every bucket wanted, or from none: undefined when
   * taken, else the index of the first bucket that is empty and the seconds
   * until it has a token again.
   */
  take(wanted: Array<{ id: string; rate: Rate }>): { index: number; retryAfterSeconds: number } | undefined {
    const now = this.now();
    if (now - this.sweptAt >= SWEEP_MS) this.sweep(now);
    const states = wanted.map((w) => this.current(w.id, w.rate, now));
    const empty = states.findIndex((s) => s.tokens < 1);
    for (let i = 0; i < wanted.length; i++) {
      const s = states[i];
      if (empty < 0) s.tokens -= 1;
      // Re-inserted: the map's order is the order of last use.
      this.buckets.delete(wanted[i].id);
      this.buckets.set(wanted[i].id, s);
    }
    while (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
    if (empty < 0) return undefined;
    const s = states[empty];
    return { index: empty, retryAfterSeconds: (1 - s.tokens) / s.rate.perSecond };
  }

  /** Drops the buckets that are full again: taking from them later starts from a full bucket anyway. */
  sweep(now = this.now()): void {
    this.sweptAt = now;
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * b.rate.perSecond >= b.rate.burst) this.buckets.delete(id);
    }
  }
}

/** Who sent a request, as the limits need it. */
export interface RateSubject {
  accessKeyId: string;
  tenantId: string;
  /** The tenant's own limits (stored with it; read with the key on every request). */
  limits: TenantRateLimits;
}

/** The request rate limits of this node. */
export class RequestRateLimiter {
  private readonly buckets: TokenBuckets;

  constructor(
    private defaults: RateLimitDefaults,
    now?: () => number,
  ) {
    this.buckets = new TokenBuckets(now);
  }

  /** New defaults (SIGHUP): buckets keep their tokens, up to the new burst. */
  update(defaults: RateLimitDefaults): void {
    this.defaults = defaults;
  }

  get current(): RateLimitDefaults {
    return this.defaults;
  }

  /** Token buckets held now (for tests: they do not grow without bound). */
  get tracked(): number {
    return this.buckets.size;
  }

  /** Takes this request's tokens; a refusal says which limit refused and when to come back. */
  admit(s: RateSubject): Refusal | undefined {
    const wanted: Array<{ id: string; rate: Rate; scope: RateScope }> = [];
    const key = effectiveRate(s.limits.perKeyRequestsPerSecond, s.limits.perKeyBurst, this.defaults.perKey);
    if (key) wanted.push({ id: `key:${s.accessKeyId}`, rate: key, scope: 'key' });
    const tenant = effectiveRate(s.limits.requestsPerSecond, s.limits.burst, this.defaults.perTenant);
    if (tenant) wanted.push({ id: `tenant:${s.tenantId}`, rate: tenant, scope: 'tenant' });
    if (!wanted.length) return undefined;
    const refused = this.buckets.take(wanted);
    return refused && { scope: wanted[refused.index].scope, retryAfterSeconds: refused.retryAfterSeconds };
  }
}
