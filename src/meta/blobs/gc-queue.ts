/**
 * The durable cleanup (GC) queue and its dead letters: blobs whose
 * reference count reached zero, claimed with a lease — and, on PostgreSQL,
 * FOR UPDATE SKIP LOCKED, so concurrent claimers pass each other's rows
 * instead of waiting on them (SQLite has one writer at a time anyway).
 */
import type { Selectable } from 'kysely';

import { type DataDb, engineOf } from '../handles.js';
import type { CleanupDeadLetterTable, CleanupQueueTable } from '../schema.js';

export type CleanupEntry = Selectable<CleanupQueueTable>;
export type DeadLetter = Selectable<CleanupDeadLetterTable>;

export interface BlobRef {
  tenantId: string;
  hash: string;
  fileId: string;
  /** Set when the row is already gone and only these backends' replicas remain to remove. */
  backends?: string | null;
}

/** Inside the releasing transaction: record blobs that reached zero references. Returns their queue ids. */
export async function enqueueCleanup(trx: DataDb, blobs: BlobRef[]): Promise<number[]> {
  if (blobs.length === 0) return [];
  const now = Date.now();
  const rows = await trx
    .insertInto('cleanup_queue')
    .values(
      blobs.map((b) => ({
        tenant_id: b.tenantId,
        hash: b.hash,
        file_id: b.fileId,
        backends: b.backends ?? null,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
      })),
    )
    .returning('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

/** Inside a transaction: leases due, unleased entries (or only `ids`) to `owner` until now + leaseMs. */
export async function claimCleanup(
  trx: DataDb,
  owner: string,
  leaseMs: number,
  opts: { ids?: number[]; limit: number },
): Promise<CleanupEntry[]> {
  const now = Date.now();
  let q = trx
    .selectFrom('cleanup_queue')
    .select('id')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
    .orderBy('id')
    .limit(opts.limit);
  if (opts.ids) q = q.where('id', 'in', opts.ids);
  if (engineOf(trx) === 'postgres') q = q.forUpdate().skipLocked();
  const ids = (await q.execute()).map((r) => r.id);
  if (ids.length === 0) return [];
  return trx
    .updateTable('cleanup_queue')
    .set({ lease_owner: owner, lease_expires_at: now + leaseMs })
    .where('id', 'in', ids)
    .returningAll()
    .execute();
}

/** Records the backends whose replicas an entry still has to remove (its blob row is gone). */
export async function setCleanupBackends(trx: DataDb, id: number, backends: string[]): Promise<void> {
  await trx
    .updateTable('cleanup_queue')
    .set({ backends: JSON.stringify(backends) })
    .where('id', '=', id)
    .execute();
}

export async function deleteCleanupEntry(trx: DataDb, id: number): Promise<void> {
  await trx.deleteFrom('cleanup_queue').where('id', '=', id).execute();
}

/** Moves an entry that failed its last attempt to the dead letters. */
export async function moveToDeadLetters(trx: DataDb, entry: CleanupEntry, attempts: number, message: string): Promise<void> {
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
  await deleteCleanupEntry(trx, entry.id);
}

/** Gives an entry back, to be tried again at `nextAttemptAt`. */
export async function rescheduleCleanup(trx: DataDb, id: number, attempts: number, message: string, nextAttemptAt: number): Promise<void> {
  await trx
    .updateTable('cleanup_queue')
    .set({ attempts, last_error: message, next_attempt_at: nextAttemptAt, lease_owner: null, lease_expires_at: null })
    .where('id', '=', id)
    .execute();
}

export async function pendingCleanup(db: DataDb): Promise<CleanupEntry[]> {
  return db.selectFrom('cleanup_queue').selectAll().orderBy('id').execute();
}

/** Dead letters (all, or the given ids), oldest first. */
export async function deadLetters(db: DataDb, ids?: number[]): Promise<DeadLetter[]> {
  let q = db.selectFrom('cleanup_dead_letters').selectAll().orderBy('id');
  if (ids) q = q.where('id', 'in', ids);
  return q.execute();
}

/** Deletes dead letters (all, or the given ids); returns how many. */
export async function deleteDeadLetters(db: DataDb, ids?: number[]): Promise<number> {
  let q = db.deleteFrom('cleanup_dead_letters');
  if (ids) q = q.where('id', 'in', ids);
  const res = await q.executeTakeFirst();
  return Number(res.numDeletedRows);
}
