/**
 * Merge and revert as the branch service offers them: resolve the refs to
 * commits (committing a source branch's present if it changed), find the
 * base, and hand the three views to core/branches/merge.ts.
 */
import { fail } from '../../errors.js';
import { branchByName, branchesOf, commitsByIds, ensureMainRow } from '../../meta/branches/branches.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import type { DataDb } from '../../meta/handles.js';
import type { CoreContext } from '../context.js';
import { EVENTS } from '../events/names.js';
import { commitLevels, commitOfRef, headCommitOf, headPoint, pointOf } from './commits.js';
import { NO_HISTORY } from './diff.js';
import { mergeBase, type MergeConflict, mergeInto, type MergeStrategy } from './merge.js';
import { resolveAlias } from './resolve.js';
import { branchErrors as errors, type CommitInfo, commitInfo } from './types.js';

/** What a merge or a revert came to. */
export interface MergeOutcome {
  status: 'merged' | 'conflicts' | 'up-to-date';
  /** The base commit (null: no common history), and how many best bases there were (criss-cross: more than 1). */
  base: string | null;
  bases: number;
  /** The commit merged in (for a revert, the parent restored). */
  source: string | null;
  applied: number;
  conflicts: MergeConflict[];
  commit?: CommitInfo;
}

async function branchNames(db: DataDb, bucketId: string): Promise<Map<string, string>> {
  return new Map((await branchesOf(db, bucketId)).map((b) => [b.timeline_id, b.name]));
}

/** The destination branch as the S3 layer sees it (its alias view): what merge writes through. */
async function branchBucket(db: DataDb, bucket: Bucket, name: string): Promise<Bucket> {
  const view = await resolveAlias(db, bucket, name, `${bucket.name}--${name}`);
  if (!view?.view || view.view.kind !== 'branch') throw errors.noSuchBranch(bucket.name, name);
  return view;
}

/**
 * Merges a ref (a branch's present, a tag or a commit) into a branch:
 * three-way against their best common ancestor (core/branches/merge.ts).
 * With conflicts and strategy `fail`, nothing is applied and they are returned.
 */
export async function mergeRefs(
  ctx: CoreContext,
  bucket: Bucket,
  source: string,
  into: string,
  opts: { strategy: MergeStrategy; author: string; message?: string },
): Promise<MergeOutcome> {
  if (source === into) throw fail.invalid('InvalidArgument', 'A branch cannot be merged into itself.');
  const { point, dest, destHead } = await withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
    await ensureMainRow(trx, bucket.id, bucket.created_at, '');
    const dest = await branchByName(trx, bucket.id, into);
    if (!dest) throw errors.noSuchBranch(bucket.name, into);
    const point = await pointOf(trx, bucket, source, opts.author, `merge into ${into}`);
    const destHead = (await headCommitOf(trx, bucket, dest)) ?? (await headPoint(trx, bucket, dest, opts.author, `merge of ${source}`));
    return { point, dest, destHead };
  });
  const names = await branchNames(ctx.meta.data, bucket.id);
  const { base, candidates } = await mergeBase(ctx.meta.data, bucket.id, point.commit, destHead);
  const baseInfo = { base: base?.id ?? null, bases: candidates, source: point.commit.id };
  if (base?.id === point.commit.id) return { status: 'up-to-date', ...baseInfo, applied: 0, conflicts: [] };
  const result = await mergeInto(
    ctx,
    bucket,
    await branchBucket(ctx.meta.data, bucket, into),
    dest,
    base ? await commitLevels(ctx.meta.data, base) : NO_HISTORY,
    await commitLevels(ctx.meta.data, point.commit),
    opts.strategy,
    {
      message: opts.message ?? `Merge ${source} into ${into}`,
      author: opts.author,
      extraParents: [point.commit],
      event: EVENTS.merged,
      detail: { source, base: base?.id ?? null },
    },
  );
  if (!result.commit) return { status: 'conflicts', ...baseInfo, applied: 0, conflicts: result.conflicts };
  return { status: 'merged', ...baseInfo, applied: result.applied, conflicts: [], commit: commitInfo(result.commit, names) };
}

/**
 * Reverts a commit on a branch: a merge whose base is the commit and whose
 * source is its parent (the `parent`-th, for merge commits), so the keys it
 * changed go back unless the branch changed them since (a conflict).
 */
export async function revertCommit(
  ctx: CoreContext,
  bucket: Bucket,
  into: string,
  commitRef: string,
  opts: { strategy: MergeStrategy; author: string; parent?: number },
): Promise<MergeOutcome> {
  const dest = await branchByName(ctx.meta.data, bucket.id, into);
  if (!dest) throw errors.noSuchBranch(bucket.name, into);
  const commit = await commitOfRef(ctx.meta.data, bucket, commitRef);
  if (!commit) throw errors.noSuchRef(bucket.name, commitRef);
  const parents = JSON.parse(commit.parents) as string[];
  const index = opts.parent ?? 0;
  if (parents.length > 1 && opts.parent === undefined) {
    throw fail.invalid('InvalidArgument', `Commit ${commit.id} is a merge: name the parent to revert to (0 to ${parents.length - 1}).`);
  }
  if (parents.length > 0 && (index < 0 || index >= parents.length))
    throw fail.invalid('InvalidArgument', `Commit ${commit.id} has no parent ${index}.`);
  const [parent] = parents.length === 0 ? [] : await commitsByIds(ctx.meta.data, bucket.id, [parents[index]]);
  const result = await mergeInto(
    ctx,
    bucket,
    await branchBucket(ctx.meta.data, bucket, into),
    dest,
    await commitLevels(ctx.meta.data, commit),
    parent ? await commitLevels(ctx.meta.data, parent) : NO_HISTORY,
    opts.strategy,
    {
      message: `Revert "${commit.message}" (${commit.id})`,
      author: opts.author,
      extraParents: [],
      event: EVENTS.reverted,
      detail: { reverted: commit.id },
    },
  );
  const info = { base: commit.id, bases: 1, source: parent?.id ?? null };
  if (!result.commit) return { status: 'conflicts', ...info, applied: 0, conflicts: result.conflicts };
  return {
    status: 'merged',
    ...info,
    applied: result.applied,
    conflicts: [],
    commit: commitInfo(result.commit, await branchNames(ctx.meta.data, bucket.id)),
  };
}
