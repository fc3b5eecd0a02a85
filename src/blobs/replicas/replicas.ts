/**
 * Blob replicas on the configured backends: where a new blob goes, writing
 * its replicas, reading it back from whichever replica answers, and the
 * per-backend accounting placement needs.
 *
 * Layout. A blob row (tenant, hash, file_id) names one locator,
 * `<tenant>/<h2>/<h2>/<hash>.<fileId>`, identical on every backend; the
 * blob_locations rows say which backends hold it. The fs backend over the
 * data folder (the default `local`) shares its layout with the staging
 * store (blobs/staging/store.ts), so a staged body is renamed into it rather
 * than copied; every other backend receives the staged bytes through
 * Backend.put, all replicas in parallel, and the write is acknowledged only
 * once every one of them is durable.
 *
 * Encryption at rest. A blob written with encryption on has its own random
 * data key; the staged file already holds ciphertext (the body is encrypted
 * as it is received), so replicas copy stored bytes as they are. The data
 * key, wrapped by the master key, lives in the blob row. Reads decrypt only
 * the frames a range needs, and a frame that fails authentication is never
 * sent: the read goes on from the same byte on the next replica.
 *
 * Plaintext blobs (encryption off) are checked against their address: a
 * read of a whole blob is BLAKE3-hashed as it streams and its last chunk
 * sent only if the hash matches (blobs/verify.ts); a small blob is read
 * whole and checked before a byte is sent, even for a range of it. A
 * replica that ends short is that replica's failure, like a bad frame.
 * Only ranges of plaintext blobs over WHOLE_READ go unchecked (README).
 *
 * Accounting. backend_usage holds the stored bytes per backend and moves in
 * the transaction that adds or removes a location (quota checked by the
 * UPDATE itself, so concurrent writes cannot overshoot it). Placement works
 * from a snapshot of it refreshed every second; the monthly request and
 * byte counters are gathered in memory and added to backend_monthly by the
 * worker.
 */
import fsp from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import type { Logger } from 'pino';
import { sql, type Kysely, type Transaction } from 'kysely';
import {
  BackendError,
  BackendFull,
  BackendNotFound,
  BackendUnavailable,
  DEFAULT_READ_STALL_MS,
  GuardedBackend,
  openBackend,
  openBreaker,
  openReplica,
  placeReplicas,
  readReplica,
  readOrder,
  type Backend,
  type BackendDecl,
  type BackendState,
  type BackendUsage,
  type BackendsConfig,
  type ByteRange,
  type ReplicaRef,
} from '../../backends/index.js';
import { createDecryptStream, decryptBuffer, encryptedSize as encryptedSizeOf, FramedCryptoError, frameRangeFor, generateDataKey } from '../../crypto/framed.js';
import { unwrapDataKey, wrapDataKey, type WrappedDataKey } from '../../crypto/keys.js';
import type { MasterKeyring } from '../../core/secrets.js';
import { withTransaction, type MetaDatabases } from '../../meta/engine.js';
import type { DataSchema } from '../../meta/schema.js';
import { errors, S3Error } from '../../s3/errors.js';
import { openDataKeyForCustomer, SseCustomerError, type SseCustomerKey } from '../../crypto/sse-c.js';
import { storedBytes, storedSize, type BlobStore, type StagedFile } from '../staging/store.js';
import { BlobCorruptError, checkWholeBlob, WholeBlobCheck } from '../verify.js';

type Trx = Kysely<DataSchema> | Transaction<DataSchema>;

/**
 * blobs.enc_master_key_id of an SSE-C blob: its data key is sealed to the
 * customer's key (crypto/sse-c.ts), and its address is the BLAKE3 of its
 * stored bytes, so the scrub can check it without that key.
 */
export const SSE_C_KEY_ID = 'sse-c';

export const LOCATION_OK = 0;
export const LOCATION_BAD = 1;

export interface BlobAddress {
  tenantId: string;
  hash: string;
  fileId: string;
}

export interface StoredBlob extends BlobAddress {
  /** Plaintext size. */
  size: number;
  encKey: string | null;
  encMasterKeyId: string | null;
  /** Replicas it should have. */
  replication: number;
  locations: Array<{ backend: string; state: number }>;
}

export function locatorOf(a: BlobAddress): string {
  return `${a.tenantId}/${a.hash.slice(0, 2)}/${a.hash.slice(2, 4)}/${a.hash}.${a.fileId}`;
}

/** The blob a locator names (the inverse of locatorOf); undefined for names that are not ours. */
export function parseLocator(locator: string): BlobAddress | undefined {
  const m = /^([^/]+)\/[0-9a-f]{2}\/[0-9a-f]{2}\/([0-9a-f]{64})\.([A-Za-z0-9_-]+)$/.exec(locator);
  return m ? { tenantId: m[1], hash: m[2], fileId: m[3] } : undefined;
}

/** Bytes of a stored blob (ciphertext size when encrypted). */
export function storedSizeOf(blob: { size: number; encKey: string | null }): number {
  return blob.encKey ? encryptedSizeOf(blob.size) : blob.size;
}

/** Reads up to this size are read whole, checked, and only then sent (a bad replica fails over before the headers). */
const WHOLE_READ = 256 * 1024;
/** How often a healthy backend's health is checked. */
const HEALTH_INTERVAL_MS = 5000;
/** How often the placement snapshot of backend_usage is refreshed from the database. */
const USAGE_REFRESH_MS = 1000;

export interface ReplicasOptions {
  storage: BackendsConfig;
  dataDir: string;
  store: BlobStore;
  keyring: MasterKeyring;
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

interface Monthly {
  month: string;
  requests: number;
  ingressBytes: number;
  egressBytes: number;
}

export function currentMonth(now = Date.now()): string {
  return new Date(now).toISOString().slice(0, 7);
}

export class Replicas {
  readonly backends = new Map<string, GuardedBackend>();
  readonly decls = new Map<string, BackendDecl>();
  /** The fs backend over the data folder, if one is configured: staged files are renamed into it. */
  readonly localName: string | undefined;
  readonly defaultFactor: number;
  readonly strategy: BackendsConfig['placement'];
  readonly encrypt: boolean;
  private used = new Map<string, number>();
  private usedAt = 0;
  draining = new Set<string>();
  private monthly = new Map<string, Monthly>();
  private pendingMonthly = new Map<string, Monthly>();
  private readonly meta: MetaDatabases;
  private readonly staging: BlobStore;
  private readonly keyring: MasterKeyring;
  private readonly log?: Logger;
  /** No progress from a replica for this long (first response, or next chunk) moves a read to the next one. */
  private readonly stallMs: number;
  private readonly verifyReads: boolean;

  private constructor(opts: ReplicasOptions) {
    this.meta = opts.meta;
    this.staging = opts.store;
    this.keyring = opts.keyring;
    this.log = opts.log;
    this.encrypt = opts.encrypt;
    this.defaultFactor = opts.storage.replication;
    this.strategy = opts.storage.placement;
    this.stallMs = opts.storage.readStallTimeoutMs ?? DEFAULT_READ_STALL_MS;
    this.verifyReads = opts.verifyReads ?? false;
    for (const d of opts.storage.backends) this.decls.set(d.name, d);
    this.localName = opts.storage.backends.find((d) => d.type === 'fs' && d.path === opts.dataDir)?.name;
  }

  /** Opens every configured backend (fs folders must carry their marker once they hold blobs) and loads the counters. */
  static async open(opts: ReplicasOptions): Promise<Replicas> {
    const r = new Replicas(opts);
    const db = opts.meta.data;
    for (const decl of opts.storage.backends) {
      await db
        .insertInto('backend_usage')
        .values({ backend: decl.name, stored_bytes: 0, blob_count: 0 })
        .onConflict((oc) => oc.column('backend').doNothing())
        .execute();
    }
    await r.refreshUsage();
    const holding = await db.selectFrom('backend_usage').select(['backend', 'blob_count']).execute();
    const holds = new Map(holding.map((h) => [h.backend, Number(h.blob_count) > 0]));
    const usage = (name: string, u: BackendUsage) => r.count(name, u);
    for (const decl of opts.storage.backends) {
      // The data folder exists before any marker does (installs older than backends), so it never needs one.
      const requireExisting = decl.name !== r.localName && holds.get(decl.name) === true;
      const backend = await openBackend(decl, { usage, requireExisting });
      r.backends.set(decl.name, new GuardedBackend(backend));
    }
    await r.loadStates();
    const month = currentMonth();
    const rows = await db.selectFrom('backend_monthly').selectAll().where('month', '=', month).execute();
    for (const row of rows) {
      r.monthly.set(row.backend, { month, requests: Number(row.requests), ingressBytes: Number(row.ingress_bytes), egressBytes: Number(row.egress_bytes) });
    }
    return r;
  }

  /** Re-reads which backends are draining (set by the admin API or CLI, possibly on another node). */
  async loadStates(): Promise<void> {
    const rows = await this.meta.control.selectFrom('backend_states').selectAll().execute();
    this.draining = new Set(rows.filter((s) => s.draining === 1).map((s) => s.name));
  }

  async refreshUsage(): Promise<void> {
    const rows = await this.meta.data.selectFrom('backend_usage').select(['backend', 'stored_bytes']).execute();
    this.used = new Map(rows.map((r) => [r.backend, Number(r.stored_bytes)]));
    this.usedAt = Date.now();
  }

  /** What placement and read ordering need to know about each backend, in declared order. */
  states(): BackendState[] {
    const month = currentMonth();
    return [...this.decls.values()].map((d) => {
      const g = this.backends.get(d.name);
      const m = this.monthly.get(d.name);
      return {
        name: d.name,
        quotaBytes: d.quotaBytes,
        usedBytes: this.used.get(d.name) ?? 0,
        maxObjectSize: d.maxObjectSize,
        monthlyLimits: d.monthly,
        monthlyUsage: m && m.month === month ? m : undefined,
        healthy: g?.lastHealth ? g.lastHealth.ok : undefined,
        breaker: g?.breaker.state,
        draining: this.draining.has(d.name),
      };
    });
  }

  // ---- writing ----

  /** A fresh data key for a body about to be staged, when encryption at rest is on. */
  newDataKey(): Buffer | undefined {
    return this.encrypt ? generateDataKey() : undefined;
  }

  wrap(key: Buffer): WrappedDataKey {
    return wrapDataKey(this.keyring, key);
  }

  /**
   * Chooses `factor` backends for `bytes` stored bytes, or fails with 507
   * InsufficientStorage (logged at `level`: a caller placing again after
   * failed writes has logged those already).
   */
  async place(bytes: number, factor: number, exclude: string[] = [], level: 'warn' | 'debug' = 'warn'): Promise<string[]> {
    if (Date.now() - this.usedAt > USAGE_REFRESH_MS) await this.refreshUsage();
    const result = placeReplicas(this.states(), { size: bytes, factor, strategy: this.strategy, exclude });
    if (!result.ok) {
      this.log?.[level]({ bytes, factor, skipped: result.skipped }, 'no backend can take a blob');
      throw errors.insufficientStorage();
    }
    return result.backends;
  }

  /**
   * Places and writes a staged body's `factor` replicas, in parallel, and
   * resolves with their backends once every one is durable. A backend that
   * fails its put is passed over and placement asked again (up to three
   * rounds), keeping the replicas already written. On failure every replica
   * written is removed and the error is 507 (no backend can take the blob,
   * or the last one tried was full) or 503. The staged file is gone
   * afterwards either way (renamed into the local backend, or removed).
   */
  async store(staged: StagedFile, addr: BlobAddress, factor: number): Promise<string[]> {
    const locator = locatorOf(addr);
    const size = storedSize(staged);
    const bytes = staged.data ? storedBytes(staged) : undefined;
    const done: string[] = [];
    const failed: string[] = [];
    let renamed = false;
    try {
      let lastError: unknown;
      for (let round = 0; done.length < factor; round++) {
        let targets: string[];
        try {
          targets = await this.place(size, factor - done.length, [...done, ...failed], round === 0 ? 'warn' : 'debug');
        } catch (err) {
          // Placing again after failed writes: no other backend is left, so the answer is why those failed.
          if (round === 0) throw err;
          throw isFull(lastError) ? errors.insufficientStorage() : errors.serviceUnavailable();
        }
        // After the rename into the local backend, the other puts read its file.
        const source = renamed ? this.staging.blobPath(addr.tenantId, addr.hash, addr.fileId) : staged.tmpPath;
        const toLocal = !renamed && this.localName !== undefined && targets.includes(this.localName);
        const remote = targets.filter((t) => t !== this.localName);
        // Remote puts read through handles opened before any rename.
        const handles: fsp.FileHandle[] = [];
        try {
          if (!bytes) for (let i = 0; i < remote.length; i++) handles.push(await fsp.open(source, 'r'));
        } catch (err) {
          await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
          throw err;
        }
        const jobs: Array<Promise<unknown>> = remote.map((name, i) => {
          const body = bytes ? Readable.from([bytes], { objectMode: false }) : handles[i].createReadStream({ highWaterMark: 1 << 20, autoClose: true });
          return this.backends.get(name)!.put(locator, body, { size });
        });
        if (toLocal) jobs.push(this.staging.promote(staged, addr.tenantId, addr.hash, bytes));
        const results = await Promise.allSettled(jobs);
        await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
        const names = [...remote, ...(toLocal ? [this.localName!] : [])];
        let failedNow = false;
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') {
            done.push(names[i]);
            if (names[i] === this.localName) renamed = true;
          } else {
            failed.push(names[i]);
            failedNow = true;
            lastError = r.reason;
            // The data folder's own full disk is logged once per episode by the blob store (blobs/staging/disk-space.ts).
            const quiet = names[i] === this.localName && isFull(r.reason);
            this.log?.[quiet ? 'debug' : 'warn']({ err: r.reason, backend: names[i] }, 'writing a replica failed');
          }
        });
        if (failedNow && round >= 2) throw isFull(lastError) ? errors.insufficientStorage() : errors.serviceUnavailable();
      }
      return done;
    } catch (err) {
      await this.remove(addr, done).catch(() => undefined); // leftovers are orphans the reconciler finds
      throw err;
    } finally {
      if (!renamed) await this.staging.discard(staged).catch(() => undefined);
    }
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

  /**
   * Inside a transaction: moves the stored-bytes counters (and blob counts)
   * of backends. Growth is checked against each quota by the UPDATE itself:
   * a backend that would pass its quota fails the transaction with 507
   * InsufficientStorage. The rows are locked in name order and are the last
   * rows a transaction locks, so two transactions never wait on each other
   * in a cycle through them.
   */
  async account(trx: Trx, moves: Map<string, { bytes: number; count: number }>): Promise<void> {
    for (const name of [...moves.keys()].sort()) {
      const { bytes, count } = moves.get(name)!;
      const quota = this.decls.get(name)?.quotaBytes;
      let q = trx
        .updateTable('backend_usage')
        .set((eb) => ({ stored_bytes: eb('stored_bytes', '+', bytes), blob_count: eb('blob_count', '+', count) }))
        .where('backend', '=', name);
      if (bytes > 0 && quota !== undefined) q = q.where(sql<boolean>`stored_bytes + ${bytes} <= ${quota}`);
      const res = await q.executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) {
        const exists = await trx.selectFrom('backend_usage').select('backend').where('backend', '=', name).executeTakeFirst();
        if (exists) {
          this.log?.warn({ backend: name, bytes, quota }, 'backend quota reached');
          throw errors.insufficientStorage();
        }
        // A backend no longer configured: start its row so the counters stay right.
        await trx.insertInto('backend_usage').values({ backend: name, stored_bytes: Math.max(0, bytes), blob_count: Math.max(0, count) }).execute();
      }
      this.used.set(name, (this.used.get(name) ?? 0) + bytes);
    }
  }

  /** Inside a transaction: the location rows of new blobs, then their accounting. */
  async addLocations(trx: Trx, blobs: Array<{ tenantId: string; hash: string; backends: string[]; bytes: number }>): Promise<void> {
    const now = Date.now();
    const rows = blobs.flatMap((b) => b.backends.map((backend) => ({ tenant_id: b.tenantId, hash: b.hash, backend, state: LOCATION_OK, created_at: now })));
    if (rows.length === 0) return;
    await trx.insertInto('blob_locations').values(rows).execute();
    const moves = new Map<string, { bytes: number; count: number }>();
    for (const b of blobs) addMove(moves, b.backends, b.bytes, 1);
    await this.account(trx, moves);
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
      const locked = await trx
        .updateTable('blobs')
        .set({ ref_count: sql<number>`ref_count` })
        .where('tenant_id', '=', blob.tenantId)
        .where('hash', '=', blob.hash)
        .where('file_id', '=', blob.fileId)
        .where('ref_count', '>', 0)
        .returning('ref_count')
        .executeTakeFirst();
      if (!locked) return false;
      const now = Date.now();
      if (add.length > 0) {
        await trx
          .insertInto('blob_locations')
          .values(add.map((backend) => ({ tenant_id: blob.tenantId, hash: blob.hash, backend, state: LOCATION_OK, created_at: now })))
          .execute();
      }
      if (remove.length > 0) {
        await trx.deleteFrom('blob_locations').where('tenant_id', '=', blob.tenantId).where('hash', '=', blob.hash).where('backend', 'in', remove).execute();
      }
      const moves = addMove(new Map(), add, bytes, 1);
      addMove(moves, remove, -bytes, -1);
      await this.account(trx, moves);
      return true;
    });
  }

  // ---- reading ----

  /** The blob rows and replica locations of `hashes` of one tenant (one query). */
  async lookup(db: Trx, tenantId: string, hashes: string[]): Promise<Map<string, StoredBlob>> {
    const rows = await db
      .selectFrom('blobs as b')
      .leftJoin('blob_locations as l', (j) => j.onRef('l.tenant_id', '=', 'b.tenant_id').onRef('l.hash', '=', 'b.hash'))
      .select(['b.hash', 'b.file_id', 'b.size', 'b.enc_key', 'b.enc_master_key_id', 'b.replication', 'l.backend', 'l.state'])
      .where('b.tenant_id', '=', tenantId)
      .where('b.hash', 'in', hashes)
      .execute();
    const out = new Map<string, StoredBlob>();
    for (const r of rows) {
      let blob = out.get(r.hash);
      if (!blob) {
        blob = {
          tenantId,
          hash: r.hash,
          fileId: r.file_id,
          size: Number(r.size),
          encKey: r.enc_key,
          encMasterKeyId: r.enc_master_key_id,
          replication: Number(r.replication),
          locations: [],
        };
        out.set(r.hash, blob);
      }
      if (r.backend !== null) blob.locations.push({ backend: r.backend, state: Number(r.state) });
    }
    return out;
  }

  /**
   * Replicas in the order to try them: good before suspect, the local one
   * first, healthy backends before others, then in the order the config
   * declares them (so which replica serves a read does not depend on the
   * order the database returned the locations in).
   */
  private readPlan(blob: StoredBlob, bytes: number): ReplicaRef[] {
    const locator = locatorOf(blob);
    const declared = [...this.decls.keys()];
    const rank = (l: { backend: string; state: number }) => (l.state === LOCATION_OK ? 0 : 2) + (l.backend === this.localName ? 0 : 1);
    const names = [...blob.locations].sort((a, b) => rank(a) - rank(b) || declared.indexOf(a.backend) - declared.indexOf(b.backend)).map((l) => l.backend);
    const { order } = readOrder(names, this.states(), { bytes, overLimit: 'last' });
    return order.map((name) => ({ backend: this.backends.get(name)!, locator }));
  }

  private dataKeyOf(blob: StoredBlob, customer?: SseCustomerKey): Buffer | undefined {
    if (!blob.encKey) return undefined;
    if (blob.encMasterKeyId === SSE_C_KEY_ID) {
      if (!customer) throw errors.invalidRequest('The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
      try {
        return openDataKeyForCustomer(blob.encKey, customer);
      } catch (err) {
        if (err instanceof SseCustomerError) throw new S3Error(err.code, err.message, err.status, err.extra);
        throw err;
      }
    }
    return unwrapDataKey(this.keyring, blob.encKey, blob.encMasterKeyId!);
  }

  /**
   * Plaintext [start, end] (inclusive) of a blob, from the first replica that
   * serves it; a replica that fails midway (unreadable, or a frame that does
   * not authenticate) is replaced by the next from the same byte on. Returns
   * null when no replica has the blob (it was collected: re-read metadata).
   */
  async open(blob: StoredBlob, start: number, end: number, customer?: SseCustomerKey): Promise<Readable | null> {
    const key = this.dataKeyOf(blob, customer);
    const plan = this.readPlan(blob, end - start + 1);
    if (plan.length === 0) {
      this.log?.error({ tenantId: blob.tenantId, hash: blob.hash, locations: blob.locations }, 'no readable replica');
      throw errors.serviceUnavailable();
    }
    const checked = this.checksHash(blob, key);
    // A small plaintext blob is read whole even for a range of it, so that range is checked too.
    if (!key && checked && blob.size <= WHOLE_READ) return this.openWhole(blob, plan, key, start, end, true);
    if (end - start + 1 <= WHOLE_READ) return this.openWhole(blob, plan, key, start, end, checked && start === 0 && end === blob.size - 1);
    const check = checked && start === 0 && end === blob.size - 1 ? new WholeBlobCheck(blob.hash, blob.size) : undefined;
    const opts = { attemptTimeoutMs: this.stallMs, rangeWithinBlob: true };
    let first;
    try {
      first = await openReplica(plan, this.cipherRange(blob, key, start, end), opts);
    } catch (err) {
      return this.readFailed(blob, err);
    }
    void this.noteFailures(blob, first.failures);
    const self = this;
    let current = first;
    async function* run(): AsyncGenerator<Buffer> {
      let pos = start;
      let sent = 0;
      // Replicas whose bytes went into this read (any of them may be the corrupt one).
      const served = new Set<string>();
      try {
        for (;;) {
          // A replica that stops sending (or breaks off) fails here within the stall timeout.
          const source = readReplica(current.replica, current.stream, self.stallMs);
          const name = current.replica.backend.name;
          const plain = key ? pipeline(source, createDecryptStream(key, { plainSize: blob.size, plainStart: pos, plainEnd: end }), () => undefined) : source;
          try {
            for await (const chunk of plain as AsyncIterable<Buffer>) {
              if (pos + chunk.length > end + 1) throw new BackendError(name, 'SizeMismatch', 'replica sent more bytes than asked for');
              served.add(name);
              check?.update(chunk); // throws before the chunk that completes a corrupt blob is sent
              pos += chunk.length;
              sent += chunk.length;
              yield chunk;
            }
            // A replica that ends early is short (truncated): its failure, never a response that just stops.
            if (pos <= end) throw new BackendError(name, 'SizeMismatch', `replica ended after ${pos - start} of ${end - start + 1} bytes`);
            return;
          } catch (err) {
            if (err instanceof BlobCorruptError) {
              // Which replica's bytes were wrong is unknown when several served: all are rechecked.
              // Marked before the response fails, so the client's retry reads another replica first.
              await self.noteFailures(blob, [...served].map((backend) => ({ backend, error: err })));
              // Bytes already sent cannot be taken back: the response must fail.
              if (sent > 0) throw err;
              check!.reset();
              pos = start;
              served.clear();
            } else void self.noteFailures(blob, [{ backend: name, error: err }]);
            const failedAt = plan.findIndex((p) => p.backend === current.replica.backend);
            const rest = plan.slice(failedAt + 1);
            if (rest.length === 0 || pos > end) throw err;
            self.log?.warn({ err, backend: name, tenantId: blob.tenantId, hash: blob.hash, at: pos }, 'replica read failed midway; reading on from the next replica');
            current.stream.destroy();
            current = await openReplica(rest, self.cipherRange(blob, key, pos, end), opts);
            void self.noteFailures(blob, current.failures);
          }
        }
      } finally {
        current.stream.destroy();
      }
    }
    return Readable.from(run(), { objectMode: false });
  }

  /**
   * Whether reads of this blob check its bytes against its BLAKE3 address:
   * always for plaintext blobs, for encrypted ones with verifyReads. Never
   * for SSE-C blobs: their address is the hash of the stored ciphertext,
   * and decryption has authenticated every frame.
   */
  private checksHash(blob: StoredBlob, key: Buffer | undefined): boolean {
    if (blob.encMasterKeyId === SSE_C_KEY_ID) return false;
    return !key || this.verifyReads;
  }

  /**
   * A small read: fetched from one replica and checked (decrypted, and with
   * `checkHash` the whole blob hashed) before a byte is sent, so a bad
   * replica is passed over before the response starts. With checkHash the
   * whole blob is fetched and [start, end] cut from it.
   */
  private async openWhole(
    blob: StoredBlob,
    plan: ReplicaRef[],
    key: Buffer | undefined,
    start: number,
    end: number,
    checkHash: boolean,
  ): Promise<Readable | null> {
    const failures: Array<{ backend: string; error: unknown }> = [];
    const [from, to] = checkHash ? [0, blob.size - 1] : [start, end];
    for (let i = 0; i < plan.length; i++) {
      try {
        const range = this.cipherRange(blob, key, from, to)!;
        let stored: Buffer;
        const direct = plan[i].backend.read;
        if (direct) stored = await withTimeout(direct(plan[i].locator, range), this.stallMs, plan[i].backend);
        else {
          const opened = await openReplica([plan[i]], range, { attemptTimeoutMs: this.stallMs, rangeWithinBlob: true });
          const chunks: Buffer[] = [];
          for await (const c of readReplica(opened.replica, opened.stream, this.stallMs)) chunks.push(c);
          stored = Buffer.concat(chunks);
        }
        if (stored.length !== range.end - range.start + 1) throw new BackendError(plan[i].backend.name, 'SizeMismatch', 'replica shorter than its blob');
        let out: Buffer;
        if (!key) out = stored;
        else if (range && range.start === 0 && from === 0 && to === blob.size - 1) out = decryptBuffer(key, stored, blob.size);
        else out = await decryptRange(key, blob.size, from, to, stored);
        if (checkHash) {
          checkWholeBlob(blob.hash, out);
          out = out.subarray(start, end + 1);
        }
        void this.noteFailures(blob, failures);
        return Readable.from([out], { objectMode: false });
      } catch (err) {
        failures.push({ backend: plan[i].backend.name, error: err });
      }
    }
    void this.noteFailures(blob, failures);
    return this.readFailed(blob, failures.length ? aggregate(failures) : new Error('no replica'));
  }

  private readFailed(blob: StoredBlob, err: unknown): null {
    const all = err instanceof AggregateError ? err.errors : [err];
    if (all.length > 0 && all.every((e) => e instanceof BackendNotFound)) return null;
    if (err instanceof BackendNotFound) return null;
    this.log?.error({ err, tenantId: blob.tenantId, hash: blob.hash }, 'no replica of a blob could be read');
    throw errors.serviceUnavailable();
  }

  private cipherRange(blob: StoredBlob, key: Buffer | undefined, start: number, end: number): ByteRange | undefined {
    if (!key) return { start, end };
    const r = frameRangeFor(start, end, blob.size);
    return { start: r.cipherStart, end: r.cipherEnd };
  }

  /**
   * Replicas found missing or corrupt are marked for repair (the scrub
   * rewrites them from a good one); an unavailable backend is only the
   * breaker's business: its replicas are not lost.
   */
  private noteFailures(blob: StoredBlob, failures: Array<{ backend: string; error: unknown }>): Promise<void> {
    const bad = failures.filter((f) => f.error instanceof BackendNotFound || f.error instanceof FramedCryptoError || isCorrupt(f.error));
    if (bad.length === 0) return Promise.resolve();
    this.log?.error({ tenantId: blob.tenantId, hash: blob.hash, backends: bad.map((b) => b.backend) }, 'replica missing or corrupt; marked for repair');
    return this.markLocations(blob, bad.map((b) => b.backend), LOCATION_BAD).catch(() => undefined);
  }

  /** Records replicas as good (LOCATION_OK) or to repair (LOCATION_BAD). */
  async markLocations(blob: { tenantId: string; hash: string }, backends: string[], state: number): Promise<void> {
    if (backends.length === 0) return;
    await this.meta.data
      .updateTable('blob_locations')
      .set({ state })
      .where('tenant_id', '=', blob.tenantId)
      .where('hash', '=', blob.hash)
      .where('backend', 'in', backends)
      .execute();
  }

  /** The data key of a blob encrypted under the master key (undefined: plain, or SSE-C). */
  dataKeyFor(blob: StoredBlob): Buffer | undefined {
    return blob.encMasterKeyId === SSE_C_KEY_ID ? undefined : this.dataKeyOf(blob);
  }

  // ---- monthly counters ----

  private count(name: string, u: BackendUsage): void {
    const month = currentMonth();
    for (const map of [this.monthly, this.pendingMonthly]) {
      let m = map.get(name);
      if (!m || m.month !== month) map.set(name, (m = { month, requests: 0, ingressBytes: 0, egressBytes: 0 }));
      m.requests += u.requests;
      m.ingressBytes += u.ingressBytes;
      m.egressBytes += u.egressBytes;
    }
  }

  /**
   * Adds the counts gathered since the last flush to backend_monthly (worker
   * job), then re-reads this month's totals, so the limits placement checks
   * include what the other nodes counted.
   */
  async flushMonthly(): Promise<void> {
    const pending = this.pendingMonthly;
    this.pendingMonthly = new Map();
    for (const [backend, m] of pending) {
      await this.meta.data
        .insertInto('backend_monthly')
        .values({ backend, month: m.month, requests: m.requests, ingress_bytes: m.ingressBytes, egress_bytes: m.egressBytes })
        .onConflict((oc) =>
          oc.columns(['backend', 'month']).doUpdateSet((eb) => ({
            requests: eb('backend_monthly.requests', '+', m.requests),
            ingress_bytes: eb('backend_monthly.ingress_bytes', '+', m.ingressBytes),
            egress_bytes: eb('backend_monthly.egress_bytes', '+', m.egressBytes),
          })),
        )
        .execute();
    }
    const month = currentMonth();
    const rows = await this.meta.data.selectFrom('backend_monthly').selectAll().where('month', '=', month).execute();
    for (const row of rows) {
      const unflushed = this.pendingMonthly.get(row.backend);
      const extra = unflushed && unflushed.month === month ? unflushed : { requests: 0, ingressBytes: 0, egressBytes: 0 };
      this.monthly.set(row.backend, {
        month,
        requests: Number(row.requests) + extra.requests,
        ingressBytes: Number(row.ingress_bytes) + extra.ingressBytes,
        egressBytes: Number(row.egress_bytes) + extra.egressBytes,
      });
    }
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
    await this.flushMonthly().catch(() => undefined);
    await Promise.all([...this.backends.values()].map((b) => b.close().catch(() => undefined)));
  }
}

/** Adds bytes and count to the moves of each backend. */
export function addMove(
  moves: Map<string, { bytes: number; count: number }>,
  backends: string[],
  bytes: number,
  count: number,
): Map<string, { bytes: number; count: number }> {
  for (const b of backends) {
    const m = moves.get(b) ?? { bytes: 0, count: 0 };
    m.bytes += bytes;
    m.count += count;
    moves.set(b, m);
  }
  return moves;
}

/** A replica write refused for lack of space: a backend's own answer, or the local data folder's 507. */
function isFull(err: unknown): boolean {
  return err instanceof BackendFull || (err instanceof S3Error && err.code === 'InsufficientStorage');
}

/** A read that must answer within ms (a hung mount must not hold a request forever); one that does not opens the backend's breaker. */
async function withTimeout<T>(p: Promise<T>, ms: number, backend: Backend): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      openBreaker(backend);
      reject(new BackendUnavailable(backend.name, `no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isCorrupt(err: unknown): boolean {
  if (err instanceof BlobCorruptError) return true;
  // Replicas are only asked for bytes within their blob: a range refused is a replica too short.
  return err instanceof BackendError && (err.code === 'SizeMismatch' || err.code === 'InvalidRange');
}

function aggregate(failures: Array<{ error: unknown }>): unknown {
  return failures.length === 1 ? failures[0].error : new AggregateError(failures.map((f) => f.error));
}

/** Decrypts the stored bytes frameRangeFor(start, end) named into plaintext [start, end]. */
async function decryptRange(key: Buffer, plainSize: number, start: number, end: number, stored: Buffer): Promise<Buffer> {
  const dec = createDecryptStream(key, { plainSize, plainStart: start, plainEnd: end });
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of dec) out.push(c as Buffer);
  })();
  dec.end(stored);
  await done;
  return Buffer.concat(out);
}
