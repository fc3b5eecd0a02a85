/**
 * Step one of a write: stage the body (stream, hash, encrypt, fsync) and
 * keep the write intent that names its files until the commit, or give
 * both up when the body is refused.
 */
import type { StagedFile } from '../../blobs/index.js';
import type { SseCustomerKey } from '../../crypto/sse-c.js';
import { deleteWriteIntent, insertWriteIntent, keepsWriteIntents } from '../../meta/objects/intents.js';
import type { CoreContext } from '../context.js';
import type { DigestRequest } from './digests.js';
import { stagingEncryption } from './encryption.js';
import { newFileId } from './keys.js';

/** Whether this deployment records write intents (see keepsWriteIntents). */
export function recordsIntents(ctx: CoreContext): boolean {
  return keepsWriteIntents(ctx.meta.data);
}

/**
 * Runs a metadata write: a full disk under the database (SQLITE_FULL,
 * PostgreSQL disk_full) fails it with 507 InsufficientStorage, logged once
 * per episode (storage/disk-space.ts); other errors pass unchanged.
 */
export function metadataWrite<T>(ctx: CoreContext, write: () => Promise<T>): Promise<T> {
  return ctx.blobs.space.metadataWrite(write);
}

/**
 * Streams body into a staged blob and hands back its digests; the caller
 * commits (commitStaged) or abandons (abandonStaged) it. Where intents are
 * kept (recordsIntents), one is recorded before the body's first file is
 * created, so the reconciler can tell this write's files from orphans if
 * the process dies midway: before the temp file of a large body, or, for a
 * body small enough to stay in memory, by Blobs.prepare just before the blob
 * file is written (with the dedup lookup, in one statement).
 */
export async function stageBody(
  ctx: CoreContext,
  tenantId: string,
  body: AsyncIterable<Buffer>,
  digest: DigestRequest,
  maxSize: number,
  customerKey?: SseCustomerKey,
) {
  const id = newFileId();
  let recorded = false;
  const recordIntent = async () => {
    await metadataWrite(ctx, () => insertWriteIntent(ctx.meta.data, id, ctx.nodeId, tenantId));
    recorded = true;
  };
  try {
    const enc = stagingEncryption(ctx, customerKey);
    return await ctx.blobs.stage(id, body, digest, maxSize, {
      beforeFile: recordsIntents(ctx) ? recordIntent : undefined,
      dataKey: enc.dataKey,
      hashStored: enc.addressByStoredBytes,
    });
  } catch (err) {
    if (recorded) await dropIntent(ctx, id);
    throw err;
  }
}

/** Gives up a staged body that was refused (bad digest, precondition): its file and its intent go. */
export async function abandonStaged(ctx: CoreContext, staged: StagedFile): Promise<void> {
  await ctx.blobs.abandon(staged);
  await dropIntent(ctx, staged.id);
}

export async function dropIntent(ctx: CoreContext, id: string): Promise<void> {
  if (recordsIntents(ctx)) await deleteWriteIntent(ctx.meta.data, id);
}
