/**
 * The blob layer: everything about the bytes of objects, below core and
 * above the metadata and the backend drivers — the way Garage's
 * `src/block/` gathers manager, rc, resync, repair and layout.
 *
 *   staging/      receiving a body: temp files, hashing on workers, digests, disk space
 *   data-keys     the one place encryption keys of blobs are decided and opened
 *   replicas/     placement, writing replicas, reading with failover, accounting
 *   refs          reference counts, changed only inside metadata transactions
 *   gc-queue      the durable cleanup queue of unreferenced blobs
 *   scrub, moves, drain, rebalance, reconcile, backend-*   upkeep and administration
 *
 * `Blobs` is the facade core calls: stage a body (StagedFile + digests),
 * commit it (prepare → reference in the caller's transaction → committed,
 * or commitFailed) or abandon it, read a blob as a verified stream, and the
 * upkeep jobs the node runs. It decides nothing about encryption: core
 * (core/objects/encryption.ts) picks the data key and passes it down. Its
 * parts stay reachable (staging, replicas, cleanup, scrubber) for the
 * node's admin commands and the tests. SQL lives in src/meta/blobs/.
 */
import type { Readable } from 'node:stream';

import type { Logger } from 'pino';

import type { BackendsConfig } from '../backends/index.js';
import type { SseCustomerKey } from '../crypto/sse-c.js';
import { blobRowNaming } from '../meta/blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';
import type { DataDb } from '../meta/handles.js';
import type { StoredBlob } from './address.js';
import { type AdminTaskQueue, BackendAdmin } from './backend-admin.js';
import type { Keyring } from './data-keys.js';
import { drainBackend, type DrainProgress } from './drain.js';
import { CleanupQueue, type CleanupSettings, DEFAULT_CLEANUP } from './gc-queue.js';
import { rebalance, type RebalanceOptions, type RebalanceResult } from './rebalance.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { collectGarbage, prepareBlob, type PreparedBlob, type RefChanges } from './refs.js';
import { Replicas } from './replicas/replicas.js';
import { Scrubber } from './scrub.js';
import type { Digests } from './staging/digest.js';
import type { DiskSpace } from './staging/disk-space.js';
import type { DigestSpec } from './staging/hash-pool.js';
import { BlobStore, type StagedFile } from './staging/store.js';

export * from './address.js';
export { DataKeys, type Keyring } from './data-keys.js';
export { DRAIN_TASK, type DrainProgress, replicasOn, setDraining } from './drain.js';
export { type BlobRef, type CleanupEntry, CleanupQueue, type CleanupSettings, DEFAULT_CLEANUP, enqueueCleanup } from './gc-queue.js';
export { BlobGoneError, manifestOf, type NewBlob, type PreparedBlob, RefChanges, type ReleasedBlob, UnfoldAndRetry } from './refs.js';
export { currentMonth } from './replicas/accounting.js';
export { Replicas, type ReplicasOptions } from './replicas/replicas.js';
export { type BlobCheck, type ReplicaCheck, Scrubber, type ScrubStatus } from './scrub.js';
export { BodyDigester, CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, checksumOf, type Digests } from './staging/digest.js';
export { DiskSpace, isDiskFull } from './staging/disk-space.js';
export { BlobStore, SMALL_BODY, type StagedFile, storedSize } from './staging/store.js';
export { BlobCorruptError } from './verify.js';
/** What a rebalance run did (RebalanceResult is backend administration's answer: the task). */
export type { BackendInfo, BackendList, DrainResult, RebalanceResult, RemoveResult, UndrainResult } from './backend-admin.js';
export { BackendAdmin, setBucketReplication } from './backend-admin.js';
export { REBALANCE_TASK, type RebalanceOptions, type RebalanceResult as RebalanceOutcome } from './rebalance.js';
export type { ReconcileReport } from './reconcile.js';

export interface BlobsOptions {
  meta: MetaDatabases;
  storage: BackendsConfig;
  dataDir: string;
  /** Free space of the data folder and the database (a serving node: full disks logged once per episode). */
  space?: DiskSpace;
  /** Creates the staging folders (a serving node; a short-lived admin command only reads). */
  initStaging: boolean;
  keyring: Keyring;
  /** Encryption at rest of new blobs. */
  encrypt: boolean;
  verifyReads?: boolean;
  /** Stable id of this node's data folder: whose write intents are whose. */
  nodeId: string;
  /** Who claims cleanup entries (unique per process). */
  owner: string;
  cleanup?: CleanupSettings;
  log?: Logger;
}

export class Blobs {
  readonly meta: MetaDatabases;
  /** The staging store (and the local backend's files). */
  readonly staging: BlobStore;
  readonly replicas: Replicas;
  /** The cleanup (GC) queue (admin commands list and retry its dead letters). */
  readonly cleanup: CleanupQueue;
  readonly scrubber: Scrubber;
  readonly nodeId: string;
  private readonly log?: Logger;

  private constructor(opts: BlobsOptions, staging: BlobStore, replicas: Replicas) {
    this.meta = opts.meta;
    this.staging = staging;
    this.replicas = replicas;
    this.nodeId = opts.nodeId;
    this.log = opts.log;
    this.cleanup = new CleanupQueue(this, opts.owner, opts.cleanup ?? DEFAULT_CLEANUP);
    this.scrubber = new Scrubber(this, opts.log);
  }

  /** Opens the staging folder and every configured backend. */
  static async open(opts: BlobsOptions): Promise<Blobs> {
    const staging = new BlobStore(opts.dataDir, opts.space);
    if (opts.initStaging) await staging.init();
    const replicas = await Replicas.open({
      storage: opts.storage,
      dataDir: opts.dataDir,
      store: staging,
      keyring: opts.keyring,
      encrypt: opts.encrypt,
      verifyReads: opts.verifyReads,
      meta: opts.meta,
      log: opts.log,
    });
    return new Blobs(opts, staging, replicas);
  }

  /** The staging store under the name the other blob modules' dependencies use. */
  get blobs(): BlobStore {
    return this.staging;
  }

  /** Full disks: metadata writes that answer 507, and the metrics' view of them. */
  get space(): DiskSpace {
    return this.staging.space;
  }

  /** Replicas each new blob gets unless its bucket says otherwise. */
  get defaultReplication(): number {
    return this.replicas.defaultFactor;
  }

  // ---- the write path: stage → (caller verifies digests) → prepare → reference → committed | commitFailed ----

  /** A data key for encryption at rest under the master key, or none when encryption at rest is off. */
  newDataKey(): Buffer | undefined {
    return this.replicas.newDataKey();
  }

  /**
   * Receives a body into a staged file and computes its digests, encrypted
   * with `dataKey` if given (the caller decided it); `hashStored` also
   * hashes the stored bytes (an SSE-C body's address).
   */
  stage(
    id: string,
    body: AsyncIterable<Buffer>,
    spec: DigestSpec,
    maxSize: number,
    opts: { beforeFile?: () => Promise<void>; dataKey?: Buffer; hashStored: boolean },
  ): Promise<{ staged: StagedFile; digests: Digests }> {
    return this.staging.stage(body, spec, maxSize, id, opts.beforeFile, opts.dataKey, opts.hashStored);
  }

  /** Outside any transaction: dedup against a stored blob, or write this body's replicas (refs.ts). */
  prepare(
    tenantId: string,
    hash: string,
    staged: StagedFile,
    replication: number,
    opts: { forceNew?: boolean; sealed?: string } = {},
  ): Promise<PreparedBlob> {
    return prepareBlob(this, tenantId, hash, staged, replication, opts.forceNew ?? false, opts.sealed);
  }

  /** Gives up a staged body (bad digest, failed precondition): its temp file goes. */
  abandon(staged: StagedFile): Promise<void> {
    return this.staging.discard(staged);
  }

  /** Inside the caller's transaction, last: applies its reference changes in hash order (and records new blobs' replicas). */
  reference(trx: DataDb, refs: RefChanges): Promise<void> {
    return refs.apply(trx, this.replicas);
  }

  /**
   * After the referencing transaction committed: drops what became
   * redundant and collects what was released. Never throws: the operation
   * is committed, and whatever is left is found by the reconciler or the
   * cleanup worker.
   */
  async committed(blob: PreparedBlob, refs: RefChanges): Promise<void> {
    try {
      if (blob.kind === 'existing') await this.staging.discard(blob.staged);
      if (refs.redundantFileId && blob.kind === 'new') {
        await this.replicas.remove({ tenantId: blob.tenantId, hash: blob.hash, fileId: refs.redundantFileId }, blob.backends);
      }
    } catch (err) {
      this.log?.warn(
        { err, hash: blob.kind === 'empty' ? undefined : blob.hash },
        'a redundant staged body or replica was left (an orphan the reconciler removes)',
      );
    }
    await this.released(refs);
  }

  /** After a committed transaction that only released references (deletes, copies, aborts): collects what reached zero. Never throws. */
  released(refs: RefChanges): Promise<void> {
    return collectGarbage(this, refs.released);
  }

  /**
   * After a failed commit: removes what was written, unless the commit did
   * happen after all (an error while committing is ambiguous): a blob row
   * naming our file means it is referenced and must stay.
   */
  async commitFailed(blob: PreparedBlob): Promise<void> {
    if (blob.kind === 'existing') await this.staging.discard(blob.staged);
    if (blob.kind === 'new' && !(await blobRowNaming(this.meta.data, blob.tenantId, blob.hash, blob.fileId))) {
      await this.replicas.remove(blob, blob.backends);
    }
  }

  // ---- the read path ----

  /** Blob rows and their replicas' locations, by hash, of one tenant. */
  lookup(db: DataDb, tenantId: string, hashes: string[]): Promise<Map<string, StoredBlob>> {
    return this.replicas.lookup(db, tenantId, hashes);
  }

  /** Plaintext [start, end] of a blob as a verified stream with failover; null when no replica has it (re-read metadata). */
  read(blob: StoredBlob, start: number, end: number, customerKey?: SseCustomerKey): Promise<Readable | null> {
    return this.replicas.open(blob, start, end, customerKey);
  }

  // ---- upkeep ----

  /** Start-up reconciliation of the folder and backends with the metadata (reconcile.ts). */
  reconcile(): Promise<ReconcileReport> {
    return reconcile(this, this.log);
  }

  /** Worker job: backend health (feeds placement and read order), drain flags set elsewhere, monthly counters. */
  async tickBackends(): Promise<void> {
    await this.replicas.checkHealth();
    await this.replicas.loadStates();
    await this.replicas.flushMonthly();
  }

  drain(backend: string, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<DrainProgress> {
    return drainBackend(this, this.scrubber, backend, signal, this.log, onProgress);
  }

  rebalance(opts: RebalanceOptions = {}, signal?: AbortSignal): Promise<RebalanceResult> {
    return rebalance(this, this.scrubber, opts, signal, this.log);
  }

  /** Backend administration (the admin API's and the CLI's one implementation). */
  admin(tasks: AdminTaskQueue): BackendAdmin {
    return new BackendAdmin(this, tasks);
  }

  async close(): Promise<void> {
    await this.replicas.close();
  }
}
