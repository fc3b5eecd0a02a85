/**
 * Reference counting of blobs. Counts change only inside the metadata
 * transaction that adds or removes a reference (invariant 2); files move
 * only outside transactions:
 *
 *   upload:  stage → (new content) promote file → txn { insert row or +1 }
 *   release: txn { -1; at zero: enqueue cleanup } → after commit: collectGarbage()
 *
 * The cleanup (blobs/gc-queue.ts) deletes a row only while its count is still
 * zero and only then unlinks the file that row names, so a blob revived by a
 * concurrent upload (count back to 1 before the delete) is never removed.
 *
 * Lock order. Every write transaction first locks its bucket's state row
 * (ObjectService.nextSeq, or the statement of ObjectService.lockAndPut) and
 * collects its reference changes in a RefChanges; they are applied last,
 * netted per blob and in hash order. Two transactions therefore never lock
 * the same blob rows in opposite orders (which deadlocked on PostgreSQL when
 * one PUT released H1 and referenced H2 while another did the reverse). The
 * one exception keeps the order too: a new key's single reference is applied
 * by lockAndPut's statement, right after the bucket row; if the key turns out
 * to have a version after all, whose blobs sort before that one, the
 * transaction is rolled back and run again without that shortcut
 * (UnfoldAndRetry).
 */
import { blobExists, type BlobRef, changeRefCount, enqueueCleanup, insertOrReference, keepsWriteIntents } from '../meta/blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';
import type { DataDb } from '../meta/handles.js';
import type { ManifestEntry } from '../meta/schema.js';
import { SSE_C_KEY_ID } from './address.js';
import type { CleanupQueue } from './gc-queue.js';
import type { Replicas } from './replicas/replicas.js';
import { type BlobStore, type StagedFile, storedSize } from './staging/store.js';

/** What preparing a staged body needs (the core context has all of it). */
export interface PrepareDeps {
  meta: MetaDatabases;
  /** The staging store. */
  blobs: BlobStore;
  replicas: Replicas;
  /** Whose write intent a body recorded here is. */
  nodeId: string;
}

/** A blob that reached zero references: the id of its cleanup-queue entry. */
export interface ReleasedBlob {
  queueId: number;
}

/** A staged body made ready to be referenced: either an existing blob or our own promoted file. */
export type PreparedBlob =
  | { kind: 'empty' }
  | { kind: 'existing'; tenantId: string; hash: string; size: number; staged: StagedFile; replication: number }
  | ({ kind: 'new'; tenantId: string; hash: string; size: number } & NewBlob);

/** A blob whose replicas we wrote: what its row and location rows record if it is inserted. */
export interface NewBlob {
  fileId: string;
  /** Backends holding our replicas. */
  backends: string[];
  /** Bytes of each replica (ciphertext size when encrypted). */
  storedBytes: number;
  encKey: string | null;
  encMasterKeyId: string | null;
  replication: number;
}

export class BlobGoneError extends Error {}

/** A transaction must be run again without folding its reference into the locking statement (lock order). */
export class UnfoldAndRetry extends Error {}

/** Outside any transaction: decide whether the content is already stored; if not, put our file in place. */
export async function prepareBlob(
  ctx: PrepareDeps,
  tenantId: string,
  hash: string,
  staged: StagedFile,
  replication: number,
  forceNew = false,
  /** SSE-C: the data key sealed to the customer's key (the blob row keeps it instead of a master-wrapped key). */
  sealedForCustomer?: string,
): Promise<PreparedBlob> {
  if (staged.size === 0) {
    await ctx.blobs.discard(staged);
    return { kind: 'empty' };
  }
  // A body held in memory has no intent yet (ObjectService.stageBody): record it before its file
  // is written, in the same statement as the dedup lookup on the first call.
  if (!forceNew) {
    const intent =
      staged.data !== undefined && keepsWriteIntents(ctx.meta.data) ? { id: staged.id, nodeId: ctx.nodeId, tenantId } : undefined;
    if (await blobExists(ctx.meta.data, tenantId, hash, intent))
      return { kind: 'existing', tenantId, hash, size: staged.size, staged, replication };
  }
  const bytes = storedSize(staged);
  const fileId = staged.id;
  const backends = await ctx.replicas.store(staged, { tenantId, hash, fileId }, replication);
  const wrapped = sealedForCustomer
    ? { wrapped: sealedForCustomer, masterKeyId: SSE_C_KEY_ID }
    : staged.dataKey
      ? ctx.replicas.wrap(staged.dataKey)
      : undefined;
  return {
    kind: 'new',
    tenantId,
    hash,
    size: staged.size,
    fileId,
    backends,
    storedBytes: bytes,
    encKey: wrapped?.wrapped ?? null,
    encMasterKeyId: wrapped?.masterKeyId ?? null,
    replication,
  };
}

export function manifestOf(blob: PreparedBlob): ManifestEntry[] {
  return blob.kind === 'empty' ? [] : [[blob.hash, blob.size]];
}

interface Change {
  tenantId: string;
  hash: string;
  delta: number;
  /** Our own replicas of this hash, to insert if no row exists. */
  newBlob?: NewBlob & { size: number };
  /** Replicas the referencing bucket wants (raised on an existing row when higher). */
  replication?: number;
}

/** Location rows and accounting of a blob row this transaction inserted; written last (lock order). */
interface Placed {
  tenantId: string;
  hash: string;
  blob: NewBlob;
}

/**
 * The reference changes of one transaction, applied together at its end.
 * After apply(): `released` are blobs that reached zero (enqueued for
 * cleanup), `redundantFileId` is a file of ours made unnecessary by an
 * identical blob that already had a row.
 */
export class RefChanges {
  private readonly changes = new Map<string, Change>();
  released: ReleasedBlob[] = [];
  redundantFileId?: string;
  /** A write intent this transaction must delete (whoever deletes it clears this). */
  intentId?: string;
  /** Do not fold the sole reference into another statement (a retry after UnfoldAndRetry). */
  noFold = false;

  private entry(tenantId: string, hash: string): Change {
    const id = `${tenantId}/${hash}`;
    let c = this.changes.get(id);
    if (!c) this.changes.set(id, (c = { tenantId, hash, delta: 0 }));
    return c;
  }

  /** One more reference to every blob of a manifest (a copy, a completed upload's new object). */
  reference(tenantId: string, manifest: ManifestEntry[]): void {
    for (const [hash] of manifest) this.entry(tenantId, hash).delta++;
  }

  /** One reference fewer to every blob of a manifest (an overwritten or deleted object, an aborted part). */
  release(tenantId: string, manifest: ManifestEntry[]): void {
    for (const [hash] of manifest) this.entry(tenantId, hash).delta--;
  }

  /** One reference to a freshly staged body. */
  referencePrepared(blob: PreparedBlob): void {
    if (blob.kind === 'empty') return;
    const c = this.entry(blob.tenantId, blob.hash);
    c.delta++;
    if (blob.kind === 'new') c.newBlob = { ...blob };
    c.replication = Math.max(c.replication ?? 1, blob.replication);
  }

  /** Blob rows this transaction inserted: their locations and usage are recorded at the end of apply(). */
  private readonly placed: Placed[] = [];

  /**
   * The only change so far, when it is one new reference: a statement that
   * locks the bucket may apply it too (ObjectService.lockAndPut), saving a
   * round trip while the bucket lock is held. Nothing else may have locked a
   * blob row before it, and a blob released later must sort after it (the
   * caller checks: foldedHash).
   */
  soleReference(): { tenantId: string; hash: string; newBlob?: NewBlob & { size: number }; replication?: number } | undefined {
    if (this.changes.size !== 1) return undefined;
    const [c] = this.changes.values();
    return c.delta === 1 ? c : undefined;
  }

  /** The hash whose reference was applied by another statement (see soleReference). */
  foldedHash?: string;

  /** Records that the sole reference was applied: fileId is the blob row's file, undefined if there was no row. */
  soleReferenceApplied(fileId: string | undefined): void {
    const c = this.soleReference()!;
    if (fileId === undefined) throw new BlobGoneError();
    if (c.newBlob && fileId !== c.newBlob.fileId) this.redundantFileId = c.newBlob.fileId;
    else if (c.newBlob) this.placed.push({ tenantId: c.tenantId, hash: c.hash, blob: c.newBlob });
    this.changes.clear();
    this.foldedHash = `${c.tenantId}/${c.hash}`;
  }

  /** Whether applying these releases later would lock a blob row that sorts before the folded one. */
  wouldBreakOrder(tenantId: string, manifest: ManifestEntry[]): boolean {
    return this.foldedHash !== undefined && manifest.some(([hash]) => `${tenantId}/${hash}` < this.foldedHash!);
  }

  /**
   * Applies every change in (tenant, hash) order, then records the
   * locations of the blob rows it inserted and moves the backends' usage
   * counters (always the last rows a transaction locks, in name order).
   * Throws BlobGoneError if a referenced blob no longer exists, and 507
   * InsufficientStorage if a backend's quota would be passed.
   */
  async apply(trx: DataDb, replicas?: Replicas): Promise<void> {
    const zero: BlobRef[] = [];
    const ordered = [...this.changes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
    for (const c of ordered) {
      if (c.newBlob && c.delta > 0) {
        const nb = c.newBlob;
        const row = {
          tenantId: c.tenantId,
          hash: c.hash,
          fileId: nb.fileId,
          size: nb.size,
          encKey: nb.encKey,
          encMasterKeyId: nb.encMasterKeyId,
        };
        const fileId = await insertOrReference(trx, { ...row, replication: c.replication ?? nb.replication }, c.delta);
        if (fileId !== nb.fileId) this.redundantFileId = nb.fileId;
        else this.placed.push({ tenantId: c.tenantId, hash: c.hash, blob: nb });
        continue;
      }
      // An existing row is required: for references (it may have been collected meanwhile) and for releases.
      if (c.newBlob) this.redundantFileId = c.newBlob.fileId;
      if (c.delta === 0 && !c.newBlob) continue;
      const row = await changeRefCount(trx, c.tenantId, c.hash, c.delta, c.delta > 0 ? c.replication : undefined);
      if (!row) {
        if (c.delta >= 0) throw new BlobGoneError();
        continue; // releasing a blob that is already gone: nothing to do
      }
      if (row.refCount <= 0) zero.push({ tenantId: c.tenantId, hash: c.hash, fileId: row.fileId });
    }
    this.released = (await enqueueCleanup(trx, zero)).map((queueId) => ({ queueId }));
    if (this.placed.length > 0) {
      if (!replicas) throw new Error('RefChanges.apply: new blobs need the replicas service to record their locations');
      await replicas.addLocations(
        trx,
        this.placed.splice(0).map((p) => ({ tenantId: p.tenantId, hash: p.hash, backends: p.blob.backends, bytes: p.blob.storedBytes })),
      );
    }
  }
}

/**
 * After commit: clean up the released blobs right away. Never throws: the
 * operation is already committed, and anything not done here stays in the
 * durable queue for the worker.
 */
export async function collectGarbage(ctx: { cleanup: Pick<CleanupQueue, 'processIds'> }, released: ReleasedBlob[]): Promise<void> {
  try {
    await ctx.cleanup.processIds(released.map((r) => r.queueId));
  } catch {
    // Safe to drop: the entries are durable in the queue (enqueued in the committed transaction),
    // and the cleanup worker retries them; process() records its own failures on the entry.
  }
}
