/**
 * Branches, commits and tags of a bucket: git for a bucket, in SQL
 * (ARCHITECTURE.md § Branches; ../shared/research/branching.md).
 *
 * - A branch is a timeline. Creating one is O(1): a row, its read levels
 *   (its own timeline, then its parent's as of the fork, then the parent's
 *   ancestors) and a state row for its sequence numbers. Nothing is copied.
 * - A commit names a point (timeline, seq) and copies nothing. Every fork is
 *   a commit on the source: a branch made from a branch head commits the
 *   source first if it changed since its last commit, so merge bases are
 *   always commits in the DAG.
 * - Tags are immutable names of commits. Tags and commits are read through
 *   read-only aliases.
 * - History that a commit or a fork sees is kept: deleting such a version by
 *   id is refused (core/objects/versioning.ts asks isRetained).
 */
import crypto from 'node:crypto';

import { fail } from '../../errors.js';
import {
  branchByName,
  branchesOf,
  type BranchRow,
  commitById,
  commitsByIds,
  deleteBranchRows,
  deleteCommitsOf,
  deleteTag,
  ensureMainRow,
  hasChildren,
  hasTagsOn,
  insertBranch,
  insertTag,
  levelsOf,
  type NewBranchRow,
  readLevelsOf,
  type RefLevel,
  tagByName,
  tagsOf,
} from '../../meta/branches/branches.js';
import { deleteBucketState, insertBucketState } from '../../meta/buckets/buckets.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import { dropTimelineEvents } from '../../meta/events/events.js';
import type { DataDb } from '../../meta/handles.js';
import { hasProtectedVersion, someVersions } from '../../meta/objects/versions.js';
import { FLATTEN_BRANCH_TASK, type FlattenBranchPayload } from '../../work/task-names.js';
import type { TaskQueue } from '../../work/tasks.js';
import type { CoreContext } from '../context.js';
import { EVENTS } from '../events/names.js';
import { recordTimelineEvent } from '../events/record.js';
import type { DeleteTarget } from '../objects/latest.js';
import { versioningOf } from '../objects/versioning.js';
import { commitOn, pointOf, refLevels } from './commits.js';
import { diffViews } from './diff.js';
import { flattenBranch } from './flatten.js';
import type { MergeStrategy } from './merge.js';
import { mergeRefs, revertCommit } from './merge-refs.js';
import { commitIdOfRef, MAIN, validateRefName } from './names.js';
import { branchErrors as errors, type BranchInfo, type CommitInfo, commitInfo, FLATTEN_DEPTH, MAX_DEPTH, type TagInfo } from './types.js';

export type { DiffEntry } from './diff.js';
export type { MergeConflict, MergeStrategy } from './merge.js';
export type { MergeOutcome } from './merge-refs.js';
export type { BranchInfo, CommitInfo, TagInfo } from './types.js';
export { MAX_DEPTH } from './types.js';

export class BranchService {
  constructor(
    private readonly ctx: CoreContext,
    /** Where background flattens are queued (absent: none are, e.g. in tests of the core alone). */
    private readonly tasks?: Pick<TaskQueue, 'enqueue'>,
  ) {}

  private get db(): DataDb {
    return this.ctx.meta.data;
  }

  private tx<T>(fn: (trx: DataDb) => Promise<T>): Promise<T> {
    return withTransaction(this.ctx.meta.kind, this.db, fn);
  }

  /** The bucket itself (not an alias): branch operations name the bucket and the ref apart. */
  private static root(bucket: Bucket): Bucket {
    if (bucket.view) throw fail.invalid('InvalidArgument', `Name the bucket ${bucket.view.bucketName}, not an alias of it.`);
    return bucket;
  }

  private async branchNames(bucketId: string): Promise<Map<string, string>> {
    return new Map((await branchesOf(this.db, bucketId)).map((b) => [b.timeline_id, b.name]));
  }

  async list(bucket: Bucket): Promise<BranchInfo[]> {
    bucket = BranchService.root(bucket);
    const rows = await branchesOf(this.db, bucket.id);
    const names = new Map(rows.map((b) => [b.timeline_id, b.name]));
    // Main first, then the others by name (the SQL order is by name; main is no special name there).
    const out = rows.map((b) => this.info(b, names)).sort((a, b) => Number(b.name === MAIN) - Number(a.name === MAIN));
    if (!rows.some((b) => b.name === MAIN)) {
      out.unshift({
        name: MAIN,
        parent: null,
        forkSeq: null,
        depth: 0,
        flattened: false,
        headCommit: null,
        createdAt: new Date(bucket.created_at),
        createdBy: '',
      });
    }
    return out;
  }

  private info(b: NewBranchRow & { flattened?: number }, names: Map<string, string>): BranchInfo {
    return {
      name: b.name,
      parent: b.parent_id === null ? null : (names.get(b.parent_id) ?? null),
      forkSeq: b.fork_seq === null ? null : Number(b.fork_seq),
      depth: Number(b.depth),
      flattened: Number(b.flattened ?? 0) === 1,
      headCommit: b.head_commit,
      createdAt: new Date(Number(b.created_at)),
      createdBy: b.created_by,
    };
  }

  async get(bucket: Bucket, name: string): Promise<BranchInfo> {
    const all = await this.list(bucket);
    const b = all.find((x) => x.name === name);
    if (!b) throw errors.noSuchBranch(bucket.name, name);
    return b;
  }

  /**
   * Makes a branch from `from` (a branch head, a tag or a commit; default
   * main) in one transaction, whatever the bucket's size.
   */
  async create(bucket: Bucket, name: string, from: string | undefined, author: string): Promise<BranchInfo> {
    bucket = BranchService.root(bucket);
    validateRefName(bucket.name, name, 'branch');
    if (versioningOf(bucket) !== 'Enabled') throw errors.notVersioning(bucket.name);
    const now = Date.now();
    const timelineId = `${bucket.id}.${crypto.randomBytes(6).toString('hex')}`;
    const row = await this.tx(async (trx) => {
      await ensureMainRow(trx, bucket.id, bucket.created_at, '');
      await this.assertNameFree(trx, bucket, name);
      const point = await pointOf(trx, bucket, from ?? MAIN, author, `branch ${name}`);
      const parent = await this.branchOfTimeline(trx, bucket.id, point.commit.timeline_id);
      // The lineage is kept whole (diffs find changed keys through it); reads go down to the
      // first flattened ancestor only, which holds copies of what lies below it.
      const parentLevels = await levelsOf(trx, point.commit.timeline_id);
      const depth = (await readLevelsOf(trx, point.commit.timeline_id)).length;
      if (depth >= MAX_DEPTH) throw errors.tooDeep(parent?.name ?? from ?? MAIN);
      const levels: RefLevel[] = [
        { timelineId, ceiling: null },
        { timelineId: point.commit.timeline_id, ceiling: Number(point.commit.seq) },
        ...parentLevels.slice(1),
      ];
      const branch: NewBranchRow = {
        bucket_id: bucket.id,
        name,
        timeline_id: timelineId,
        parent_id: point.commit.timeline_id,
        fork_seq: Number(point.commit.seq),
        depth,
        head_commit: point.commit.id,
        created_at: now,
        created_by: author,
      };
      await insertBranch(trx, branch, levels);
      await insertBucketState(trx, timelineId, bucket.tenant_id);
      // On the bucket's feed (main), and first on the branch's own.
      const detail = { branch: name, from: from ?? MAIN, commit: point.commit.id, author };
      await recordTimelineEvent(trx, bucket, bucket.id, EVENTS.branchCreated, { detail });
      await recordTimelineEvent(trx, bucket, timelineId, EVENTS.branchCreated, { detail });
      return branch;
    });
    // Deep chains cost a seek per level on every read: flatten them in the background.
    if (row.depth >= FLATTEN_DEPTH) await this.enqueueFlatten(bucket, name);
    return this.info(row, await this.branchNames(bucket.id));
  }

  /** Queues a flatten of the branch (a durable task: FLATTEN_BRANCH_TASK); returns the task id. */
  async enqueueFlatten(bucket: Bucket, name: string): Promise<number | undefined> {
    bucket = BranchService.root(bucket);
    if (!(await branchByName(this.db, bucket.id, name))) throw errors.noSuchBranch(bucket.name, name);
    const payload: FlattenBranchPayload = { bucketId: bucket.id, bucket: bucket.name, branch: name };
    return this.tasks?.enqueue(FLATTEN_BRANCH_TASK, payload, { priority: 80 });
  }

  /** Flattens a branch now (the task's work, core/branches/flatten.ts); the rows copied. */
  async flatten(bucket: Bucket, name: string, signal?: AbortSignal): Promise<number> {
    bucket = BranchService.root(bucket);
    return flattenBranch(this.ctx, bucket, name, signal);
  }

  private async assertNameFree(db: DataDb, bucket: Bucket, name: string): Promise<void> {
    if ((await branchByName(db, bucket.id, name)) || (await tagByName(db, bucket.id, name))) throw errors.refExists(bucket.name, name);
  }

  private async branchOfTimeline(db: DataDb, bucketId: string, timelineId: string): Promise<BranchRow | undefined> {
    return (await branchesOf(db, bucketId)).find((b) => b.timeline_id === timelineId);
  }

  /** Commits a branch's present state: O(1), nothing is copied. */
  async commit(bucket: Bucket, branchName: string, message: string, author: string): Promise<CommitInfo> {
    bucket = BranchService.root(bucket);
    if (!message.trim()) throw fail.invalid('InvalidArgument', 'A commit needs a message.');
    const row = await this.tx(async (trx) => {
      await ensureMainRow(trx, bucket.id, bucket.created_at, '');
      const branch = await branchByName(trx, bucket.id, branchName);
      if (!branch) throw errors.noSuchBranch(bucket.name, branchName);
      const head = branch.head_commit === null ? undefined : await commitById(trx, bucket.id, branch.head_commit);
      return commitOn(trx, bucket, branch, head, message, author);
    });
    return commitInfo(row, await this.branchNames(bucket.id));
  }

  /** Commits reachable from a ref, newest generation first (git log's order for a DAG). */
  async log(bucket: Bucket, ref: string, limit = 100): Promise<CommitInfo[]> {
    bucket = BranchService.root(bucket);
    const names = await this.branchNames(bucket.id);
    let start: string | undefined;
    const branch = await branchByName(this.db, bucket.id, ref);
    if (branch) start = branch.head_commit ?? undefined;
    else if (ref === MAIN) start = undefined;
    else {
      const tag = await tagByName(this.db, bucket.id, ref);
      start = tag?.commit_id ?? commitIdOfRef(ref) ?? ref;
      if (!(await commitById(this.db, bucket.id, start))) throw errors.noSuchRef(bucket.name, ref);
    }
    const out: CommitInfo[] = [];
    if (start === undefined) return out;
    const seen = new Set<string>([start]);
    let frontier = await commitsByIds(this.db, bucket.id, [start]);
    while (frontier.length > 0 && out.length < limit) {
      frontier.sort((a, b) => Number(b.generation) - Number(a.generation) || Number(b.created_at) - Number(a.created_at));
      const next = frontier.shift()!;
      out.push(commitInfo(next, names));
      const parents = (JSON.parse(next.parents) as string[]).filter((p) => !seen.has(p));
      for (const p of parents) seen.add(p);
      frontier = [...frontier, ...(await commitsByIds(this.db, bucket.id, parents))];
    }
    return out;
  }

  async showCommit(bucket: Bucket, id: string): Promise<CommitInfo> {
    bucket = BranchService.root(bucket);
    const row = await commitById(this.db, bucket.id, commitIdOfRef(id) ?? id);
    if (!row) throw errors.noSuchRef(bucket.name, id);
    return commitInfo(row, await this.branchNames(bucket.id));
  }

  /**
   * Deletes a branch: its name, its commits and every version written on
   * it. Refused for main, for a branch others were made from (they read
   * through it) and for one whose commits are tagged. Object Lock outranks
   * it: a branch holding a protected version is refused before anything goes.
   */
  async delete(
    bucket: Bucket,
    name: string,
    objects: { deleteMany(b: Bucket, targets: DeleteTarget[]): Promise<Array<object>> },
  ): Promise<void> {
    bucket = BranchService.root(bucket);
    if (name === MAIN) throw fail.conflict('InvalidArgument', 'main is the bucket itself: delete the bucket instead.');
    const branch = await branchByName(this.db, bucket.id, name);
    if (!branch) throw errors.noSuchBranch(bucket.name, name);
    if (await hasChildren(this.db, branch.timeline_id)) {
      throw fail.conflict('BranchHasChildren', `Branches were made from ${name} and read through it; delete them first.`);
    }
    if (await hasTagsOn(this.db, bucket.id, branch.timeline_id)) {
      throw fail.conflict('BranchHasTags', `Tags name commits of ${name}; delete them first.`);
    }
    if (await hasProtectedVersion(this.db, branch.timeline_id, Date.now())) {
      throw fail.conflict('ObjectLocked', `Branch ${name} holds versions protected by Object Lock (retention or legal hold).`);
    }
    // The name and commits go first (the branch is gone for readers at once), then its versions.
    await this.tx(async (trx) => {
      await deleteBranchRows(trx, bucket.id, branch.timeline_id);
      await deleteCommitsOf(trx, bucket.id, branch.timeline_id);
      await recordTimelineEvent(trx, bucket, bucket.id, EVENTS.branchDeleted, { detail: { branch: name } });
    });
    const timeline: Bucket = { ...bucket, id: branch.timeline_id, name: `${bucket.name}--${name}` };
    for (;;) {
      const batch = await someVersions(this.db, branch.timeline_id, 1000);
      if (batch.length === 0) break;
      const results = await objects.deleteMany(timeline, batch);
      if (results.some((r) => 'error' in r)) throw fail.conflict('ObjectLocked', `Branch ${name} holds versions protected by Object Lock.`);
    }
    await deleteBucketState(this.db, branch.timeline_id);
    // Its feed went with its name (a branch made again under the name is a new timeline).
    await dropTimelineEvents(this.db, branch.timeline_id);
  }

  // ---- diff, merge, revert ----

  /** What differs from one ref to another (keys added, changed, removed), a page at a time. */
  async diff(bucket: Bucket, from: string, to: string, page: { after?: string; limit: number }) {
    bucket = BranchService.root(bucket);
    return diffViews(this.db, await refLevels(this.db, bucket, from), await refLevels(this.db, bucket, to), page);
  }

  /** Merges a ref into a branch (core/branches/merge-refs.ts). */
  async merge(bucket: Bucket, source: string, into: string, opts: { strategy: MergeStrategy; author: string; message?: string }) {
    bucket = BranchService.root(bucket);
    return mergeRefs(this.ctx, bucket, source, into, opts);
  }

  /** Reverts a commit on a branch (core/branches/merge-refs.ts). */
  async revert(bucket: Bucket, into: string, commitRef: string, opts: { strategy: MergeStrategy; author: string; parent?: number }) {
    bucket = BranchService.root(bucket);
    return revertCommit(this.ctx, bucket, into, commitRef, opts);
  }

  // ---- tags ----

  async createTag(bucket: Bucket, name: string, at: string, author: string): Promise<TagInfo> {
    bucket = BranchService.root(bucket);
    validateRefName(bucket.name, name, 'tag');
    const now = Date.now();
    const commit = await this.tx(async (trx) => {
      await ensureMainRow(trx, bucket.id, bucket.created_at, '');
      await this.assertNameFree(trx, bucket, name);
      const point = await pointOf(trx, bucket, at, author, `tag ${name}`);
      await insertTag(trx, { bucket_id: bucket.id, name, commit_id: point.commit.id, created_at: now, created_by: author });
      await recordTimelineEvent(trx, bucket, bucket.id, EVENTS.tagCreated, { detail: { tag: name, commit: point.commit.id, author } });
      return point.commit;
    });
    return { name, commit: commit.id, createdAt: new Date(now), createdBy: author };
  }

  async listTags(bucket: Bucket): Promise<TagInfo[]> {
    bucket = BranchService.root(bucket);
    return (await tagsOf(this.db, bucket.id)).map((t) => ({
      name: t.name,
      commit: t.commit_id,
      createdAt: new Date(Number(t.created_at)),
      createdBy: t.created_by,
    }));
  }

  async deleteTag(bucket: Bucket, name: string): Promise<void> {
    bucket = BranchService.root(bucket);
    await this.tx(async (trx) => {
      if (!(await deleteTag(trx, bucket.id, name))) throw errors.noSuchTag(bucket.name, name);
      await recordTimelineEvent(trx, bucket, bucket.id, EVENTS.tagDeleted, { detail: { tag: name } });
    });
  }
}
