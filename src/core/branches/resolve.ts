/**
 * Resolves a bucket-name alias (`bucket--ref`) to the bucket as seen
 * through the ref: the bucket's settings, the ref's timeline as its id, and
 * the levels a read consults (core/branches/read.ts). Branches are
 * writable; tags and commits are read-only points.
 */
import { branchByName, commitById, lastSeqOf, readLevelsOf, type RefLevel, tagByName } from '../../meta/branches/branches.js';
import type { Bucket, RefView } from '../../meta/buckets/types.js';
import type { DataDb } from '../../meta/handles.js';
import { seqAtTime } from '../../meta/objects/as-of.js';
import { commitIdOfRef, MAIN, parseTimeRef } from './names.js';

export async function resolveAlias(db: DataDb, root: Bucket, ref: string, alias: string): Promise<Bucket | undefined> {
  const timed = parseTimeRef(ref);
  if (timed) {
    const at = await resolveAlias(db, root, timed.ref, alias);
    if (!at?.view) return undefined;
    const levels = await levelsAtTime(db, at.view.levels, timed.time);
    return { ...at, view: { ...at.view, kind: 'time', ref, levels, readOnly: true, commitId: undefined } };
  }
  const view = (v: Omit<RefView, 'bucketId' | 'bucketName'>): RefView => ({ bucketId: root.id, bucketName: root.name, ...v });
  // main is the bucket's own timeline (policies may name the alias).
  if (ref === MAIN) {
    return { ...root, name: alias, view: view({ kind: 'branch', ref, levels: [{ timelineId: root.id, ceiling: null }], readOnly: false }) };
  }
  const branch = await branchByName(db, root.id, ref);
  if (branch) {
    const levels = await readLevelsOf(db, branch.timeline_id);
    return { ...root, id: branch.timeline_id, name: alias, view: view({ kind: 'branch', ref, levels, readOnly: false }) };
  }
  const tag = await tagByName(db, root.id, ref);
  const commitId = tag?.commit_id ?? commitIdOfRef(ref);
  if (commitId === undefined) return undefined;
  const commit = await commitById(db, root.id, commitId);
  if (!commit) return undefined;
  const below = await readLevelsOf(db, commit.timeline_id);
  const levels = [{ timelineId: commit.timeline_id, ceiling: Number(commit.seq) }, ...below.slice(1)];
  return {
    ...root,
    id: commit.timeline_id,
    name: alias,
    view: view({ kind: tag ? 'tag' : 'commit', ref, levels, readOnly: true, commitId: commit.id }),
  };
}

/**
 * The levels as of a time: each timeline up to the last seq written at or
 * before it (and never past the level's own ceiling). A branch made after
 * that time shows its parent as it was then.
 */
export async function levelsAtTime(db: DataDb, levels: RefLevel[], time: number): Promise<RefLevel[]> {
  return Promise.all(
    levels.map(async (l) => {
      const last = (await lastSeqOf(db, l.timelineId)) ?? 0;
      const ceiling = l.ceiling === null ? last : Math.min(l.ceiling, last);
      return { timelineId: l.timelineId, ceiling: await seqAtTime(db, l.timelineId, ceiling, time) };
    }),
  );
}
