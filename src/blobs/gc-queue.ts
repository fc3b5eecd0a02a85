/**
 * The durable cleanup queue. A blob whose reference count drops to zero is
 * enqueued in the same transaction that dropped it (so a crash can never
 * forget it); this module then deletes its row — only while the count is
 * still zero — and its file. Failures retry with exponential backoff and
 * jitter; after `maxAttempts` an entry moves to the dead-letter table, which
 * `anvil admin cleanup dlq …` lists, retries or purges.
 *
 * Entries are claimed with a lease (and FOR UPDATE SKIP LOCKED on
 * PostgreSQL), so several Anvil processes on one database never work on the
 * same entry at once, and an entry whose claimer died is picked up again
 * when its lease expires.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import { commitWith, LAZY_COMMIT, withTransaction } from '../meta/engine.js';
import type { CleanupQueueTable, DataSchema } from '../meta/schema.js';
import type { CoreContext } from '../core/context.js';
import { blobRowNaming } from '../meta/blobs/rows.js';
import { addMove, storedSizeOf } from './replicas/replicas.js';

type Trx = Kysely<DataSchema> | Transaction<DataSchema>;
export type CleanupEntry = Selectable<CleanupQueueTable>;

export interface CleanupSettings {
  maxAttempts: number;
  /** First retry delay; doubles per attempt (with ±50% jitter). */
  backoffMs: number;
  leaseMs: number;
}

export const DEFAULT_CLEANUP: CleanupSettings = { maxAttempts: 8, backoffMs: 1000, leaseMs: 60_000 };

export interface BlobRef {
  tenantId: string;
  hash: string;
  fileId: string;
  /** Set when the row is already gone and only these backends' replicas remain to remove. */
  backends?: string | null;
}

/** Inside the releasing transaction: record blobs that reached zero references. Returns their queue ids. */
export async function enqueueCleanup(trx: Trx, blobs: BlobRef[]): Promise<number[]> {
  if (blobs.length === 0) return [];
  const now = Date.now();
  const rows = await trx
    .insertInto('cleanup_queue')
    .values(blobs.map((b) => ({ tenant_id: b.tenantId, hash: b.hash, file_id: b.fileId, backends: b.backends ?? null, attempts: 0, next_attempt_at: now, created_at: now })))
    .returning('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

export class CleanupQueue {
  constructor(
    private readonly ctx: CoreContext,
    private readonly owner: string,
    private readonly settings: CleanupSettings = DEFAULT_CLEANUP,
  ) {}

  /** Claims due, unleased entries (or just `ids`, for the inline fast path after a commit). */
  async claim(opts: { ids?: number[]; limit?: number } = {}): Promise<CleanupEntry[]> {
    const { kind, data: regional } = this.ctx.meta;
    if (opts.ids && opts.ids.length === 0) return [];
    return withTransaction(kind, regional, async (trx) => {
      const now = Date.now();
      let q = trx
        .selectFrom('cleanup_queue')
        .select('id')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
        .orderBy('id')
        .limit(opts.limit ?? 100);
      if (opts.ids) q = q.where('id', 'in', opts.ids);
      if (kind === 'postgres') q = q.forUpdate().skipLocked();
      const ids = (await q.execute()).map((r) => r.id);
      if (ids.length === 0) return [];
      return trx
        .updateTable('cleanup_queue')
        .set({ lease_owner: this.owner, lease_expires_at: now + this.settings.leaseMs })
        .where('id', 'in', ids)
        .returningAll()
        .execute();
      // A lease lost in a power failure only lets the entry be claimed again.
    }, LAZY_COMMIT);
  }

  /**
   * Deletes the blob row while it is still unreferenced, with its location
   * rows and their usage (recording the backends on the entry), then its
   * replicas, then the entry.
   */
  async process(entry: CleanupEntry): Promise<'removed' | 'revived' | 'failed'> {
    const { kind, data: db } = this.ctx.meta;
    try {
      // The row's deletion is durable before the replicas go (every write resolves only once
      // durable), so a power failure never brings back a row whose bytes are gone.
      let backends: string[] | 'revived' = entry.backends ? (JSON.parse(entry.backends) as string[]) : 'revived';
      if (!entry.backends) {
        backends = await withTransaction(kind, db, async (trx) => {
          const deleted = await trx
            .deleteFrom('blobs')
            .where('tenant_id', '=', entry.tenant_id)
            .where('hash', '=', entry.hash)
            .where('file_id', '=', entry.file_id)
            .where('ref_count', '<=', 0)
            .returning(['size', 'enc_key'])
            .executeTakeFirst();
          if (!deleted) {
            // A row still there was revived by a new reference. No row: an earlier attempt of an
            // older version deleted it and failed to unlink the data folder's file; finish that.
            if (await blobRowNaming(trx, entry.tenant_id, entry.hash, entry.file_id)) return 'revived' as const;
            return this.ctx.replicas.localName ? [this.ctx.replicas.localName] : [];
          }
          const where = { tenant: entry.tenant_id, hash: entry.hash };
          const locations = await trx.selectFrom('blob_locations').select('backend').where('tenant_id', '=', where.tenant).where('hash', '=', where.hash).execute();
          const names = locations.map((l) => l.backend);
          await trx.deleteFrom('blob_locations').where('tenant_id', '=', where.tenant).where('hash', '=', where.hash).execute();
          await this.ctx.replicas.account(trx, addMove(new Map(), names, -storedSizeOf({ size: Number(deleted.size), encKey: deleted.enc_key }), -1));
          await trx.updateTable('cleanup_queue').set({ backends: JSON.stringify(names) }).where('id', '=', entry.id).execute();
          return names;
        });
      }
      const remove = backends !== 'revived';
      if (backends !== 'revived') {
        entry.backends = JSON.stringify(backends);
        await this.ctx.replicas.remove({ tenantId: entry.tenant_id, hash: entry.hash, fileId: entry.file_id }, backends);
      }
      // Lost in a power failure, the entry is processed again and finds nothing left to do.
      await commitWith(kind, db, (trx) => trx.deleteFrom('cleanup_queue').where('id', '=', entry.id).execute(), LAZY_COMMIT);
      return remove ? 'removed' : 'revived';
    } catch (err) {
      await this.fail(entry, err as Error);
      return 'failed';
    }
  }

  private async fail(entry: CleanupEntry, err: Error): Promise<void> {
    const attempts = entry.attempts + 1;
    const message = String(err?.message ?? err).slice(0, 1000);
    await withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
      if (attempts >= this.settings.maxAttempts) {
        await trx
          .insertInto('cleanup_dead_letters')
          .values({
            tenant_id: entry.tenant_id,
            hash: entry.hash,
            file_id: entry.file_id,
            backends: entry.backends,
            attempts,
            last_error: message,
            created_at: Number(entry.created_at),
            failed_at: Date.now(),
          })
          .execute();
        await trx.deleteFrom('cleanup_queue').where('id', '=', entry.id).execute();
        return;
      }
      const delay = this.settings.backoffMs * 2 ** (attempts - 1) * (0.5 + Math.random());
      await trx
        .updateTable('cleanup_queue')
        .set({ attempts, last_error: message, next_attempt_at: Date.now() + Math.round(delay), lease_owner: null, lease_expires_at: null })
        .where('id', '=', entry.id)
        .execute();
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
    return this.ctx.meta.data.selectFrom('cleanup_queue').selectAll().orderBy('id').execute();
  }

  async deadLetters() {
    return this.ctx.meta.data.selectFrom('cleanup_dead_letters').selectAll().orderBy('id').execute();
  }

  /** Moves dead letters (all, or the given ids) back into the queue with a fresh attempt budget. */
  async retryDeadLetters(ids?: number[]): Promise<number> {
    return withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
      let q = trx.selectFrom('cleanup_dead_letters').selectAll();
      if (ids) q = q.where('id', 'in', ids);
      const rows = await q.execute();
      if (rows.length === 0) return 0;
      await enqueueCleanup(trx, rows.map((r) => ({ tenantId: r.tenant_id, hash: r.hash, fileId: r.file_id, backends: r.backends })));
      await trx.deleteFrom('cleanup_dead_letters').where('id', 'in', rows.map((r) => r.id)).execute();
      return rows.length;
    });
  }

  /** Forgets dead letters; their files (if any) are left for the reconciler's orphan scan. */
  async purgeDeadLetters(ids?: number[]): Promise<number> {
    let q = this.ctx.meta.data.deleteFrom('cleanup_dead_letters');
    if (ids) q = q.where('id', 'in', ids);
    const res = await q.executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
