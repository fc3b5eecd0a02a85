/**
 * A Backend behind its circuit breaker. Every call takes a permit: an open
 * breaker refuses at once with BackendUnavailable (circuitOpen = true)
 * instead of waiting for another timeout. Outcomes feed the breaker:
 * BackendUnavailable is a failure; any other BackendError (not found, bad
 * range, full) proves the backend answered, so it is a success; anything
 * else (the caller aborted, the body's own stream failed) is neutral.
 *
 * probe() is what a periodic checker calls: while the breaker is half-open
 * it runs health() as the probe, so a backend recovers even when no request
 * happens to go its way. health() itself is never refused (it is how a
 * failed backend is watched) and its latest answer is kept in lastHealth.
 */
import type { Readable } from 'node:stream';

import { withSpan } from '../tracing.js';
import {
  type Backend,
  BackendError,
  type BackendHealth,
  BackendUnavailable,
  type ByteRange,
  isBackendFailure,
  type ListedObject,
  type PutOptions,
} from './backend.js';
import { type BreakerOptions, CircuitBreaker, type Permit } from './breaker.js';

export class GuardedBackend implements Backend {
  readonly breaker: CircuitBreaker;
  lastHealth?: BackendHealth & { at: number };

  constructor(
    readonly inner: Backend,
    breaker: CircuitBreaker | BreakerOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.breaker = breaker instanceof CircuitBreaker ? breaker : new CircuitBreaker(breaker, now);
  }

  get name(): string {
    return this.inner.name;
  }

  get kind(): Backend['kind'] {
    return this.inner.kind;
  }

  private permit(): Permit {
    const permit = this.breaker.acquire();
    if (!permit) {
      const s = this.breaker.snapshot();
      const wait = s.retryAt !== undefined ? Math.max(0, s.retryAt - this.now()) : 0;
      throw new BackendUnavailable(this.name, `circuit breaker ${s.state}${wait ? `, next probe in ${wait} ms` : ''}`, undefined, true);
    }
    return permit;
  }

  private settle(permit: Permit, err?: unknown): void {
    if (err === undefined) this.breaker.success(permit);
    else if (isBackendFailure(err)) this.breaker.failure(permit);
    else if (err instanceof BackendError) this.breaker.success(permit);
    else this.breaker.release(permit);
  }

  /**
   * One call through the breaker, in a span `anvil.backend.<op>` when
   * tracing is on (for get, the span ends once the stream is open: the bytes
   * flow inside the request's span).
   */
  private guard<T>(op: string, locator: string | undefined, fn: () => Promise<T>): Promise<T> {
    const attributes = {
      'anvil.backend': this.name,
      'anvil.backend.kind': this.kind,
      ...(locator && { 'anvil.backend.locator': locator }),
    };
    return withSpan(`anvil.backend.${op}`, attributes, () => this.guarded(fn));
  }

  private async guarded<T>(fn: () => Promise<T>): Promise<T> {
    const permit = this.permit();
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      this.settle(permit, err);
      throw err;
    }
    this.settle(permit);
    return result;
  }

  put(locator: string, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<{ size: number }> {
    return this.guard('put', locator, () => this.inner.put(locator, body, opts));
  }

  get(locator: string, range?: ByteRange, opts?: { signal?: AbortSignal }): Promise<Readable> {
    return this.guard('get', locator, () => this.inner.get(locator, range, opts));
  }

  get read(): ((locator: string, range: ByteRange) => Promise<Buffer>) | undefined {
    const inner = this.inner;
    if (!inner.read) return undefined;
    return (locator, range) => this.guard('read', locator, () => inner.read!(locator, range));
  }

  delete(locator: string): Promise<void> {
    return this.guard('delete', locator, () => this.inner.delete(locator));
  }

  stat(locator: string): Promise<{ size: number } | null> {
    return this.guard('stat', locator, () => this.inner.stat(locator));
  }

  async *list(prefix?: string): AsyncIterable<ListedObject> {
    const permit = this.permit();
    let settled = false;
    try {
      for await (const item of this.inner.list(prefix)) yield item;
      settled = true;
      this.settle(permit);
    } catch (err) {
      settled = true;
      this.settle(permit, err);
      throw err;
    } finally {
      if (!settled) this.breaker.release(permit); // the consumer stopped early
    }
  }

  async health(): Promise<BackendHealth> {
    const h = await this.inner.health();
    this.lastHealth = { ...h, at: this.now() };
    return h;
  }

  /** Runs the half-open probe when one is due; returns the breaker state afterwards. */
  async probe(): Promise<CircuitBreaker['state']> {
    if (this.breaker.state !== 'half-open') return this.breaker.state;
    const permit = this.breaker.acquire();
    if (!permit) return this.breaker.state;
    const h = await this.health();
    if (h.ok) this.breaker.success(permit);
    else this.breaker.failure(permit);
    return this.breaker.state;
  }

  sweep(olderThanMs: number): Promise<number> {
    return this.guard('sweep', undefined, () => this.inner.sweep(olderThanMs));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
