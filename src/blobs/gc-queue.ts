/**
 * The durable cleanup (GC) queue. A blob whose reference count drops to
 * zero is enqueued in the same transaction that dropped it (so a crash can
 * never forget it); this module then deletes its row — only while the count
 * is still zero — and its replicas. Failures retry with exponential backoff
 * and jitter; after `maxAttempts` an entry moves to the dead-letter table,
 * which `anvil admin cleanup dlq …` lists, retries or purges.
 *
 * Entries are claimed with a lease (meta/blobs/gc-queue.ts), so several
 * Anvil processes on one database never work on the same entry at once,
 * and an entry whose claimer died is picked up again when its lease expires.
 */
import {
  blobRowNaming,
  claimCleanup,
  type CleanupEntry,
  type DeadLetter,
  deadLetters,
  deleteCleanupEntry,
  deleteDeadLetters,
  deleteLocations,
  deleteUnreferenced,
  enqueueCleanup,
  locationsOf,
  moveToDeadLetters,
  pendingCleanup,
  rescheduleCleanup,
  setCleanupBackends,
} from '../meta/blobs/index.js';
import { commitWith, LAZY_COMMIT, type MetaDatabases, withTransaction } from '../meta/engine.js';
import { addMove, storedSizeOf } from './address.js';
import type { Replicas } from './replicas/replicas.js';

export { type BlobRef, type CleanupEntry, enqueueCleanup } from '../meta/blobs/index.js';

export interface CleanupSettings {
  maxAttempts: number;
  /** First retry delay; doubles per attempt (with ±50% jitter). */
  backoffMs: number;
  leaseMs: number;
}

export const DEFAULT_CLEANUP: CleanupSettings = { maxAttempts: 8, backoffMs: 1000, leaseMs: 60_000 };

/** What the queue needs: the data database and the replicas it removes. */
export interface CleanupDeps {
  meta: MetaDatabases;
  replicas: Replicas;
}

export class CleanupQueue {
  constructor(
    private readonly deps: CleanupDeps,
    private readonly owner: string,
    private readonly settings: CleanupSettings = DEFAULT_CLEANUP,
  ) {}

  /** Claims due, unleased entries (or just `ids`, for the inline fast path after a commit). */
  async claim(opts: { ids?: number[]; limit?: number } = {}): Promise<CleanupEntry[]> {
    const { kind, data } = this.deps.meta;
    if (opts.ids && opts.ids.length === 0) return [];
    // A lease lost in a power failure only lets the entry be claimed again.
    return withTransaction(
      kind,
      data,
      (trx) => claimCleanup(trx, this.owner, this.settings.leaseMs, { ids: opts.ids, limit: opts.limit ?? 100 }),
      LAZY_COMMIT,
    );
  }

  /**
   * Deletes the blob row while it is still unreferenced, with its location
   * rows and their usage (recording the backends on the entry), then its
   * replicas, then the entry.
   */
  async process(entry: CleanupEntry): Promise<'removed' | 'revived' | 'failed'> {
    const { kind, data: db } = this.deps.meta;
    const replicas = this.deps.replicas;
    try {
      // The row's deletion is durable before the replicas go (every write resolves only once
      // durable), so a power failure never brings back a row whose bytes are gone.
      let backends: string[] | 'revived' = entry.backends ? (JSON.parse(entry.backends) as string[]) : 'revived';
      if (!entry.backends) {
        backends = await withTransaction(kind, db, async (trx) => {
          const deleted = await deleteUnreferenced(trx, entry.tenant_id, entry.hash, entry.file_id);
          if (!deleted) {
            // A row still there was revived by a new reference. No row: an earlier attempt of an
            // older version deleted it and failed to unlink the data folder's file; finish that.
            if (await blobRowNaming(trx, entry.tenant_id, entry.hash, entry.file_id)) return 'revived' as const;
            return replicas.localName ? [replicas.localName] : [];
          }
          const names = await locationsOf(trx, entry.tenant_id, entry.hash);
          await deleteLocations(trx, entry.tenant_id, entry.hash);
          await replicas.account(trx, addMove(new Map(), names, -storedSizeOf(deleted), -1));
          await setCleanupBackends(trx, entry.id, names);
          return names;
        });
      }
      const remove = backends !== 'revived';
      if (backends !== 'revived') {
        entry.backends = JSON.stringify(backends);
        await replicas.remove({ tenantId: entry.tenant_id, hash: entry.hash, fileId: entry.file_id }, backends);
      }
      // Lost in a power failure, the entry is processed again and finds nothing left to do.
      await commitWith(kind, db, (trx) => deleteCleanupEntry(trx, entry.id), LAZY_COMMIT);
      return remove ? 'removed' : 'revived';
    } catch (err) {
      await this.fail(entry, err as Error);
      return 'failed';
    }
  }

  private async fail(entry: CleanupEntry, err: Error): Promise<void> {
    const attempts = entry.attempts + 1;
    const message = String(err?.message ?? err).slice(0, 1000);
    await withTransaction(this.deps.meta.kind, this.deps.meta.data, async (trx) => {
      if (attempts >= this.settings.maxAttempts) return moveToDeadLetters(trx, entry, attempts, message);
      const delay = this.settings.backoffMs * 2 ** (attempts - 1) * (0.5 + Math.random());
      await rescheduleCleanup(trx, entry.id, attempts, message, Date.now() + Math.round(delay));
    });
  }

  /** Processes the given entries now (the fast path right after the releasing commit). */
  async processIds(ids: number[]): Promise<void> {
    for (const entry of await this.claim({ ids })) await this.process(entry);
  }

  /** One worker pass: everything due, in batches. Returns how many entries were handled. */
  async runDue(): Promise<number> {
    let handled = 0;
    for (;;) {
      const batch = await this.claim({ limit: 100 });
      for (const entry of batch) await this.process(entry);
      handled += batch.length;
      if (batch.length < 100) return handled;
    }
  }

  // ---- dead letters (admin) ----

  async pending(): Promise<CleanupEntry[]> {
    return pendingCleanup(this.deps.meta.data);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return deadLetters(this.deps.meta.data);
  }

  /** Moves dead letters (all, or the given ids) back into the queue with a fresh attempt budget. */
  async retryDeadLetters(ids?: number[]): Promise<number> {
    return withTransaction(this.deps.meta.kind, this.deps.meta.data, async (trx) => {
      const rows = await deadLetters(trx, ids);
      if (rows.length === 0) return 0;
      await enqueueCleanup(
        trx,
        rows.map((r) => ({ tenantId: r.tenant_id, hash: r.hash, fileId: r.file_id, backends: r.backends })),
      );
      await deleteDeadLetters(
        trx,
        rows.map((r) => r.id),
      );
      return rows.length;
    });
  }

  /** Forgets dead letters; their files (if any) are left for the reconciler's orphan scan. */
  async purgeDeadLetters(ids?: number[]): Promise<number> {
    return deleteDeadLetters(this.deps.meta.data, ids);
  }
}
