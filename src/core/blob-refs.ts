/**
 * Reference counting of blobs. Counts change only inside the metadata
 * transaction that adds or removes a reference (invariant 2); files move
 * only outside transactions:
 *
 *   upload:  stage → (new content) promote file → txn { insert row or +1 }
 *   release: txn { -1; at zero: enqueue cleanup } → after commit: collectGarbage()
 *
 * The cleanup (work/cleanup.ts) deletes a row only while its count is still
 * zero and only then unlinks the file that row names, so a blob revived by a
 * concurrent upload (count back to 1 before the delete) is never removed.
 */
import type { Kysely, Transaction } from 'kysely';
import type { RegionalSchema, ManifestEntry } from '../meta/schema.js';
import type { CoreContext } from './context.js';
import type { StagedFile } from '../storage/blob-store.js';
import { enqueueCleanup, type BlobRef } from '../work/cleanup.js';

type Trx = Kysely<RegionalSchema> | Transaction<RegionalSchema>;

/** A blob that reached zero references: the id of its cleanup-queue entry. */
export interface ReleasedBlob {
  queueId: number;
}

/** A staged body made ready to be referenced: either an existing blob or our own promoted file. */
export type PreparedBlob =
  | { kind: 'empty' }
  | { kind: 'existing'; tenantId: string; hash: string; size: number; staged: StagedFile }
  | { kind: 'new'; tenantId: string; hash: string; size: number; fileId: string };

export class BlobGoneError extends Error {}

/** Outside any transaction: decide whether the content is already stored; if not, put our file in place. */
export async function prepareBlob(
  ctx: CoreContext,
  tenantId: string,
  hash: string,
  staged: StagedFile,
  forceNew = false,
): Promise<PreparedBlob> {
  if (staged.size === 0) {
    await ctx.blobs.discard(staged);
    return { kind: 'empty' };
  }
  if (!forceNew) {
    const existing = await ctx.meta.regional
      .selectFrom('blobs')
      .select('file_id')
      .where('tenant_id', '=', tenantId)
      .where('hash', '=', hash)
      .executeTakeFirst();
    if (existing) return { kind: 'existing', tenantId, hash, size: staged.size, staged };
  }
  const fileId = await ctx.blobs.promote(staged, tenantId, hash);
  return { kind: 'new', tenantId, hash, size: staged.size, fileId };
}

/**
 * Inside the transaction: take one reference. Returns the fileId of a file
 * of ours that turned out redundant (to delete after commit), if any.
 * Throws BlobGoneError when an 'existing' blob was collected meanwhile; the
 * caller then prepares again with forceNew.
 */
export async function referenceBlob(trx: Trx, blob: PreparedBlob): Promise<{ redundantFileId?: string }> {
  if (blob.kind === 'empty') return {};
  if (blob.kind === 'existing') {
    const res = await trx
      .updateTable('blobs')
      .set((eb) => ({ ref_count: eb('ref_count', '+', 1) }))
      .where('tenant_id', '=', blob.tenantId)
      .where('hash', '=', blob.hash)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new BlobGoneError();
    return {};
  }
  const row = await trx
    .insertInto('blobs')
    .values({
      tenant_id: blob.tenantId,
      hash: blob.hash,
      file_id: blob.fileId,
      size: blob.size,
      ref_count: 1,
      created_at: Date.now(),
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'hash']).doUpdateSet((eb) => ({ ref_count: eb('blobs.ref_count', '+', 1) })))
    .returning('file_id')
    .executeTakeFirstOrThrow();
  return row.file_id === blob.fileId ? {} : { redundantFileId: blob.fileId };
}

export function manifestOf(blob: PreparedBlob): ManifestEntry[] {
  return blob.kind === 'empty' ? [] : [[blob.hash, blob.size]];
}

/**
 * Inside the transaction: take one more reference on every blob of an
 * existing manifest (copies share blobs instead of copying bytes). A blob
 * row that is gone means the source was deleted meanwhile: BlobGoneError.
 */
export async function referenceManifest(trx: Trx, tenantId: string, manifest: ManifestEntry[]): Promise<void> {
  for (const [hash] of manifest) {
    const res = await trx
      .updateTable('blobs')
      .set((eb) => ({ ref_count: eb('ref_count', '+', 1) }))
      .where('tenant_id', '=', tenantId)
      .where('hash', '=', hash)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new BlobGoneError();
  }
}

/** Inside the transaction: drop one reference per manifest entry; blobs that reach zero are enqueued for cleanup. */
export async function releaseManifest(trx: Trx, tenantId: string, manifest: ManifestEntry[]): Promise<ReleasedBlob[]> {
  const released: BlobRef[] = [];
  for (const [hash] of manifest) {
    const row = await trx
      .updateTable('blobs')
      .set((eb) => ({ ref_count: eb('ref_count', '-', 1) }))
      .where('tenant_id', '=', tenantId)
      .where('hash', '=', hash)
      .returning(['ref_count', 'file_id'])
      .executeTakeFirst();
    if (row && Number(row.ref_count) <= 0) released.push({ tenantId, hash, fileId: row.file_id });
  }
  return (await enqueueCleanup(trx, released)).map((queueId) => ({ queueId }));
}

/**
 * After commit: clean up the released blobs right away. If this fails or the
 * process dies first, the queue entries remain and the worker retries them.
 */
export async function collectGarbage(ctx: CoreContext, released: ReleasedBlob[]): Promise<void> {
  await ctx.cleanup.processIds(released.map((r) => r.queueId));
}

/** After commit: remove a promoted file that lost a race to an identical blob. */
export async function discardRedundant(ctx: CoreContext, blob: PreparedBlob, redundantFileId?: string): Promise<void> {
  if (blob.kind === 'existing') await ctx.blobs.discard(blob.staged);
  if (redundantFileId && blob.kind === 'new') await ctx.blobs.remove(blob.tenantId, blob.hash, redundantFileId);
}
