/**
 * A per-backend circuit breaker, pure logic with an injectable clock.
 *
 *   closed ──(N consecutive failures, or failure rate ≥ R over ≥ M calls in the window, or openNow())──▶ open
 *   open ──(cooldown elapsed)──▶ half-open: exactly one probe at a time is let through
 *   half-open ──probe succeeds──▶ closed (counters and cooldown reset)
 *   half-open ──probe fails──▶ open again, cooldown × backoff (capped)
 *
 * Callers take a permit before each call and report its outcome: success,
 * failure (only the backend's own failures: see isBackendFailure), or
 * release (neutral: the caller aborted, bad input). A probe whose outcome is
 * never reported frees its slot after probeTimeoutMs, so a lost probe cannot
 * keep the breaker half-open forever. Outcomes of permits taken before the
 * breaker last opened are ignored: only probes decide while it is not closed.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker (default 5). */
  consecutiveFailures?: number;
  /** Failure ratio in the window that opens it (default 0.5)… */
  failureRate?: number;
  /** …once the window holds at least this many calls (default 20). */
  minCalls?: number;
  /** Length of the sliding window (default 30 s), kept in 10 buckets. */
  windowMs?: number;
  /** First open period (default 1 s). */
  cooldownMs?: number;
  /** Longest open period (default 60 s). */
  maxCooldownMs?: number;
  /** Each failed probe multiplies the open period by this (default 2). */
  backoff?: number;
  /** A probe not reported by then no longer holds the half-open slot (default 30 s). */
  probeTimeoutMs?: number;
}

export interface Permit {
  readonly probe: boolean;
  /** Which open/close cycle the permit belongs to. */
  readonly generation: number;
  readonly id: number;
}

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  windowCalls: number;
  windowFailures: number;
  /** Times the breaker opened (including re-opens after failed probes). */
  opens: number;
  /** While open: when the next probe may go. */
  retryAt?: number;
  cooldownMs: number;
}

const BUCKETS = 10;

export class CircuitBreaker {
  private readonly opts: Required<BreakerOptions>;
  private readonly bucketMs: number;
  private readonly buckets = Array.from({ length: BUCKETS }, () => ({ epoch: -1, calls: 0, failures: 0 }));
  private open_ = false;
  private consecutive = 0;
  private cooldown: number;
  private retryAt = 0;
  private generation = 0;
  private nextId = 1;
  private probe: { id: number; at: number } | null = null;
  private opens = 0;

  constructor(
    options: BreakerOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = {
      consecutiveFailures: options.consecutiveFailures ?? 5,
      failureRate: options.failureRate ?? 0.5,
      minCalls: options.minCalls ?? 20,
      windowMs: options.windowMs ?? 30_000,
      cooldownMs: options.cooldownMs ?? 1000,
      maxCooldownMs: options.maxCooldownMs ?? 60_000,
      backoff: options.backoff ?? 2,
      probeTimeoutMs: options.probeTimeoutMs ?? 30_000,
    };
    if (this.opts.consecutiveFailures < 1) throw new Error('consecutiveFailures must be at least 1');
    if (!(this.opts.failureRate > 0 && this.opts.failureRate <= 1)) throw new Error('failureRate must be in (0, 1]');
    if (this.opts.backoff < 1) throw new Error('backoff must be at least 1');
    this.bucketMs = Math.max(1, Math.ceil(this.opts.windowMs / BUCKETS));
    this.cooldown = this.opts.cooldownMs;
  }

  get state(): BreakerState {
    if (!this.open_) return 'closed';
    return this.now() >= this.retryAt ? 'half-open' : 'open';
  }

  /** Whether a call would be let through now (without taking the permit). */
  get allowsRequests(): boolean {
    const s = this.state;
    return s === 'closed' || (s === 'half-open' && !this.probeHeld());
  }

  /** A permit for one call, or null when the breaker refuses it. */
  acquire(): Permit | null {
    const s = this.state;
    if (s === 'closed') return { probe: false, generation: this.generation, id: this.nextId++ };
    if (s === 'open' || this.probeHeld()) return null;
    const id = this.nextId++;
    this.probe = { id, at: this.now() };
    return { probe: true, generation: this.generation, id };
  }

  success(permit: Permit): void {
    if (permit.generation !== this.generation) return;
    if (permit.probe) {
      if (this.probe?.id !== permit.id) return;
      this.close();
      return;
    }
    if (this.open_) return;
    this.consecutive = 0;
    this.record(false);
  }

  failure(permit: Permit): void {
    if (permit.generation !== this.generation) return;
    if (permit.probe) {
      if (this.probe?.id !== permit.id) return;
      this.trip(Math.min(this.opts.maxCooldownMs, this.cooldown * this.opts.backoff));
      return;
    }
    if (this.open_) return;
    this.consecutive++;
    const w = this.record(true);
    const rateTripped = w.calls >= this.opts.minCalls && w.failures / w.calls >= this.opts.failureRate;
    if (this.consecutive >= this.opts.consecutiveFailures || rateTripped) this.trip(this.opts.cooldownMs);
  }

  /**
   * A failure that leaves no doubt (a read that stalled or broke off
   * mid-stream, a backend that took no call within the read timeout): open
   * at once rather than after N, so the next request goes straight to
   * another replica instead of waiting out the same timeout. An open or
   * half-open breaker stays as it is (its probe decides).
   */
  openNow(): void {
    if (!this.open_) this.trip(this.opts.cooldownMs);
  }

  /** The call ended without saying anything about the backend (caller aborted, bad input). */
  release(permit: Permit): void {
    if (permit.probe && permit.generation === this.generation && this.probe?.id === permit.id) this.probe = null;
  }

  snapshot(): BreakerSnapshot {
    const w = this.window();
    const state = this.state;
    return {
      state,
      consecutiveFailures: this.consecutive,
      windowCalls: w.calls,
      windowFailures: w.failures,
      opens: this.opens,
      retryAt: this.open_ ? this.retryAt : undefined,
      cooldownMs: this.cooldown,
    };
  }

  private probeHeld(): boolean {
    if (!this.probe) return false;
    if (this.now() - this.probe.at >= this.opts.probeTimeoutMs) {
      this.probe = null;
      return false;
    }
    return true;
  }

  private trip(cooldown: number): void {
    this.open_ = true;
    this.cooldown = cooldown;
    this.retryAt = this.now() + cooldown;
    this.generation++;
    this.probe = null;
    this.opens++;
  }

  private close(): void {
    this.open_ = false;
    this.consecutive = 0;
    this.cooldown = this.opts.cooldownMs;
    this.generation++;
    this.probe = null;
    for (const b of this.buckets) b.epoch = -1;
  }

  private record(failed: boolean): { calls: number; failures: number } {
    const epoch = Math.floor(this.now() / this.bucketMs);
    const b = this.buckets[epoch % BUCKETS];
    if (b.epoch !== epoch) {
      b.epoch = epoch;
      b.calls = 0;
      b.failures = 0;
    }
    b.calls++;
    if (failed) b.failures++;
    return this.window();
  }

  private window(): { calls: number; failures: number } {
    const epoch = Math.floor(this.now() / this.bucketMs);
    let calls = 0;
    let failures = 0;
    for (const b of this.buckets) {
      if (b.epoch > epoch - BUCKETS && b.epoch <= epoch) {
        calls += b.calls;
        failures += b.failures;
      }
    }
    return { calls, failures };
  }
}
