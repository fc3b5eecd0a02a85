/**
 * Flattening a branch: what it reads through its ancestors (each key's
 * winning row as of the fork points) is copied into its own timeline as
 * rows of sequence number 0 — below every row of its own, so every read of
 * it, at its head or as of any of its commits, shows the same as before —
 * and then reads stop at it. Copies share blobs (reference counts move; no
 * bytes are copied) and are made in batches, each under the branch's lock,
 * so writers of the branch interleave; a batch is skipped for keys already
 * copied, so a flatten that died resumes. Delete markers are not copied:
 * with no level below, nothing is left for them to hide.
 *
 * What it costs the user: ListObjectVersions through a flattened branch
 * shows, of its ancestors' history, only the version each key showed at the
 * fork. Its lineage is kept for diffs and merges (which find changed keys
 * through it), and it stops retaining its parent's history.
 */
import { RefChanges } from '../../blobs/index.js';
import { branchByName, readLevelsOf, type RefLevel, setFlattened } from '../../meta/branches/branches.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import { manifestOfRow } from '../../meta/objects/types.js';
import { type CountDelta, insertVersionRow, latestRow, moveCounts, versionRowById } from '../../meta/objects/versions.js';
import type { CoreContext } from '../context.js';
import { nextSeq } from '../objects/latest.js';
import { metadataWrite } from '../objects/stage.js';
import { visibleForKeys } from './diff.js';
import { keysAfter } from './list-versions.js';
import { resolveAlias } from './resolve.js';
import { branchErrors } from './types.js';

/** Keys per batch (one transaction each). */
const BATCH = 500;

/** Copies the branch's ancestors' visible rows into it and marks it flattened; returns the rows copied. */
export async function flattenBranch(ctx: CoreContext, bucket: Bucket, name: string, signal?: AbortSignal): Promise<number> {
  const db = ctx.meta.data;
  const branch = await branchByName(db, bucket.id, name);
  if (!branch) throw branchErrors.noSuchBranch(bucket.name, name);
  if (Number(branch.flattened) === 1) return 0;
  const target = await resolveAlias(db, bucket, name, `${bucket.name}--${name}`);
  if (!target) throw branchErrors.noSuchBranch(bucket.name, name);
  const ancestors: RefLevel[] = (await readLevelsOf(db, branch.timeline_id)).slice(1);
  let copied = 0;
  let cursor = '';
  while (ancestors.length > 0) {
    signal?.throwIfAborted();
    const keys = await keysAfter(db, { levels: ancestors }, '', cursor, BATCH);
    if (keys.length === 0) break;
    const visible = await visibleForKeys(db, ancestors, keys);
    let refs = new RefChanges();
    copied += await metadataWrite(ctx, () =>
      withTransaction(ctx.meta.kind, db, async (trx) => {
        refs = new RefChanges();
        // The branch's lock: its writers wait, so what is latest does not change under us.
        await nextSeq(trx, target);
        let n = 0;
        const delta: CountDelta = { objects: 0, bytes: 0, versions: 0, versionBytes: 0 };
        for (const key of keys) {
          const row = visible.get(key);
          if (!row || (await versionRowById(trx, branch.timeline_id, key, row.version_id))) continue;
          const latest = await latestRow(trx, branch.timeline_id, key);
          const { id: _id, seq: _seq, ...content } = row;
          await insertVersionRow(trx, { ...content, bucket_id: branch.timeline_id, is_latest: latest ? 0 : 1 }, 0);
          refs.reference(row.tenant_id, manifestOfRow(row));
          const size = Number(row.size);
          delta.versions! += 1;
          delta.versionBytes! += size;
          if (!latest) {
            delta.objects += 1;
            delta.bytes += size;
          }
          n++;
        }
        await moveCounts(trx, branch.timeline_id, delta);
        await refs.apply(trx);
        return n;
      }),
    );
    await ctx.blobs.released(refs);
    cursor = keys[keys.length - 1];
  }
  await setFlattened(db, branch.timeline_id);
  return copied;
}
