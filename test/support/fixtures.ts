/**
 * Suite fixtures: the set-up and tear-down that nearly every integration
 * suite used to copy (`let t; beforeAll(start, create buckets); afterAll(stop)`),
 * registered once by a call in the describe block.
 *
 *   const t = useAnvil(engine, { buckets: ['tags'], config: { maxObjectSize: 1000 }, start: { workerIntervalMs: 50 } });
 *   it('…', async () => { await t.s3.send(…); });
 *
 *   const anvils = anvilPerTest(engine, { config: { encryptAtRest: false } });
 *   it('…', async () => { const t = await anvils.start({ verifyReads: true }); … });   // stopped after the test
 */
import fs from 'node:fs';

import { CreateBucketCommand, type CreateBucketCommandInput } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll } from 'vitest';

import type { StartOptions } from '../../src/app.js';
import type { Config } from '../../src/config/config.js';
import { type EngineName, type HarnessOptions, startTestAnvil, type TestAnvil } from './anvil.js';

export interface AnvilFixtureOptions {
  /** Buckets the root key creates once the server is up: a name, or the full CreateBucket input (an ACL, say). */
  buckets?: (string | CreateBucketCommandInput)[];
  /** Config overrides (startTestAnvil's second argument). */
  config?: Partial<Config>;
  /** Options for startAnvil (worker interval, cleanup, sessions…). */
  start?: StartOptions;
  /** Harness options (a given data folder, a logger to read). */
  harness?: HarnessOptions;
  /** false: start nothing (a suite whose tests are all skipped, e.g. when an external tool is missing). */
  enabled?: boolean;
}

/**
 * Starts one server for the enclosing describe block (beforeAll) and stops it
 * after the block (afterAll). The handle it returns stands for that server:
 * read it inside hooks and tests (which run after the start), never at
 * collection time. Hooks the suite registers after this call run after the
 * start and, since vitest stacks after-hooks, their afterAll runs before the
 * stop.
 */
export function useAnvil(engine: EngineName, opts: AnvilFixtureOptions = {}): TestAnvil {
  let current: TestAnvil | undefined;
  beforeAll(async () => {
    if (opts.enabled === false) return;
    current = await startTestAnvil(engine, opts.config, opts.start, opts.harness);
    for (const bucket of opts.buckets ?? []) {
      await current.s3.send(new CreateBucketCommand(typeof bucket === 'string' ? { Bucket: bucket } : bucket));
    }
  });
  afterAll(async () => {
    const t = current;
    current = undefined;
    await t?.stop();
  });
  return lateBound(() => current, 'useAnvil: the server exists only inside hooks and tests of its suite (after beforeAll)');
}

export interface PerTestAnvils {
  /** Starts a server for the running test with these config overrides on top of the fixture's; it is stopped after the test. */
  start(overrides?: Partial<Config>): Promise<TestAnvil>;
  /** Stops this server (started some other way) after the running test too. */
  track<T extends TestAnvil>(t: T): T;
  /** Folders (backend roots, config files) removed after the running test. */
  dirs: string[];
}

/** For suites where each test starts its own server(s), with different settings: everything started or listed is cleaned up after each test. */
export function anvilPerTest(engine: EngineName, defaults: { config?: Partial<Config>; start?: StartOptions } = {}): PerTestAnvils {
  const started: TestAnvil[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const t of started.splice(0)) await t.stop();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const track = <T extends TestAnvil>(t: T): T => {
    started.push(t);
    return t;
  };
  return {
    dirs,
    track,
    start: async (overrides = {}) => track(await startTestAnvil(engine, { ...defaults.config, ...overrides }, defaults.start)),
  };
}

/**
 * A stand-in for an object that exists only later: every property read or
 * write goes to what `get` returns at that moment, and fails loudly while it
 * returns nothing (a suite reading the server at collection time).
 */
function lateBound<T extends object>(get: () => T | undefined, missing: string): T {
  const target = (): T => {
    const value = get();
    if (!value) throw new Error(missing);
    return value;
  };
  return new Proxy({} as T, {
    get(_, prop) {
      const value = get();
      // Probes by inspection (util.inspect, a promise check on a returned value) must not throw.
      if (!value && (typeof prop === 'symbol' || prop === 'then')) return undefined;
      return Reflect.get(target(), prop);
    },
    set(_, prop, v) {
      return Reflect.set(target(), prop, v);
    },
    has(_, prop) {
      return Reflect.has(target(), prop);
    },
    ownKeys() {
      return Reflect.ownKeys(target());
    },
    getOwnPropertyDescriptor(_, prop) {
      const d = Reflect.getOwnPropertyDescriptor(target(), prop);
      // A proxy may not report a property as non-configurable unless its target has it so.
      return d ? { ...d, configurable: true } : undefined;
    },
  });
}
