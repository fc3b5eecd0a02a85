/**
 * Integration-test harness: a real Anvil server on a random loopback port
 * with a temp data folder, on SQLite or on a fresh PostgreSQL database, and
 * real AWS SDK v3 clients talking to it with their default settings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, type CreateBucketCommandInput, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import pino, { type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, inject } from 'vitest';

import { type Anvil, startAnvil, type StartOptions } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import { createTestDatabase } from './postgres.js';

export type EngineName = 'sqlite' | 'postgres';

export interface TestAnvil {
  engine: EngineName;
  anvil: Anvil;
  config: Config;
  dataDir: string;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** An SDK client with default settings (CRC32 trailers, path-style addressing). */
  s3: S3Client;
  client(creds?: { accessKeyId: string; secretAccessKey: string }, extra?: Record<string, unknown>): S3Client;
  /** Restart on the same data folder and database (same root credentials). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const ROOT_KEY = 'AKIAANVILTESTROOT000';
export const ROOT_SECRET = 'test-root-secret-key-0123456789abcdefghij';

export async function databaseUrlFor(engine: EngineName, dataDir: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (engine === 'sqlite') return { url: `sqlite:${path.join(dataDir, 'anvil.db')}`, drop: async () => undefined };
  const admin = inject('pgAdminUrl');
  if (!admin) throw new Error('PostgreSQL is not available');
  return createTestDatabase(admin);
}

export interface HarnessOptions {
  /** An existing, empty folder to use as the data folder (a tmpfs mount, say); the caller removes it. */
  dataDir?: string;
  /** The server's logger (to read what it logged); default: a pino logger at config.logLevel. */
  log?: Logger;
}

export async function startTestAnvil(
  engine: EngineName,
  overrides: Partial<Config> = {},
  startOpts: StartOptions = {},
  harness: HarnessOptions = {},
): Promise<TestAnvil> {
  const dataDir = harness.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-test-'));
  const db = await databaseUrlFor(engine, dataDir);
  const config: Config = {
    ...loadConfig(
      {
        listen: '127.0.0.1:0',
        dataDir,
        databaseUrl: db.url,
        rootAccessKey: ROOT_KEY,
        rootSecretKey: ROOT_SECRET,
        logLevel: process.env.ANVIL_TEST_LOG ?? 'silent',
      },
      {},
    ),
    ...overrides,
  };
  const log = harness.log ?? pino({ level: config.logLevel });
  let anvil = await startAnvil(config, log, startOpts);
  const clients: S3Client[] = [];
  const t: TestAnvil = {
    engine,
    anvil,
    config,
    dataDir,
    endpoint: anvil.endpoint,
    accessKeyId: ROOT_KEY,
    secretAccessKey: ROOT_SECRET,
    s3: undefined as unknown as S3Client,
    client(creds = { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET }, extra = {}) {
      const c = new S3Client({
        endpoint: t.endpoint,
        region: config.region,
        forcePathStyle: true,
        credentials: creds,
        maxAttempts: 1,
        ...extra,
      });
      clients.push(c);
      return c;
    },
    async restart() {
      await anvil.close();
      anvil = await startAnvil({ ...config, listen: `127.0.0.1:${new URL(t.endpoint).port}` }, log, startOpts);
      t.anvil = anvil;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await anvil.close();
      await db.drop();
      if (!harness.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  t.s3 = t.client();
  return t;
}

// ---------------------------------------------------------------- suite fixtures

/*
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

/** Declares the suite once per metadata engine; the PostgreSQL half is skipped (loudly, in global setup) only outside CI. */
export function describeEachEngine(name: string, fn: (engine: EngineName) => void): void {
  for (const engine of ['sqlite', 'postgres'] as const) {
    const available = engine === 'sqlite' || inject('pgAdminUrl') !== null;
    describe.skipIf(!available)(`${name} [${engine}]`, () => fn(engine));
  }
}

/** Lists every blob file in the data folder (to prove nothing leaked). */
export function blobFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).map((p) => path.join(root, p)).filter((p) => fs.statSync(p).isFile());
}

export function stagedFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'tmp');
  // Backend health probes (.health-<uuid>) come and go there on their own; they are not staged bodies.
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => !name.startsWith('.health-')) : [];
}

/** Awaits a request that must fail and returns its S3 error. */
export async function s3Error(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}
