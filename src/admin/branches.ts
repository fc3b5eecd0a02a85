/**
 * Branches, commits and tags of a bucket (core/branches/): what
 * `anvil branch|commit|log|tag` call. Reading them needs the list action
 * on the bucket; making or deleting them the admin action (or a tenant
 * admin): a branch is a bucket-sized thing, as a bucket is.
 */
import { z } from 'zod';

import type { DiffSide } from '../core/branches/diff.js';
import type { BranchInfo, CommitInfo, DiffEntry, MergeOutcome, TagInfo } from '../core/branches/service.js';
import type { Bucket } from '../core/buckets.js';
import { isAdminOf, visibleBucket } from './access.js';
import type { Principal } from './auth.js';
import { AdminApiError, adminErrors } from './errors.js';
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

function requireAdminOfBucket(p: Principal, bucket: Bucket): void {
  if (!isAdminOf(p, bucket.tenant_id) && !p.permissions.allows('admin', { kind: 'bucket', bucket: bucket.name })) {
    throw adminErrors.forbidden(`changing the branches of ${bucket.name} needs the admin action on it`);
  }
}

function requireListOfBucket(p: Principal, bucket: Bucket): void {
  if (!isAdminOf(p, bucket.tenant_id) && !p.permissions.allows('list', { kind: 'bucket', bucket: bucket.name })) {
    throw adminErrors.forbidden(`reading the history of ${bucket.name} needs the list action on it`);
  }
}

/** The bucket itself: branch routes name a bucket, not an alias of it. */
async function rootBucket(p: Principal, name: string, deps: Parameters<typeof visibleBucket>[2]): Promise<Bucket> {
  const bucket = await visibleBucket(p, name, deps);
  if (bucket.view) throw adminErrors.invalid(`${name} is an alias of bucket ${bucket.view.bucketName}: name the bucket`);
  return bucket;
}

const author = (p: Principal) => (p.kind === 'user' ? `user:${p.id}` : `key:${p.id}`);

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
      const branches = await deps.branches.list(bucket);
      return { branches: branches.map((b) => toBranch(bucket, b)) };
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
      return toBranch(bucket, await deps.branches.create(bucket, body.name, body.from, author(principal)));
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
      return toBranch(bucket, await deps.branches.get(bucket, params.branch));
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
      await deps.branches.delete(bucket, params.branch, deps.objects);
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
      const bucket = await rootBucket(principal, params.bucket, deps);
      if (!isAdminOf(principal, bucket.tenant_id) && !principal.permissions.allows('write', { kind: 'bucket', bucket: bucket.name })) {
        throw adminErrors.forbidden(`committing to ${bucket.name} needs the write action on it`);
      }
      return toCommit(bucket, await deps.branches.commit(bucket, params.branch, body.message, author(principal)));
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
      return { commits: (await deps.branches.log(bucket, query.ref, query.limit)).map((c) => toCommit(bucket, c)) };
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
      return toCommit(bucket, await deps.branches.showCommit(bucket, params.commit));
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
      return { tags: (await deps.branches.listTags(bucket)).map((t) => toTag(bucket, t)) };
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
      return toTag(bucket, await deps.branches.createTag(bucket, body.name, body.at, author(principal)));
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
      await deps.branches.deleteTag(bucket, params.tag);
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
      const page = await deps.branches.diff(bucket, query.from, query.to, { after: query.after, limit: query.limit });
      return { entries: page.entries.map(diffJson), nextAfter: page.nextAfter };
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
      const out = await deps.branches.merge(bucket, body.source, params.branch, {
        strategy: body.strategy,
        author: author(principal),
        message: body.message,
      });
      return mergeJson(bucket, out);
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
      const out = await deps.branches.revert(bucket, params.branch, body.commit, {
        strategy: body.strategy,
        author: author(principal),
        parent: body.parent,
      });
      return mergeJson(bucket, out);
    },
  }),
];

function toBranch(bucket: Bucket, b: BranchInfo): z.input<typeof Branch> {
  return { ...b, alias: `${bucket.name}--${b.name}`, createdAt: b.createdAt.toISOString() };
}

function toCommit(bucket: Bucket, c: CommitInfo): z.input<typeof Commit> {
  return { ...c, alias: `${bucket.name}--c${c.id}`, createdAt: c.createdAt.toISOString() };
}

function toTag(bucket: Bucket, t: TagInfo): z.input<typeof Tag> {
  return { ...t, alias: `${bucket.name}--${t.name}`, createdAt: t.createdAt.toISOString() };
}

function sideJson(side: DiffSide | undefined) {
  return side && { ...side, lastModified: side.lastModified.toISOString() };
}

function diffJson(e: DiffEntry): z.input<typeof DiffEntry> {
  return { key: e.key, change: e.change, from: sideJson(e.from), to: sideJson(e.to) };
}

/** A merge's answer; conflicts are a 409 whose error lists them (nothing was applied). */
function mergeJson(bucket: Bucket, out: MergeOutcome): z.input<typeof MergeResult> {
  if (out.status === 'conflicts') {
    const conflicts = out.conflicts.map((c) => ({
      key: c.key,
      base: sideJson(c.base),
      source: sideJson(c.source),
      dest: sideJson(c.dest),
    }));
    throw new AdminApiError('Conflict', 409, `${conflicts.length} conflicting key(s); nothing was applied`, { conflicts });
  }
  return {
    status: out.status,
    base: out.base,
    bases: out.bases,
    source: out.source,
    applied: out.applied,
    commit: out.commit && toCommit(bucket, out.commit),
  };
}
