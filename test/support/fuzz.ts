/**
 * Shared pieces of the fuzz and fault suites: a watch on process-level
 * errors (an in-process server crash is an uncaught exception in the test
 * worker), a sentinel set of objects that must survive every bad request
 * unchanged, and the fast-check settings every property runs with.
 */
import { createHash } from 'node:crypto';

import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

import type { Config } from '../../src/config/config.js';
import { type EngineName, stagedFiles, startTestAnvil, type TestAnvil } from './anvil.js';

/**
 * Runs per property. Small enough that each suite stays well under a minute
 * per engine on a 2-core machine; FUZZ_RUNS raises it for a longer hunt.
 * FUZZ_SEED replays a failure (fast-check prints the seed and path of every
 * failing run). Under CI the seed is fixed unless FUZZ_SEED=random: a gate
 * must give the same answer for the same code (Hypothesis' `derandomize` for
 * CI, the same reasoning); the hunt for new cases runs on developer machines,
 * where every run draws a fresh seed.
 */
export function fuzzParams<T>(runs: number): fc.Parameters<T> {
  const scale = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
  const seed = fuzzSeed();
  return {
    numRuns: Math.max(1, Math.round(runs * scale)),
    ...(seed === undefined ? {} : { seed }),
    // A failing case shrinks to a small one, but each shrink step costs requests: keep it bounded.
    endOnFailure: false,
    interruptAfterTimeLimit: 50_000,
    markInterruptAsFailure: false,
  };
}

const CI_SEED = 20261205;

function fuzzSeed(): number | undefined {
  const asked = process.env.FUZZ_SEED;
  if (asked === 'random') return undefined;
  if (asked !== undefined && asked !== '') return Number(asked);
  return process.env.CI ? CI_SEED : undefined;
}

/**
 * Records every uncaught exception and unhandled rejection while the suite
 * runs. Vitest also reports them, but only at the end of the run and against
 * "the latest test that might have caused it"; asserting here makes the very
 * request that crashed the server fail its own test.
 */
export class ProcessErrorWatch {
  readonly seen: unknown[] = [];
  private readonly onError = (err: unknown) => {
    this.seen.push(err);
  };

  start(): void {
    process.on('uncaughtException', this.onError);
    process.on('unhandledRejection', this.onError);
  }

  stop(): void {
    process.off('uncaughtException', this.onError);
    process.off('unhandledRejection', this.onError);
  }

  /** Fails if anything escaped since the last check (and forgets it, so one crash fails one test). */
  async assertNone(context = ''): Promise<void> {
    // A stream error is emitted on a later tick than the answer that preceded it.
    await new Promise((r) => setTimeout(r, 5));
    const seen = this.seen.splice(0);
    if (seen.length > 0) {
      const first = seen[0] as Error;
      throw new Error(
        `the server raised ${seen.length} process-level error(s)${context ? ` after ${context}` : ''}: ${first?.stack ?? String(first)}`,
      );
    }
  }
}

export const md5Hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

/**
 * Objects that no bad request may change: their keys, bytes and ETags are
 * checked after each property (and can be checked after each run).
 */
export class Sentinels {
  private readonly objects = new Map<string, Buffer>();

  constructor(
    private readonly t: TestAnvil,
    readonly bucket: string,
  ) {}

  keys(): string[] {
    return [...this.objects.keys()];
  }

  has(key: string): boolean {
    return this.objects.has(key);
  }

  body(key: string): Buffer | undefined {
    return this.objects.get(key);
  }

  async put(key: string, body: Buffer | string = `sentinel:${key}`): Promise<void> {
    const bytes = Buffer.from(body);
    await this.t.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes }));
    this.objects.set(key, bytes);
  }

  /** Restores the given sentinel keys (after a request that was allowed to delete them). */
  async restore(keys: Iterable<string>): Promise<void> {
    for (const key of keys) {
      const body = this.objects.get(key);
      if (body) await this.t.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
    }
  }

  /** Puts back every sentinel that is missing or changed, and deletes every other object. */
  async resync(): Promise<void> {
    const listed = await this.listed();
    for (const [key, body] of this.objects) {
      if (listed.get(key) !== md5Hex(body)) await this.restore([key]);
    }
    for (const key of listed.keys()) {
      if (!this.objects.has(key)) await this.t.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    }
  }

  /** Every key the bucket lists (all pages). */
  async listed(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await this.t.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token }));
      for (const c of page.Contents ?? []) out.set(c.Key!, c.ETag!.replace(/"/g, ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /**
   * The bucket lists exactly the sentinels (plus `alsoAllowed` keys, which
   * are then deleted), each with its own ETag; one sentinel's bytes are read
   * back in full as a follow-up request that must succeed.
   */
  async assertIntact(alsoAllowed: (key: string) => boolean = () => false): Promise<void> {
    const listed = await this.listed();
    const extra = [...listed.keys()].filter((k) => !this.objects.has(k));
    const unexpected = extra.filter((k) => !alsoAllowed(k));
    expect(unexpected, 'objects that appeared').toEqual([]);
    for (const k of extra) await this.t.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k }));
    const expected = new Map([...this.objects].map(([k, b]) => [k, md5Hex(b)]));
    expect(new Map([...listed].filter(([k]) => this.objects.has(k))), 'sentinel objects').toEqual(expected);
    const [firstKey, firstBody] = this.objects.entries().next().value as [string, Buffer];
    const got = await this.t.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: firstKey }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(firstBody)).toBe(true);
  }
}

/**
 * Wraps one property run: if it fails, `restore` puts back what it may have
 * changed before the failure propagates, so that fast-check's shrinking
 * replays (and the next properties) start from a clean state.
 */
export function restoring<A extends unknown[]>(
  run: (...args: A) => Promise<void>,
  restore: () => Promise<unknown>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (err) {
      await restore();
      throw err;
    }
  };
}

/** Waits (bounded) until no staged upload file is left in the data folder. */
export async function expectNoStagedFiles(t: TestAnvil, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  let left = stagedFiles(t.dataDir);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = stagedFiles(t.dataDir);
  }
  expect(left, `staged files left after ${withinMs} ms`).toEqual([]);
}

/** A 5xx is never the answer to bad input; 501 NotImplemented is (for a feature Anvil does not have). */
export function expectClientError(status: number, allowed: number[] = [], what = ''): void {
  const ok = (status >= 400 && status < 500) || allowed.includes(status);
  expect(ok, `${what} answered ${status}`).toBe(true);
}

export interface FuzzSuite {
  t: TestAnvil;
  sentinels: Sentinels;
}

/**
 * The frame every fuzz and fault suite runs in: a process-error watch, a
 * server with one bucket of sentinels, and after each test the sentinels put
 * back first (one failed property must not fail the next ones), then no
 * escaped process error and no staged file left. `seed` fills the bucket;
 * `ready` hands the server and sentinels to the suite once they exist;
 * `afterEach` runs before the checks.
 */
export function fuzzSuite(
  engine: EngineName,
  opts: {
    bucket: string;
    overrides?: Partial<Config>;
    seed: (suite: FuzzSuite) => Promise<void>;
    ready: (suite: FuzzSuite) => void;
    afterEach?: () => void;
    afterAll?: () => void;
  },
): ProcessErrorWatch {
  const watch = new ProcessErrorWatch();
  let suite: FuzzSuite | undefined;
  beforeAll(async () => {
    watch.start();
    const t = await startTestAnvil(engine, opts.overrides);
    await t.s3.send(new CreateBucketCommand({ Bucket: opts.bucket }));
    suite = { t, sentinels: new Sentinels(t, opts.bucket) };
    opts.ready(suite);
    await opts.seed(suite);
  });
  afterAll(async () => {
    watch.stop();
    opts.afterAll?.();
    await suite?.t.stop();
  });
  afterEach(async () => {
    opts.afterEach?.();
    await suite?.sentinels.resync();
    await watch.assertNone();
    if (suite) await expectNoStagedFiles(suite.t);
  });
  return watch;
}
