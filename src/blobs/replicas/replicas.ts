/**
 * The replica set: the configured backends, opened and guarded (breakers),
 * and what the blob layer does with them — placement of new blobs, writing
 * (write.ts), reading with failover (read.ts), copying and removing
 * replicas, recording their locations, and the per-backend accounting
 * placement needs (accounting.ts). Data keys are decided in data-keys.ts.
 */
import type { Readable } from 'node:stream';

import type { Logger } from 'pino';

import {
  type BackendDecl,
  type BackendsConfig,
  type BackendState,
  type BackendUsage,
  DEFAULT_READ_STALL_MS,
  GuardedBackend,
  openBackend,
  openReplica,
  placeReplicas,
  readReplica,
  type ReplicaRef,
} from '../../backends/index.js';
import type { WrappedDataKey } from '../../crypto/keys.js';
import type { SseCustomerKey } from '../../crypto/sse-c.js';
import { fail } from '../../errors.js';
import {
  deleteLocations,
  drainingBackends,
  insertLocations,
  lockReferencedBlob,
  lookupBlobs,
  markLocations,
} from '../../meta/blobs/index.js';
import { type MetaDatabases, withTransaction } from '../../meta/engine.js';
import type { DataDb } from '../../meta/handles.js';
import { addMove, type BlobAddress, locatorOf, type StoredBlob, storedSizeOf, type UsageMoves } from '../address.js';
import { DataKeys, type Keyring } from '../data-keys.js';
import type { BlobStore, StagedFile } from '../staging/store.js';
import { Accounting } from './accounting.js';
import { ReplicaReader } from './read.js';
import { writeReplicas } from './write.js';

/** How often a healthy backend's health is checked. */
const HEALTH_INTERVAL_MS = 5000;

export interface ReplicasOptions {
  storage: BackendsConfig;
  dataDir: string;
  store: BlobStore;
  keyring: Keyring;
  encrypt: boolean;
  meta: MetaDatabases;
  log?: Logger;
  /**
   * Also check encrypted blobs' plaintext against their BLAKE3 address on
   * whole reads (their frames authenticate anyway); plaintext blobs are
   * always checked.
   */
  verifyReads?: boolean;
}

export class Replicas {
  readonly backends = new Map<string, GuardedBackend>();
  readonly decls = new Map<string, BackendDecl>();
  /** The fs backend over the data folder, if one is configured: staged files are renamed into it. */
  readonly localName: string | undefined;
  readonly defaultFactor: number;
  readonly strategy: BackendsConfig['placement'];
  readonly encrypt: boolean;
  readonly keys: DataKeys;
  readonly staging: BlobStore;
  readonly log?: Logger;
  /** No progress from a replica for this long (first response, or next chunk) moves a read to the next one. */
  readonly stallMs: number;
  readonly verifyReads: boolean;
  draining = new Set<string>();
  private readonly meta: MetaDatabases;
  private readonly usage: Accounting;
  private readonly reader: ReplicaReader;

  private constructor(opts: ReplicasOptions) {
    this.meta = opts.meta;
    this.staging = opts.store;
    this.log = opts.log;
    this.encrypt = opts.encrypt;
    this.keys = new DataKeys(opts.keyring, opts.encrypt);
    this.defaultFactor = opts.storage.replication;
    this.strategy = opts.storage.placement;
    this.stallMs = opts.storage.readStallTimeoutMs ?? DEFAULT_READ_STALL_MS;
    this.verifyReads = opts.verifyReads ?? false;
    for (const d of opts.storage.backends) this.decls.set(d.name, d);
    this.localName = opts.storage.backends.find((d) => d.type === 'fs' && d.path === opts.dataDir)?.name;
    this.usage = new Accounting(opts.meta.data, (name) => this.decls.get(name)?.quotaBytes, opts.log);
    this.reader = new ReplicaReader(this);
  }

  /** Opens every configured backend (fs folders must carry their marker once they hold blobs) and loads the counters. */
  static async open(opts: ReplicasOptions): Promise<Replicas> {
    const r = new Replicas(opts);
    await r.usage.load(opts.storage.backends.map((d) => d.name));
    const holding = await r.usage.holding();
    const usage = (name: string, u: BackendUsage) => r.usage.count(name, u);
    for (const decl of opts.storage.backends) {
      // The data folder exists before any marker does (installs older than backends), so it never needs one.
      const requireExisting = decl.name !== r.localName && holding.has(decl.name);
      const backend = await openBackend(decl, { usage, requireExisting });
      r.backends.set(decl.name, new GuardedBackend(backend));
    }
    await r.loadStates();
    await r.usage.loadMonthly();
    return r;
  }

  /**
   * Takes new quotas, object size limits and monthly limits for the backends
   * already open (a configuration reload, src/node/reload.ts); placement and
   * the quota check in Accounting read them from here on. Backends added to
   * or removed from the configuration need a restart and are left alone.
   */
  updateLimits(storage: BackendsConfig): void {
    for (const d of storage.backends) {
      const old = this.decls.get(d.name);
      if (old) this.decls.set(d.name, { ...old, quotaBytes: d.quotaBytes, maxObjectSize: d.maxObjectSize, monthly: d.monthly });
    }
  }

  /** Re-reads which backends are draining (set by the admin API or CLI, possibly on another node). */
  async loadStates(): Promise<void> {
    this.draining = await drainingBackends(this.meta.control);
  }

  async refreshUsage(): Promise<void> {
    await this.usage.refreshUsage();
  }

  /** What placement and read ordering need to know about each backend, in declared order. */
  states(): BackendState[] {
    return [...this.decls.values()].map((d) => {
      const g = this.backends.get(d.name);
      return {
        name: d.name,
        quotaBytes: d.quotaBytes,
        usedBytes: this.usage.usedBytes(d.name),
        maxObjectSize: d.maxObjectSize,
        monthlyLimits: d.monthly,
        monthlyUsage: this.usage.monthlyOf(d.name),
        healthy: g?.lastHealth ? g.lastHealth.ok : undefined,
        breaker: g?.breaker.state,
        draining: this.draining.has(d.name),
      };
    });
  }

  // ---- data keys (data-keys.ts) ----

  /** A fresh data key for a body about to be staged, when encryption at rest is on. */
  newDataKey(): Buffer | undefined {
    return this.keys.newDataKey();
  }

  wrap(key: Buffer): WrappedDataKey {
    return this.keys.wrap(key);
  }

  /** The data key of a blob encrypted under the master key (undefined: plain, or SSE-C). */
  dataKeyFor(blob: StoredBlob): Buffer | undefined {
    return this.keys.forScrub(blob);
  }

  // ---- placement and writing ----

  /**
   * Chooses `factor` backends for `bytes` stored bytes, or fails with 507
   * InsufficientStorage (logged at `level`: a caller placing again after
   * failed writes has logged those already).
   */
  async place(bytes: number, factor: number, exclude: string[] = [], level: 'warn' | 'debug' = 'warn'): Promise<string[]> {
    await this.usage.refreshIfStale();
    const result = placeReplicas(this.states(), { size: bytes, factor, strategy: this.strategy, exclude });
    if (!result.ok) {
      this.log?.[level]({ bytes, factor, skipped: result.skipped }, 'no backend can take a blob');
      throw fail.insufficientStorage();
    }
    return result.backends;
  }

  /** Places and writes a staged body's replicas (see write.ts); resolves with their backends once all are durable. */
  store(staged: StagedFile, addr: BlobAddress, factor: number): Promise<string[]> {
    return writeReplicas(this, staged, addr, factor);
  }

  /**
   * Copies a stored blob's bytes as they are (ciphertext stays ciphertext)
   * from one backend to another; a source that stops sending fails the copy
   * within the read stall timeout.
   */
  async copy(addr: BlobAddress, from: string, to: string, bytes: number): Promise<void> {
    const source: ReplicaRef = { backend: this.backends.get(from)!, locator: locatorOf(addr) };
    const { stream } = await openReplica([source], undefined, { attemptTimeoutMs: this.stallMs });
    await this.backends.get(to)!.put(source.locator, readReplica(source, stream, this.stallMs), { size: bytes });
  }

  /** Removes a blob's replicas from these backends; rejects if any could not be removed. */
  async remove(addr: BlobAddress, backends: string[]): Promise<void> {
    const locator = locatorOf(addr);
    const results = await Promise.allSettled(
      backends.map((name) => {
        if (name === this.localName) return this.staging.remove(addr.tenantId, addr.hash, addr.fileId);
        const b = this.backends.get(name);
        if (!b) throw new Error(`backend ${name} is not configured`);
        return b.delete(locator);
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  // ---- locations and accounting ----

  /** Inside a transaction: moves backends' stored-bytes counters (507 past a quota; see Accounting.account). */
  account(trx: DataDb, moves: UsageMoves): Promise<void> {
    return this.usage.account(trx, moves);
  }

  /** Inside a transaction: the location rows of new blobs, then their accounting. */
  addLocations(trx: DataDb, blobs: Array<{ tenantId: string; hash: string; backends: string[]; bytes: number }>): Promise<void> {
    return this.usage.addLocations(trx, blobs);
  }

  /**
   * In one transaction: locks the blob's row (it must still be this blob,
   * still referenced), records replicas on `add`, forgets those on `remove`
   * and moves the backends' usage (507 if a quota would be passed). Returns
   * false when the blob is gone: its row was collected meanwhile.
   */
  async moveLocations(blob: StoredBlob, add: string[], remove: string[]): Promise<boolean> {
    const bytes = storedSizeOf(blob);
    return withTransaction(this.meta.kind, this.meta.data, async (trx) => {
      if (!(await lockReferencedBlob(trx, blob))) return false;
      await insertLocations(
        trx,
        add.map((backend) => ({ tenantId: blob.tenantId, hash: blob.hash, backend })),
      );
      await deleteLocations(trx, blob.tenantId, blob.hash, remove);
      const moves = addMove(new Map(), add, bytes, 1);
      addMove(moves, remove, -bytes, -1);
      await this.account(trx, moves);
      return true;
    });
  }

  /** Records replicas as good (LOCATION_OK) or to repair (LOCATION_BAD). */
  async markLocations(blob: { tenantId: string; hash: string }, backends: string[], state: number): Promise<void> {
    await markLocations(this.meta.data, blob.tenantId, blob.hash, backends, state);
  }

  // ---- reading (read.ts) ----

  /** The blob rows and replica locations of `hashes` of one tenant (one query). */
  lookup(db: DataDb, tenantId: string, hashes: string[]): Promise<Map<string, StoredBlob>> {
    return lookupBlobs(db, tenantId, hashes);
  }

  /** The replicas a read of `bytes` of this blob tries, in order (see read.ts). */
  readPlan(blob: StoredBlob, bytes: number): ReplicaRef[] {
    return this.reader.readPlan(blob, bytes);
  }

  /** Plaintext [start, end] of a blob from the first replica that serves it; null when no replica has it (see read.ts). */
  open(blob: StoredBlob, start: number, end: number, customer?: SseCustomerKey): Promise<Readable | null> {
    return this.reader.open(blob, start, end, customer);
  }

  // ---- worker jobs ----

  /** Adds the monthly counts gathered since the last flush to the table and re-reads the month (see Accounting). */
  flushMonthly(): Promise<void> {
    return this.usage.flushMonthly();
  }

  /**
   * Health checks (worker job): the half-open breakers' probes at every
   * call; every backend's health check at most every HEALTH_INTERVAL_MS
   * (an fs check writes and fsyncs a probe file), sooner while it is failing.
   */
  async checkHealth(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.backends.values()].map(async (b) => {
        if (b.breaker.state === 'half-open') await b.probe();
        else if (!b.lastHealth || !b.lastHealth.ok || now - b.lastHealth.at >= HEALTH_INTERVAL_MS) await b.health();
      }),
    );
  }

  async close(): Promise<void> {
    await this.flushMonthly().catch((err: unknown) =>
      this.log?.warn({ err }, 'flushing the monthly backend counters at close failed (this process’s unflushed counts are lost)'),
    );
    await Promise.all(
      [...this.backends.values()].map((b) =>
        b.close().catch((err: unknown) => this.log?.warn({ err, backend: b.name }, 'closing a backend failed')),
      ),
    );
  }
}
