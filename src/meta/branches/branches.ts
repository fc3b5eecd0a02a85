/**
 * Branches, commits and tags of a bucket (the rules are core/branches/'s).
 * A branch is a timeline: its version rows are object_versions rows whose
 * bucket_id is the timeline id; `main` is the bucket's own id. Reads on a
 * timeline consult its levels (branch_levels) in order.
 */
import type { Selectable } from 'kysely';

import type { DataDb } from '../handles.js';
import type { BranchTable, CommitTable, TagTable } from '../schema.js';

export type BranchRow = Selectable<BranchTable>;
export type NewBranchRow = Omit<BranchRow, 'flattened'>;
export type CommitRow = Selectable<CommitTable>;
export type TagRow = Selectable<TagTable>;

/** One level of a read: a timeline, read at its head (ceiling null) or as of a sequence number. */
export interface RefLevel {
  timelineId: string;
  ceiling: number | null;
}

export function branchByName(db: DataDb, bucketId: string, name: string): Promise<BranchRow | undefined> {
  return db.selectFrom('branches').selectAll().where('bucket_id', '=', bucketId).where('name', '=', name).executeTakeFirst();
}

export function branchByTimeline(db: DataDb, timelineId: string): Promise<BranchRow | undefined> {
  return db.selectFrom('branches').selectAll().where('timeline_id', '=', timelineId).executeTakeFirst();
}

export function branchesOf(db: DataDb, bucketId: string): Promise<BranchRow[]> {
  return db.selectFrom('branches').selectAll().where('bucket_id', '=', bucketId).orderBy('name').execute();
}

/** Whether the bucket has any branch but main, or any commit or tag (then its history must be kept). */
export async function hasHistory(db: DataDb, bucketId: string): Promise<boolean> {
  const row = await db.selectFrom('branches').select('name').where('bucket_id', '=', bucketId).limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function hasBranchesBesideMain(db: DataDb, bucketId: string): Promise<boolean> {
  const row = await db
    .selectFrom('branches')
    .select('name')
    .where('bucket_id', '=', bucketId)
    .where('timeline_id', '!=', bucketId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Main's row, made the first time the bucket's history is used (the bucket's own timeline). */
export async function ensureMainRow(db: DataDb, bucketId: string, createdAt: number, createdBy: string): Promise<void> {
  await db
    .insertInto('branches')
    .values({
      bucket_id: bucketId,
      name: 'main',
      timeline_id: bucketId,
      parent_id: null,
      fork_seq: null,
      depth: 0,
      head_commit: null,
      created_at: createdAt,
      created_by: createdBy,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function insertBranch(db: DataDb, row: NewBranchRow, levels: RefLevel[]): Promise<void> {
  await db.insertInto('branches').values(row).execute();
  await db
    .insertInto('branch_levels')
    .values(levels.map((l, i) => ({ timeline_id: row.timeline_id, level: i, ancestor_id: l.timelineId, ceiling: l.ceiling })))
    .execute();
}

/**
 * The levels a read of the timeline consults: its lineage down to the first
 * flattened ancestor (which holds copies of what lies below it), or only its
 * own level once it is flattened itself.
 */
export async function readLevelsOf(db: DataDb, timelineId: string): Promise<RefLevel[]> {
  const levels = await levelsOf(db, timelineId);
  if (levels.length === 1) return levels;
  const b = await db.selectFrom('branches').select(['flattened', 'depth']).where('timeline_id', '=', timelineId).executeTakeFirst();
  if (!b) return levels;
  // A flattened branch reads itself; a branch of a flattened one reads down to it (depth levels below itself).
  return levels.slice(0, Number(b.flattened) === 1 ? 1 : Number(b.depth) + 1);
}

export async function setFlattened(db: DataDb, timelineId: string): Promise<void> {
  await db.updateTable('branches').set({ flattened: 1 }).where('timeline_id', '=', timelineId).execute();
}

/**
 * The timeline's lineage, in order: itself, then its ancestors up to their
 * fork points (a timeline without rows, main, is its own only level). Diffs
 * and merges find changed keys through it, flattened or not.
 */
export async function levelsOf(db: DataDb, timelineId: string): Promise<RefLevel[]> {
  const rows = await db
    .selectFrom('branch_levels')
    .select(['ancestor_id', 'ceiling'])
    .where('timeline_id', '=', timelineId)
    .orderBy('level')
    .execute();
  if (rows.length === 0) return [{ timelineId, ceiling: null }];
  return rows.map((r) => ({ timelineId: r.ancestor_id, ceiling: r.ceiling === null ? null : Number(r.ceiling) }));
}

export async function deleteBranchRows(db: DataDb, bucketId: string, timelineId: string): Promise<void> {
  await db.deleteFrom('branch_levels').where('timeline_id', '=', timelineId).execute();
  await db.deleteFrom('branches').where('bucket_id', '=', bucketId).where('timeline_id', '=', timelineId).execute();
}

/** Branches forked from the timeline that read through it (not flattened). */
export async function hasChildren(db: DataDb, timelineId: string): Promise<boolean> {
  const row = await db
    .selectFrom('branches')
    .select('name')
    .where('parent_id', '=', timelineId)
    .where('flattened', '=', 0)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function setHeadCommit(db: DataDb, timelineId: string, commitId: string): Promise<void> {
  await db.updateTable('branches').set({ head_commit: commitId }).where('timeline_id', '=', timelineId).execute();
}

// ---- commits ----

export async function insertCommit(db: DataDb, row: CommitRow): Promise<void> {
  await db.insertInto('commits').values(row).execute();
}

export function commitById(db: DataDb, bucketId: string, id: string): Promise<CommitRow | undefined> {
  return db.selectFrom('commits').selectAll().where('bucket_id', '=', bucketId).where('id', '=', id).executeTakeFirst();
}

export function commitsByIds(db: DataDb, bucketId: string, ids: string[]): Promise<CommitRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('commits').selectAll().where('bucket_id', '=', bucketId).where('id', 'in', ids).execute();
}

/** The timeline's newest commit at or below `seq` (a read as of a commit is that commit's point). */
export function lastCommitAtOrBelow(db: DataDb, timelineId: string, seq: number): Promise<CommitRow | undefined> {
  return db
    .selectFrom('commits')
    .selectAll()
    .where('timeline_id', '=', timelineId)
    .where('seq', '<=', seq)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function deleteCommitsOf(db: DataDb, bucketId: string, timelineId: string): Promise<void> {
  await db.deleteFrom('commits').where('bucket_id', '=', bucketId).where('timeline_id', '=', timelineId).execute();
}

/**
 * Whether a version alive on the timeline during [fromSeq, toSeq) (toSeq
 * null: still alive) is seen by a commit or a branch forked there: then it
 * is history, and removing it would change what they read.
 */
export async function isRetained(db: DataDb, timelineId: string, fromSeq: number, toSeq: number | null): Promise<boolean> {
  let commits = db.selectFrom('commits').select('id').where('timeline_id', '=', timelineId).where('seq', '>=', fromSeq);
  if (toSeq !== null) commits = commits.where('seq', '<', toSeq);
  if (await commits.limit(1).executeTakeFirst()) return true;
  // A flattened branch holds copies of what it saw: it retains nothing of its parent.
  let forks = db
    .selectFrom('branches')
    .select('name')
    .where('parent_id', '=', timelineId)
    .where('flattened', '=', 0)
    .where('fork_seq', '>=', fromSeq);
  if (toSeq !== null) forks = forks.where('fork_seq', '<', toSeq);
  return (await forks.limit(1).executeTakeFirst()) !== undefined;
}

// ---- tags ----

export async function insertTag(db: DataDb, row: TagRow): Promise<void> {
  await db.insertInto('tags').values(row).execute();
}

export function tagByName(db: DataDb, bucketId: string, name: string): Promise<TagRow | undefined> {
  return db.selectFrom('tags').selectAll().where('bucket_id', '=', bucketId).where('name', '=', name).executeTakeFirst();
}

export function tagsOf(db: DataDb, bucketId: string): Promise<TagRow[]> {
  return db.selectFrom('tags').selectAll().where('bucket_id', '=', bucketId).orderBy('name').execute();
}

export async function deleteTag(db: DataDb, bucketId: string, name: string): Promise<boolean> {
  const res = await db.deleteFrom('tags').where('bucket_id', '=', bucketId).where('name', '=', name).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Tags naming a commit of the timeline (a branch with tagged commits keeps its history). */
export async function hasTagsOn(db: DataDb, bucketId: string, timelineId: string): Promise<boolean> {
  const row = await db
    .selectFrom('tags')
    .innerJoin('commits', (j) => j.onRef('commits.bucket_id', '=', 'tags.bucket_id').onRef('commits.id', '=', 'tags.commit_id'))
    .select('tags.name')
    .where('tags.bucket_id', '=', bucketId)
    .where('commits.timeline_id', '=', timelineId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Drops every branch, commit and tag of a bucket (its purge). */
export async function dropHistory(db: DataDb, bucketId: string): Promise<void> {
  const timelines = await db.selectFrom('branches').select('timeline_id').where('bucket_id', '=', bucketId).execute();
  for (const t of timelines) await db.deleteFrom('branch_levels').where('timeline_id', '=', t.timeline_id).execute();
  await db.deleteFrom('tags').where('bucket_id', '=', bucketId).execute();
  await db.deleteFrom('commits').where('bucket_id', '=', bucketId).execute();
  await db.deleteFrom('branches').where('bucket_id', '=', bucketId).execute();
}

/** The last sequence number handed out on a timeline (what a commit or a fork names). */
export async function lastSeqOf(db: DataDb, timelineId: string): Promise<number | undefined> {
  const row = await db.selectFrom('bucket_state').select('last_seq').where('bucket_id', '=', timelineId).executeTakeFirst();
  return row ? Number(row.last_seq) : undefined;
}
