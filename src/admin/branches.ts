/**
 * Branches, commits and tags of a bucket (core/branches/): what
 * `anvil branch|commit|log|tag` call. Reading them needs the list action
 * on the bucket; making or deleting them the admin action (or a tenant
 * admin): a branch is a bucket-sized thing, as a bucket is.
 */
import { z } from 'zod';

import { author, requireAdminOfBucket, requireListOfBucket, rootBucket, writableBranchBucket } from './branch-access.js';
import { AdminApiError } from './errors.js';
import {
  commitBranch,
  createBranch,
  createTag,
  deleteBranch,
  deleteTag,
  diffRefs,
  listBranches,
  listTags,
  logCommits,
  mergeRef,
  type MergeResultView,
  type MergeView,
  revertCommit,
  showBranch,
  showCommit,
} from './ops/branches.js';
import { route } from './route.js';

const Branch = z
  .object({
    name: z.string(),
    parent: z.string().nullable().describe('the branch it was made from (null for main)'),
    forkSeq: z.number().int().nullable().describe("the parent's last sequence number that shows through"),
    depth: z.number().int().describe('ancestors a read may go through'),
    flattened: z.boolean().describe("its ancestors' rows were copied in: reads stop at it"),
    headCommit: z.string().nullable(),
    alias: z.string().describe('the bucket name that addresses this branch from S3 clients'),
    createdAt: z.string(),
    createdBy: z.string(),
  })
  .meta({ id: 'Branch' });
const BranchList = z.object({ branches: z.array(Branch) }).meta({ id: 'BranchList' });
const NewBranch = z
  .object({
    name: z.string().min(1).max(63),
    from: z.string().min(1).max(63).optional().describe('a branch (its head), a tag or a commit id; default main'),
  })
  .strict()
  .meta({ id: 'NewBranch' });
const Commit = z
  .object({
    id: z.string(),
    branch: z.string().nullable(),
    seq: z.number().int(),
    generation: z.number().int(),
    parents: z.array(z.string()),
    author: z.string(),
    message: z.string(),
    alias: z.string().describe('the read-only bucket name of this commit'),
    createdAt: z.string(),
  })
  .meta({ id: 'Commit' });
const CommitList = z.object({ commits: z.array(Commit) }).meta({ id: 'CommitList' });
const NewCommit = z
  .object({ message: z.string().min(1).max(4096) })
  .strict()
  .meta({ id: 'NewCommit' });
const LogQuery = z.object({
  ref: z.string().min(1).max(63).default('main').describe('a branch, tag or commit'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const Tag = z
  .object({ name: z.string(), commit: z.string(), alias: z.string(), createdAt: z.string(), createdBy: z.string() })
  .meta({ id: 'Tag' });
const TagList = z.object({ tags: z.array(Tag) }).meta({ id: 'TagList' });
const NewTag = z
  .object({ name: z.string().min(1).max(63), at: z.string().min(1).max(63).describe('a branch (its head), a tag or a commit id') })
  .strict()
  .meta({ id: 'NewTag' });

const Side = z
  .object({ versionId: z.string(), etag: z.string(), size: z.number().int(), lastModified: z.string() })
  .meta({ id: 'DiffSide' });
const DiffEntry = z
  .object({ key: z.string(), change: z.enum(['added', 'removed', 'changed']), from: Side.optional(), to: Side.optional() })
  .meta({ id: 'DiffEntry' });
const DiffPage = z
  .object({ entries: z.array(DiffEntry), nextAfter: z.string().optional().describe('pass as `after` for the next page') })
  .meta({ id: 'DiffPage' });
const DiffQuery = z.object({
  from: z.string().min(1).max(63).describe('a branch, tag or commit'),
  to: z.string().min(1).max(63).describe('a branch, tag or commit'),
  after: z.string().min(1).max(1024).optional().describe("the previous page's nextAfter"),
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
});
const Strategy = z.enum(['fail', 'source-wins', 'dest-wins']).default('fail');
const NewMerge = z
  .object({
    source: z.string().min(1).max(63).describe('a branch (its present), a tag or a commit'),
    strategy: Strategy.describe('fail: list conflicts and apply nothing; source-wins / dest-wins resolve them'),
    message: z.string().min(1).max(4096).optional(),
  })
  .strict()
  .meta({ id: 'NewMerge' });
const NewRevert = z
  .object({
    commit: z.string().min(1).max(63),
    parent: z.number().int().min(0).optional().describe('for a merge commit: which parent to go back to'),
    strategy: Strategy,
  })
  .strict()
  .meta({ id: 'NewRevert' });
const MergeResult = z
  .object({
    status: z.enum(['merged', 'up-to-date']),
    base: z.string().nullable().describe('the merge base commit'),
    bases: z.number().int().describe('how many best common ancestors there were (more than 1: a criss-cross; the newest was used)'),
    source: z.string().nullable(),
    applied: z.number().int().describe('keys written on the destination'),
    commit: Commit.optional(),
  })
  .meta({ id: 'MergeResult' });

export const branchRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/branches',
    tag: 'branches',
    summary: "List a bucket's branches (main first)",
    access: 'root; tenant admin of the owner; others with the list action on the bucket',
    auth: 'any',
    response: BranchList,
    async handle({ principal, params, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireListOfBucket(principal, bucket);
      return { branches: await listBranches(deps, bucket) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/buckets/:bucket/branches',
    tag: 'branches',
    summary: 'Create a branch from a branch head, a tag or a commit (O(1): nothing is copied)',
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    body: NewBranch,
    response: Branch,
    status: 201,
    async handle({ principal, params, body, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireAdminOfBucket(principal, bucket);
      return createBranch(deps, bucket, body.name, body.from, author(principal));
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/branches/:branch',
    tag: 'branches',
    summary: 'Show a branch',
    access: 'root; tenant admin of the owner; others with the list action on the bucket',
    auth: 'any',
    response: Branch,
    async handle({ principal, params, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireListOfBucket(principal, bucket);
      return showBranch(deps, bucket, params.branch);
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/buckets/:bucket/branches/:branch',
    tag: 'branches',
    summary: 'Delete a branch with its commits and the versions written on it (not main; not one others were made from)',
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    async handle({ principal, params, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireAdminOfBucket(principal, bucket);
      await deleteBranch(deps, bucket, params.branch);
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/buckets/:bucket/branches/:branch/commits',
    tag: 'branches',
    summary: "Commit a branch's present state (O(1): a commit names a point in its sequence)",
    access: 'root; tenant admin of the owner; others with the write action on the bucket',
    auth: 'any',
    body: NewCommit,
    response: Commit,
    status: 201,
    async handle({ principal, params, body, deps }) {
      const bucket = await writableBranchBucket(principal, params.bucket, params.branch, deps);
      return commitBranch(deps, bucket, params.branch, body.message, author(principal));
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/commits',
    tag: 'branches',
    summary: 'The commits reachable from a ref, newest generation first (log)',
    access: 'root; tenant admin of the owner; others with the list action on the bucket',
    auth: 'any',
    query: LogQuery,
    response: CommitList,
    async handle({ principal, params, query, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireListOfBucket(principal, bucket);
      return { commits: await logCommits(deps, bucket, query.ref, query.limit) };
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/commits/:commit',
    tag: 'branches',
    summary: 'Show a commit',
    access: 'root; tenant admin of the owner; others with the list action on the bucket',
    auth: 'any',
    response: Commit,
    async handle({ principal, params, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireListOfBucket(principal, bucket);
      return showCommit(deps, bucket, params.commit);
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/tags',
    tag: 'branches',
    summary: "List a bucket's tags (immutable names of commits)",
    access: 'root; tenant admin of the owner; others with the list action on the bucket',
    auth: 'any',
    response: TagList,
    async handle({ principal, params, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireListOfBucket(principal, bucket);
      return { tags: await listTags(deps, bucket) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/buckets/:bucket/tags',
    tag: 'branches',
    summary: "Tag a commit (or a branch's head, committed first if it changed)",
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    body: NewTag,
    response: Tag,
    status: 201,
    async handle({ principal, params, body, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireAdminOfBucket(principal, bucket);
      return createTag(deps, bucket, body.name, body.at, author(principal));
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/buckets/:bucket/tags/:tag',
    tag: 'branches',
    summary: 'Delete a tag (the commit stays while a branch reaches it)',
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    async handle({ principal, params, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireAdminOfBucket(principal, bucket);
      await deleteTag(deps, bucket, params.tag);
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/diff',
    tag: 'branches',
    summary: 'Keys added, changed and removed from one ref to another (cost follows the changes, not the bucket)',
    access: 'root; tenant admin of the owner; others with the list action on the bucket',
    auth: 'any',
    query: DiffQuery,
    response: DiffPage,
    async handle({ principal, params, query, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireListOfBucket(principal, bucket);
      return diffRefs(deps, bucket, query.from, query.to, { after: query.after, limit: query.limit });
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/buckets/:bucket/branches/:branch/merges',
    tag: 'branches',
    summary: 'Merge a ref into the branch (three-way; with conflicts and strategy fail: 409 listing them, nothing applied)',
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    body: NewMerge,
    response: MergeResult,
    otherStatuses: [{ status: 409, description: 'Conflicts (error.conflicts lists each key with base, source and dest); nothing applied' }],
    async handle({ principal, params, body, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireAdminOfBucket(principal, bucket);
      return mergeAnswer(
        await mergeRef(deps, bucket, body.source, params.branch, {
          strategy: body.strategy,
          author: author(principal),
          message: body.message,
        }),
      );
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/buckets/:bucket/branches/:branch/reverts',
    tag: 'branches',
    summary: 'Revert a commit on the branch (a merge whose base is the commit and whose source is its parent)',
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    body: NewRevert,
    response: MergeResult,
    otherStatuses: [{ status: 409, description: 'Conflicts (error.conflicts); nothing applied' }],
    async handle({ principal, params, body, deps }) {
      const bucket = await rootBucket(principal, params.bucket, deps);
      requireAdminOfBucket(principal, bucket);
      return mergeAnswer(
        await revertCommit(deps, bucket, params.branch, body.commit, {
          strategy: body.strategy,
          author: author(principal),
          parent: body.parent,
        }),
      );
    },
  }),
];

/** A merge's answer; conflicts are a 409 whose error lists them (nothing was applied). */
function mergeAnswer(view: MergeView): MergeResultView {
  if (view.status === 'conflicts') {
    const { conflicts, base, bases, source } = view;
    throw new AdminApiError('Conflict', 409, `${conflicts.length} conflicting key(s); nothing was applied`, {
      conflicts,
      base,
      bases,
      source,
    });
  }
  return view;
}
