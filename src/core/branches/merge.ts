/**
 * Three-way merges of whole objects, in one transaction (lakeFS's rule
 * table, over Anvil's timelines):
 *
 *   base = source      nothing to apply (the source did not change the key)
 *   base = dest        the source's change applies (a new version, or a marker)
 *   source = dest      both made the same change: nothing to apply
 *   otherwise          a conflict (change/change, change/delete), listed with all three sides
 *
 * The base is the best common ancestor of the two commits in the DAG
 * (highest generation first; on a criss-cross the newest of the bases,
 * reported). Candidate keys are the keys either side changed since the base
 * (diff.ts), so the cost follows the changes, not the bucket.
 *
 * Apply: under the destination's lock (its next seq), every planned key is
 * read again; if the destination changed one since planning (a write that
 * raced the merge), the merge plans again instead of overwriting a change it
 * did not see. Then the winners are written as new versions (sharing blobs:
 * reference counts move, no bytes are copied) and a merge commit with two
 * parents is made, in the same transaction: all or nothing.
 */
import { RefChanges } from '../../blobs/index.js';
import { fail } from '../../errors.js';
import { branchByTimeline, type BranchRow, type CommitRow, commitsByIds, levelsOf, readLevelsOf } from '../../meta/branches/branches.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import type { DataDb } from '../../meta/handles.js';
import { manifestOfRow, type VersionRow } from '../../meta/objects/types.js';
import type { CoreContext } from '../context.js';
import { type EventName, EVENTS } from '../events/names.js';
import { recordEvent } from '../events/record.js';
import { nextSeq } from '../objects/latest.js';
import { metadataWrite } from '../objects/stage.js';
import { deleteToMarker, writeVersion } from '../objects/versioning.js';
import { commitOn } from './commits.js';
import { candidateKeys, type DiffSide, type RefLevels, sameContent, sideOf, visibleForKeys } from './diff.js';

export type MergeStrategy = 'fail' | 'source-wins' | 'dest-wins';

export interface MergeConflict {
  key: string;
  base?: DiffSide;
  source?: DiffSide;
  dest?: DiffSide;
}

export interface MergePlan {
  /** Keys to write on the destination: the source's row (undefined: delete, a marker). */
  apply: Array<{ key: string; source: VersionRow | undefined; dest: VersionRow | undefined }>;
  conflicts: MergeConflict[];
}

/** How many times a merge plans again when the destination keeps changing under it. */
const MAX_REPLANS = 5;

/** Best common ancestor of two commits: the common one met first walking both histories by generation. */
export async function mergeBase(
  db: DataDb,
  bucketId: string,
  a: CommitRow,
  b: CommitRow,
): Promise<{ base: CommitRow | undefined; candidates: number }> {
  const flags = new Map<string, number>();
  const rows = new Map<string, CommitRow>([
    [a.id, a],
    [b.id, b],
  ]);
  flags.set(a.id, 1);
  flags.set(b.id, (flags.get(b.id) ?? 0) | 2);
  const queue = new Set<string>([a.id, b.id]);
  while (queue.size > 0) {
    // The queued commit of highest generation (ties: the newer, then the id: deterministic).
    let best: CommitRow | undefined;
    for (const id of queue) {
      const c = rows.get(id)!;
      if (
        !best ||
        Number(c.generation) > Number(best.generation) ||
        (Number(c.generation) === Number(best.generation) && (Number(c.created_at) > Number(best.created_at) || c.id > best.id))
      ) {
        best = c;
      }
    }
    queue.delete(best!.id);
    const flag = flags.get(best!.id)!;
    if (flag === 3) {
      // Every common commit still queued is no descendant of this one (those were popped first):
      // the ones of the same generation are other best bases (a criss-cross).
      const others = [...queue].filter((id) => flags.get(id) === 3 && Number(rows.get(id)!.generation) === Number(best!.generation));
      return { base: best, candidates: 1 + others.length };
    }
    const parents = JSON.parse(best!.parents) as string[];
    const missing = parents.filter((p) => !rows.has(p));
    for (const r of await commitsByIds(db, bucketId, missing)) rows.set(r.id, r);
    for (const p of parents) {
      if (!rows.has(p)) continue;
      flags.set(p, (flags.get(p) ?? 0) | flag);
      queue.add(p);
    }
  }
  return { base: undefined, candidates: 0 };
}

/** Classifies every key either side changed since the base. */
export async function planMerge(
  db: DataDb,
  base: RefLevels,
  source: RefLevels,
  dest: RefLevels,
  strategy: MergeStrategy,
): Promise<MergePlan> {
  const keys = [
    ...new Set([...(await candidateKeys(db, base.lineage, source.lineage)), ...(await candidateKeys(db, base.lineage, dest.lineage))]),
  ];
  const plan: MergePlan = { apply: [], conflicts: [] };
  const [b, s, d] = await Promise.all([
    visibleForKeys(db, base.read, keys),
    visibleForKeys(db, source.read, keys),
    visibleForKeys(db, dest.read, keys),
  ]);
  for (const key of keys) {
    const bv = b.get(key);
    const sv = s.get(key);
    const dv = d.get(key);
    if (sameContent(bv, sv) || sameContent(sv, dv)) continue;
    if (sameContent(bv, dv) || strategy === 'source-wins') plan.apply.push({ key, source: sv, dest: dv });
    else if (strategy === 'fail') plan.conflicts.push({ key, base: sideOf(bv), source: sideOf(sv), dest: sideOf(dv) });
  }
  plan.conflicts.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return plan;
}

/** Raised inside the apply transaction when the destination changed a planned key since planning. */
class DestinationMoved extends Error {}

/**
 * Applies a plan to the destination branch (as `destBucket`, its alias
 * view) and makes the merge commit, in one transaction. Returns undefined
 * when the destination moved under the plan (plan again).
 */
async function applyPlan(
  ctx: CoreContext,
  bucket: Bucket,
  destBucket: Bucket,
  branch: BranchRow,
  plan: MergePlan,
  commit: { message: string; author: string; extraParents: CommitRow[]; event?: EventName; detail?: Record<string, unknown> },
): Promise<CommitRow | undefined> {
  const view = destBucket.view!;
  let refs = new RefChanges();
  try {
    const row = await metadataWrite(ctx, () =>
      withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
        refs = new RefChanges();
        // The destination's lock first: no write of it commits between the check and the apply.
        const lockSeq = await nextSeq(trx, destBucket);
        const now = await visibleForKeys(
          trx,
          view.levels,
          plan.apply.map((p) => p.key),
        );
        for (const p of plan.apply) if (!sameContent(now.get(p.key), p.dest)) throw new DestinationMoved();
        let first = true;
        for (const p of plan.apply) {
          const seq = first ? lockSeq : await nextSeq(trx, destBucket);
          first = false;
          if (!p.source) {
            const marker = await deleteToMarker(trx, destBucket, p.key, refs, seq, 'Enabled');
            await recordEvent(trx, destBucket, seq, EVENTS.mergeRemoved, { key: p.key, versionId: marker.versionId });
            continue;
          }
          const manifest = manifestOfRow(p.source);
          refs.reference(p.source.tenant_id, manifest);
          const written = await writeVersion(
            trx,
            destBucket,
            p.key,
            refs,
            {
              size: Number(p.source.size),
              etag: p.source.etag,
              attributes: {
                contentType: p.source.content_type,
                headers: JSON.parse(p.source.headers),
                userMeta: JSON.parse(p.source.user_meta),
                tags: JSON.parse(p.source.tags),
                acl: p.source.acl as 'private' | 'public-read',
              },
              checksums: JSON.parse(p.source.checksums),
              manifest,
              partSizes: JSON.parse(p.source.part_sizes),
            },
            seq,
            'Enabled',
          );
          await recordEvent(trx, destBucket, seq, EVENTS.mergeCreated, {
            key: p.key,
            versionId: written.versionId,
            size: written.size,
            etag: written.etag,
          });
        }
        // The head as it is now (a commit may have landed since planning).
        const current = (await branchByTimeline(trx, branch.timeline_id)) ?? branch;
        const head = current.head_commit === null ? [] : await commitsByIds(trx, bucket.id, [current.head_commit]);
        const made = await commitOn(trx, bucket, current, head[0], commit.message, commit.author, commit.extraParents, {
          event: commit.event ?? EVENTS.merged,
          detail: { ...commit.detail, applied: plan.apply.length },
        });
        await refs.apply(trx);
        return made;
      }),
    );
    await ctx.blobs.released(refs);
    return row;
  } catch (err) {
    if (err instanceof DestinationMoved) return undefined;
    throw err;
  }
}

/**
 * Plans and applies a merge of `source` (a commit) into the branch, with
 * base `base` (undefined: empty history). Conflicts under strategy `fail`
 * apply nothing and are returned.
 */
export async function mergeInto(
  ctx: CoreContext,
  bucket: Bucket,
  destBucket: Bucket,
  branch: BranchRow,
  base: RefLevels,
  source: RefLevels,
  strategy: MergeStrategy,
  commit: { message: string; author: string; extraParents: CommitRow[]; event?: EventName; detail?: Record<string, unknown> },
): Promise<{ commit?: CommitRow; applied: number; conflicts: MergeConflict[] }> {
  const db = ctx.meta.data;
  const destLevels: RefLevels = { read: await readLevelsOf(db, branch.timeline_id), lineage: await levelsOf(db, branch.timeline_id) };
  for (let attempt = 0; attempt < MAX_REPLANS; attempt++) {
    const plan = await planMerge(ctx.meta.data, base, source, destLevels, strategy);
    if (plan.conflicts.length > 0) return { applied: 0, conflicts: plan.conflicts };
    const made = await applyPlan(ctx, bucket, destBucket, branch, plan, commit);
    if (made) return { commit: made, applied: plan.apply.length, conflicts: [] };
  }
  throw fail.conflict('OperationAborted', 'The destination branch kept changing during the merge; try again.');
}
