/**
 * Step three of a write: make a staged body referenced by whatever the
 * caller records in one metadata transaction (a new latest version, a
 * multipart part), handling deduplication, the race with garbage
 * collection, and cleanup on failure. No I/O happens inside the transaction.
 */
import { BlobGoneError, manifestOf, type PreparedBlob, RefChanges, type StagedFile, UnfoldAndRetry } from '../../blobs/index.js';
import type { SseCustomerKey } from '../../crypto/sse-c.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import type { DataDb } from '../../meta/handles.js';
import { deleteWriteIntent } from '../../meta/objects/intents.js';
import type { ManifestEntry } from '../../meta/objects/types.js';
import type { CoreContext } from '../context.js';
import { commitEncryption } from './encryption.js';
import { checkCommitted, type WriteQuotas } from './quota.js';
import { abandonStaged, dropIntent, metadataWrite, recordsIntents } from './stage.js';

/** How many times a commit is redone after losing a race (a collected blob, a lock-order conflict). */
const RETRIES = 3;

/** Replicas each new blob of this bucket gets. */
export function replicationFor(ctx: CoreContext, bucket: Bucket): number {
  return bucket.replication ?? ctx.blobs.defaultReplication;
}

/**
 * Makes a staged body referenced by whatever `write` records in the same
 * transaction. `write` takes its row locks in the fixed order (bucket via
 * nextSeq, then upload) and puts its reference changes into `refs`, which
 * are applied last, in hash order. The quotas (core/objects/quota.ts) are
 * checked after all of that, inside the transaction.
 */
export async function commitStaged<T>(
  ctx: CoreContext,
  bucket: Bucket,
  staged: StagedFile,
  plainHash: string,
  write: (trx: DataDb, manifest: ManifestEntry[], refs: RefChanges) => Promise<T>,
  customerKey?: SseCustomerKey,
  quotas?: WriteQuotas,
): Promise<T> {
  const tenantId = bucket.tenant_id;
  const replication = replicationFor(ctx, bucket);
  const { hash, sealed } = commitEncryption(staged, plainHash, customerKey);
  let blob: PreparedBlob;
  try {
    // (An SSE-C address is unique, so the dedup lookup finds nothing; it still records the intent.)
    blob = await ctx.blobs.prepare(tenantId, hash, staged, replication, { sealed });
  } catch (err) {
    await abandonStaged(ctx, staged).catch(leftForReconciler);
    // (Replica writes answer 507 themselves; what is left to translate is the intent's insert.)
    throw ctx.blobs.space.refused(ctx.blobs.space.metadata, err);
  }
  let noFold = false;
  for (let attempt = 0; ; attempt++) {
    let refs = new RefChanges();
    let result: T;
    try {
      result = await metadataWrite(ctx, () =>
        withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
          refs = new RefChanges();
          refs.noFold = noFold;
          // The write is committed with its metadata: its files are no longer in doubt. The intent
          // goes in this transaction: writeLatest folds its deletion into a statement of its own.
          if (recordsIntents(ctx)) refs.intentId = staged.id;
          refs.referencePrepared(blob);
          const out = await write(trx, manifestOf(blob), refs);
          if (refs.intentId) await deleteWriteIntent(trx, refs.intentId);
          await ctx.blobs.reference(trx, refs);
          // Last: the tenant lock it may take must come after every row lock of the write.
          await checkCommitted(trx, bucket, quotas);
          return out;
        }),
      );
    } catch (err) {
      if (err instanceof UnfoldAndRetry && attempt < RETRIES) {
        noFold = true;
        continue;
      }
      if (err instanceof BlobGoneError && attempt < RETRIES && blob.kind === 'existing') {
        // The identical blob was collected between our lookup and our transaction: store our own copy.
        const again = blob.staged;
        try {
          blob = await ctx.blobs.prepare(tenantId, hash, again, replication, { forceNew: true, sealed });
        } catch (e) {
          await abandonStaged(ctx, again).catch(leftForReconciler);
          throw e;
        }
        continue;
      }
      await cleanupFailedCommit(ctx, blob, staged);
      throw err;
    }
    // Committed: from here on nothing may fail the request (committed never throws).
    await ctx.blobs.committed(blob, refs);
    return result;
  }
}

/**
 * For cleanups that may fail without harm: whatever stays behind is named by
 * the write's intent (or by no row at all), so the start-up reconciliation
 * removes it; the request's own error is the one worth reporting.
 */
function leftForReconciler(): void {}

/** After a failed commit: the blob layer removes what was written (unless it is referenced after all), then the intent goes. */
async function cleanupFailedCommit(ctx: CoreContext, blob: PreparedBlob, staged: StagedFile): Promise<void> {
  try {
    await ctx.blobs.commitFailed(blob);
    await dropIntent(ctx, staged.id);
  } catch {
    // Whatever remains is found by the start-up reconciliation (the intent names it).
  }
}
