/**
 * The request rate limits at the S3 edge: after a request is authenticated
 * (its key and tenant are known, and verified: a forged key id cannot spend
 * another key's tokens), core/limits.ts decides; a refusal is answered 503
 * SlowDown with Retry-After (whole seconds, at least 1), which the S3 SDKs
 * retry with backoff, and counted in anvil_rate_limited_total{scope}.
 * Anonymous requests and the admin API are not rate limited (admission
 * control, http/admission.ts, still caps what is in flight).
 */
import type { Config } from '../config/config.js';
import { type RateLimitDefaults, rateOf, type RateSubject, RequestRateLimiter } from '../core/limits.js';
import { errors } from '../s3/errors.js';
import type { Metrics } from './metrics.js';

/** The server's default limits from its configuration (0: none; a burst of 0: one second's worth). */
export function rateLimitDefaults(config: Config): RateLimitDefaults {
  return {
    perKey: rateOf(config.rateLimitPerKey, config.rateLimitPerKeyBurst || undefined),
    perTenant: rateOf(config.rateLimitPerTenant, config.rateLimitPerTenantBurst || undefined),
  };
}

export class RateLimitGate {
  readonly limiter: RequestRateLimiter;

  constructor(
    config: Config,
    private readonly metrics?: Metrics,
  ) {
    this.limiter = new RequestRateLimiter(rateLimitDefaults(config));
  }

  /** New defaults (SIGHUP). */
  update(config: Config): void {
    this.limiter.update(rateLimitDefaults(config));
  }

  /** Lets the request through, or throws SlowDown (counted by the limit that refused it). */
  check(subject: RateSubject): void {
    const refused = this.limiter.admit(subject);
    if (!refused) return;
    this.metrics?.countRateLimited(refused.scope);
    throw errors.slowDown(Math.max(1, Math.ceil(refused.retryAfterSeconds)));
  }
}
