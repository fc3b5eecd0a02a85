import { describe, expect, it } from 'vitest';

import { type BreakerOptions, CircuitBreaker, type Permit } from '../../src/backends/breaker.js';

function setup(opts: BreakerOptions = {}) {
  let t = 1_000_000;
  const clock = {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
  const b = new CircuitBreaker(
    { consecutiveFailures: 3, minCalls: 10, failureRate: 0.5, windowMs: 10_000, cooldownMs: 1000, maxCooldownMs: 5000, ...opts },
    clock.now,
  );
  const fail = () => b.failure(b.acquire()!);
  const ok = () => b.success(b.acquire()!);
  return { b, clock, fail, ok };
}

describe('circuit breaker', () => {
  it('starts closed and lets every call through', () => {
    const { b } = setup();
    expect(b.state).toBe('closed');
    const p = b.acquire();
    expect(p).toMatchObject({ probe: false });
    expect(b.acquire()).not.toBeNull();
  });

  it('opens after N consecutive failures and refuses calls while open', () => {
    const { b, fail } = setup();
    fail();
    fail();
    expect(b.state).toBe('closed');
    fail();
    expect(b.state).toBe('open');
    expect(b.acquire()).toBeNull();
    expect(b.allowsRequests).toBe(false);
    expect(b.snapshot()).toMatchObject({ state: 'open', opens: 1, cooldownMs: 1000 });
  });

  it('a success resets the consecutive count', () => {
    const { b, fail, ok } = setup();
    fail();
    fail();
    ok();
    fail();
    fail();
    expect(b.state).toBe('closed');
    expect(b.snapshot().consecutiveFailures).toBe(2);
  });

  it('opens on the failure rate over the window once enough calls were seen', () => {
    const { b, fail, ok } = setup({ consecutiveFailures: 100 });
    // Alternating: never 3 in a row, but half of all calls fail.
    for (let i = 0; i < 4; i++) {
      ok();
      fail();
    }
    expect(b.state).toBe('closed'); // 8 calls < minCalls 10
    ok();
    expect(b.state).toBe('closed'); // 9 calls
    fail(); // 10 calls, 5 failures = 50%
    expect(b.state).toBe('open');
  });

  it('forgets calls older than the window', () => {
    const { b, clock, fail, ok } = setup({ consecutiveFailures: 100 });
    for (let i = 0; i < 9; i++) fail();
    ok();
    clock.advance(11_000); // everything above slid out
    for (let i = 0; i < 9; i++) ok();
    fail(); // 10 calls in the window, 1 failure
    expect(b.state).toBe('closed');
    expect(b.snapshot()).toMatchObject({ windowCalls: 10, windowFailures: 1 });
  });

  it('half-opens after the cooldown and lets exactly one probe through', () => {
    const { b, clock, fail } = setup();
    fail();
    fail();
    fail();
    clock.advance(999);
    expect(b.acquire()).toBeNull();
    clock.advance(1);
    expect(b.state).toBe('half-open');
    expect(b.allowsRequests).toBe(true);
    const probe = b.acquire();
    expect(probe).toMatchObject({ probe: true });
    expect(b.acquire()).toBeNull(); // one probe at a time
    expect(b.allowsRequests).toBe(false);
    b.success(probe!);
    expect(b.state).toBe('closed');
    expect(b.snapshot()).toMatchObject({ consecutiveFailures: 0, windowCalls: 0, cooldownMs: 1000 });
  });

  it('a failed probe reopens with a longer cooldown, capped', () => {
    const { b, clock, fail } = setup();
    fail();
    fail();
    fail();
    const cooldowns: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(b.snapshot().retryAt! - clock.now());
      const probe = b.acquire();
      expect(probe?.probe).toBe(true);
      b.failure(probe!);
      expect(b.state).toBe('open');
      cooldowns.push(b.snapshot().cooldownMs);
    }
    expect(cooldowns).toEqual([2000, 4000, 5000, 5000, 5000]);
    clock.advance(5000);
    b.success(b.acquire()!);
    expect(b.state).toBe('closed');
    // After recovery the next trip starts from the base cooldown again.
    fail();
    fail();
    fail();
    expect(b.snapshot().cooldownMs).toBe(1000);
  });

  it('a released probe frees the slot for another probe', () => {
    const { b, clock, fail } = setup();
    fail();
    fail();
    fail();
    clock.advance(1000);
    const probe = b.acquire()!;
    b.release(probe);
    expect(b.state).toBe('half-open');
    expect(b.acquire()?.probe).toBe(true);
  });

  it('a probe never reported stops holding the slot after probeTimeoutMs', () => {
    const { b, clock, fail } = setup({ probeTimeoutMs: 3000 });
    fail();
    fail();
    fail();
    clock.advance(1000);
    const lost = b.acquire()!;
    expect(lost.probe).toBe(true);
    clock.advance(2999);
    expect(b.acquire()).toBeNull();
    clock.advance(1);
    const second = b.acquire()!;
    expect(second.probe).toBe(true);
    // The lost probe's late report no longer decides anything.
    b.success(lost);
    expect(b.state).toBe('half-open');
    b.success(second);
    expect(b.state).toBe('closed');
  });

  it('outcomes of calls started before the breaker opened are ignored', () => {
    const { b, clock, fail } = setup();
    const early: Permit[] = [b.acquire()!, b.acquire()!];
    fail();
    fail();
    fail();
    expect(b.state).toBe('open');
    b.success(early[0]); // an old success does not close it
    expect(b.state).toBe('open');
    clock.advance(1000);
    const probe = b.acquire()!;
    b.failure(early[1]); // an old failure does not reopen it or steal the probe
    expect(b.state).toBe('half-open');
    b.success(probe);
    expect(b.state).toBe('closed');
  });

  it('openNow opens a closed breaker at once (a read that stalled), and leaves an open one as it is', () => {
    const { b, clock, fail } = setup();
    const before = b.acquire()!;
    b.openNow();
    expect(b.state).toBe('open');
    expect(b.acquire()).toBeNull();
    expect(b.snapshot()).toMatchObject({ opens: 1, cooldownMs: 1000 });
    b.success(before); // a call started before it opened does not close it
    expect(b.state).toBe('open');
    b.openNow();
    expect(b.snapshot().opens).toBe(1);
    // Recovery goes through the probe as usual.
    clock.advance(1000);
    const probe = b.acquire()!;
    expect(probe.probe).toBe(true);
    b.openNow(); // half-open: the probe decides
    expect(b.state).toBe('half-open');
    b.success(probe);
    expect(b.state).toBe('closed');
    fail();
    expect(b.state).toBe('closed');
  });

  it('neutral releases of ordinary calls change nothing', () => {
    const { b, fail } = setup();
    fail();
    fail();
    b.release(b.acquire()!);
    expect(b.state).toBe('closed');
    expect(b.snapshot().consecutiveFailures).toBe(2);
  });

  it('rejects nonsense options', () => {
    expect(() => new CircuitBreaker({ consecutiveFailures: 0 })).toThrow();
    expect(() => new CircuitBreaker({ failureRate: 0 })).toThrow();
    expect(() => new CircuitBreaker({ backoff: 0.5 })).toThrow();
  });
});
