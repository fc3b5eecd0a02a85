/**
 * Commits inside a data-plane transaction: naming a branch's present (its
 * next seq, taken under the branch's lock, so every write before it has
 * committed), and finding the commit a ref names. Every fork, tag and merge
 * point is a commit, so merge bases are searched in the commit DAG alone.
 */
import crypto from 'node:crypto';

import { fail } from '../../errors.js';
import {
  branchByName,
  branchByTimeline,
  type BranchRow,
  commitById,
  type CommitRow,
  insertCommit,
  lastCommitAtOrBelow,
  lastSeqOf,
  levelsOf,
  readLevelsOf,
  setHeadCommit,
  tagByName,
} from '../../meta/branches/branches.js';
import type { Bucket } from '../../meta/buckets/types.js';
import type { DataDb } from '../../meta/handles.js';
import { takeNextSeq } from '../../meta/objects/versions.js';
import { type EventName, EVENTS } from '../events/names.js';
import { recordEvent } from '../events/record.js';
import type { RefLevels } from './diff.js';
import { commitIdOfRef, MAIN, parseTimeRef } from './names.js';
import { levelsAtTime } from './resolve.js';
import { branchErrors } from './types.js';

/** Where a ref points: a commit (a branch's head is committed first if it changed). */
export interface Point {
  commit: CommitRow;
  /** Set when the ref is a branch. */
  branch?: BranchRow;
}

/** Commits the branch's present: takes its next seq (waiting out writers that hold one) and moves its head. */
export async function commitOn(
  trx: DataDb,
  bucket: Bucket,
  branch: BranchRow,
  head: CommitRow | undefined,
  message: string,
  author: string,
  extraParents: CommitRow[] = [],
  /** The change sequence's event for it (default anvil:Commit:Created) and what it adds to the detail. */
  event: { event?: EventName; detail?: Record<string, unknown> } = {},
): Promise<CommitRow> {
  const seq = await takeNextSeq(trx, branch.timeline_id);
  if (seq === undefined) throw fail.noSuchBucket(bucket.name);
  const parents = [...(head ? [head] : []), ...extraParents];
  const row: CommitRow = {
    bucket_id: bucket.id,
    id: crypto.randomBytes(6).toString('hex'),
    timeline_id: branch.timeline_id,
    seq,
    generation: 1 + Math.max(0, ...parents.map((p) => Number(p.generation))),
    parents: JSON.stringify(parents.map((p) => p.id)),
    author,
    message,
    created_at: Date.now(),
  };
  await insertCommit(trx, row);
  await setHeadCommit(trx, branch.timeline_id, row.id);
  await recordEvent(
    trx,
    bucket,
    seq,
    event.event ?? EVENTS.commitCreated,
    { detail: { ...event.detail, branch: branch.name, commit: row.id, message, author, parents: parents.map((p) => p.id) } },
    branch.timeline_id,
  );
  return row;
}

/** The branch's head commit, committing its present first when it changed since (`message`). */
export async function headPoint(trx: DataDb, bucket: Bucket, branch: BranchRow, author: string, message: string): Promise<CommitRow> {
  const head = await headCommitOf(trx, bucket, branch);
  // Committed state (PostgreSQL reads what has committed): a writer still in flight takes a
  // later seq, so it is not part of a head whose seq is the last one committed.
  // A new branch's head is its fork commit, on its parent's timeline: it stands for the branch
  // only until the branch's first write (its sequence is still 0).
  const last = await lastSeqOf(trx, branch.timeline_id);
  if (head && (head.timeline_id === branch.timeline_id ? last === Number(head.seq) : last === 0)) return head;
  return commitOn(trx, bucket, branch, head, message, author);
}

export async function headCommitOf(db: DataDb, bucket: Bucket, branch: BranchRow): Promise<CommitRow | undefined> {
  return branch.head_commit === null ? undefined : commitById(db, bucket.id, branch.head_commit);
}

/** A commit by a tag name, `c<id>` or a bare id. */
export async function commitOfRef(db: DataDb, bucket: Bucket, ref: string): Promise<CommitRow | undefined> {
  const tag = await tagByName(db, bucket.id, ref);
  const id = tag?.commit_id ?? commitIdOfRef(ref) ?? (/^[0-9a-f]{12}$/.test(ref) ? ref : undefined);
  return id === undefined ? undefined : commitById(db, bucket.id, id);
}

/**
 * The commit a ref names. A branch head is its head commit when nothing
 * changed since; otherwise the branch is committed first (`why` is the
 * message), so that every fork and tag is a commit in the DAG.
 */
export async function pointOf(trx: DataDb, bucket: Bucket, ref: string, author: string, why: string): Promise<Point> {
  const timed = parseTimeRef(ref);
  if (timed) return { commit: await commitAtTime(trx, bucket, timed.ref, timed.time, author, `${why} from ${ref}`) };
  const branch = await branchByName(trx, bucket.id, ref);
  if (branch) return { commit: await headPoint(trx, bucket, branch, author, `${why} from ${ref}`), branch };
  const commit = await commitOfRef(trx, bucket, ref);
  if (!commit) throw branchErrors.noSuchRef(bucket.name, ref);
  return { commit };
}

/** The levels of a read as of a commit: its timeline up to its seq, then that timeline's ancestors (read and lineage). */
export async function commitLevels(db: DataDb, commit: CommitRow): Promise<RefLevels> {
  const point = { timelineId: commit.timeline_id, ceiling: Number(commit.seq) };
  return {
    read: [point, ...(await readLevelsOf(db, commit.timeline_id)).slice(1)],
    lineage: [point, ...(await levelsOf(db, commit.timeline_id)).slice(1)],
  };
}

/** The levels a ref reads now: a branch at its head, a tag or a commit at its point (no commit is made). */
export async function refLevels(db: DataDb, bucket: Bucket, ref: string): Promise<RefLevels> {
  const timed = parseTimeRef(ref);
  if (timed) {
    const now = await refLevels(db, bucket, timed.ref);
    return { read: await levelsAtTime(db, now.read, timed.time), lineage: await levelsAtTime(db, now.lineage, timed.time) };
  }
  const branch = await branchByName(db, bucket.id, ref);
  if (branch) return { read: await readLevelsOf(db, branch.timeline_id), lineage: await levelsOf(db, branch.timeline_id) };
  if (ref === MAIN) return { read: [{ timelineId: bucket.id, ceiling: null }], lineage: [{ timelineId: bucket.id, ceiling: null }] };
  const commit = await commitOfRef(db, bucket, ref);
  if (!commit) throw branchErrors.noSuchRef(bucket.name, ref);
  return commitLevels(db, commit);
}

/**
 * A commit naming what a ref showed at a time (a fork or a tag "as of"),
 * made in the past: on the first timeline of the ref's levels that existed
 * then, at its last seq written by that time, with the commit before it as
 * its parent. It does not move any branch's head.
 */
async function commitAtTime(trx: DataDb, bucket: Bucket, ref: string, time: number, author: string, message: string): Promise<CommitRow> {
  const levels = await levelsAtTime(trx, (await refLevels(trx, bucket, ref)).read, time);
  let level = levels[0];
  for (const l of levels) {
    level = l;
    const branch = await branchByTimeline(trx, l.timelineId);
    if (!branch || Number(branch.created_at) <= time || branch.parent_id === null) break;
  }
  const seq = level.ceiling ?? 0;
  const branch = await branchByTimeline(trx, level.timelineId);
  let parent = await lastCommitAtOrBelow(trx, level.timelineId, seq);
  if (parent && Number(parent.seq) === seq) return parent;
  if (!parent && branch?.parent_id && branch.fork_seq !== null)
    parent = await lastCommitAtOrBelow(trx, branch.parent_id, Number(branch.fork_seq));
  const row: CommitRow = {
    bucket_id: bucket.id,
    id: crypto.randomBytes(6).toString('hex'),
    timeline_id: level.timelineId,
    seq,
    generation: 1 + (parent ? Number(parent.generation) : 0),
    parents: JSON.stringify(parent ? [parent.id] : []),
    author,
    message,
    created_at: Date.now(),
  };
  await insertCommit(trx, row);
  return row;
}
