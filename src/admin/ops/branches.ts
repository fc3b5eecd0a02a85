/**
 * Branches, commits, tags, diff, merge and revert of a bucket as the admin
 * API and `anvil branch|commit|log|diff|merge|tag|revert` show them: the
 * JSON forms (dates as ISO strings, each ref with the bucket name that
 * addresses it from S3 clients) and the operations behind
 * /admin/v1/buckets/:bucket/branches|commits|tags|diff. Who may call them is
 * the caller's check; `bucket` is the bucket itself (not an alias: the
 * branch service refuses one).
 *
 * A merge with conflicts is an outcome here (`status: 'conflicts'`), not an
 * error: the route turns it into a 409 listing them, the CLI prints them.
 */
import type { DiffSide } from '../../core/branches/diff.js';
import { MAIN } from '../../core/branches/names.js';
import type {
  BranchInfo,
  CommitInfo,
  DiffEntry,
  MergeConflict,
  MergeOutcome,
  MergeStrategy,
  TagInfo,
} from '../../core/branches/service.js';
import type { Bucket } from '../../core/buckets.js';
import type { AdminServices } from '../deps.js';
import { iso } from '../schemas.js';

export type { MergeStrategy } from '../../core/branches/service.js';

export interface BranchView {
  name: string;
  parent: string | null;
  forkSeq: number | null;
  depth: number;
  flattened: boolean;
  headCommit: string | null;
  /** The bucket name that addresses the branch from S3 clients (`bucket--branch`). */
  alias: string;
  createdAt: string;
  createdBy: string;
}

export interface CommitView {
  id: string;
  branch: string | null;
  seq: number;
  generation: number;
  parents: string[];
  author: string;
  message: string;
  /** The read-only bucket name of the commit (`bucket--c<id>`). */
  alias: string;
  createdAt: string;
}

export interface TagView {
  name: string;
  commit: string;
  alias: string;
  createdAt: string;
  createdBy: string;
}

export interface SideView {
  versionId: string;
  etag: string;
  size: number;
  lastModified: string;
}

export interface DiffEntryView {
  key: string;
  change: 'added' | 'removed' | 'changed';
  from?: SideView;
  to?: SideView;
}

export interface DiffPageView {
  entries: DiffEntryView[];
  /** Pass as `after` for the next page. */
  nextAfter?: string;
}

export interface ConflictView {
  key: string;
  base?: SideView;
  source?: SideView;
  dest?: SideView;
}

interface MergeBaseView {
  /** The merge base commit (null: no common history). */
  base: string | null;
  /** Best common ancestors found (more than 1: a criss-cross; the newest was used). */
  bases: number;
  /** The commit merged in (for a revert, the parent restored). */
  source: string | null;
}

/** A merge or revert that applied (or found nothing to apply). */
export interface MergeResultView extends MergeBaseView {
  status: 'merged' | 'up-to-date';
  /** Keys written on the destination. */
  applied: number;
  commit?: CommitView;
}

/** A merge or revert that stopped on conflicts: nothing was applied. */
export interface MergeConflictsView extends MergeBaseView {
  status: 'conflicts';
  conflicts: ConflictView[];
}

export type MergeView = MergeResultView | MergeConflictsView;

export function toBranch(bucket: Bucket, b: BranchInfo): BranchView {
  return { ...b, alias: `${bucket.name}--${b.name}`, createdAt: iso(b.createdAt) };
}

export function toCommit(bucket: Bucket, c: CommitInfo): CommitView {
  return { ...c, alias: `${bucket.name}--c${c.id}`, createdAt: iso(c.createdAt) };
}

export function toTag(bucket: Bucket, t: TagInfo): TagView {
  return { ...t, alias: `${bucket.name}--${t.name}`, createdAt: iso(t.createdAt) };
}

function sideJson(side: DiffSide | undefined): SideView | undefined {
  return side && { ...side, lastModified: iso(side.lastModified) };
}

export function diffJson(e: DiffEntry): DiffEntryView {
  return { key: e.key, change: e.change, from: sideJson(e.from), to: sideJson(e.to) };
}

function conflictJson(c: MergeConflict): ConflictView {
  return { key: c.key, base: sideJson(c.base), source: sideJson(c.source), dest: sideJson(c.dest) };
}

/** A merge's or revert's outcome, conflicts included (the route makes those a 409). */
export function mergeJson(bucket: Bucket, out: MergeOutcome): MergeView {
  const base = { base: out.base, bases: out.bases, source: out.source };
  if (out.status === 'conflicts') return { status: 'conflicts', ...base, conflicts: out.conflicts.map(conflictJson) };
  return { status: out.status, ...base, applied: out.applied, commit: out.commit && toCommit(bucket, out.commit) };
}

/** Main first (the bucket itself), then the others in the service's order. */
export async function listBranches(s: AdminServices, bucket: Bucket): Promise<BranchView[]> {
  const all = (await s.branches.list(bucket)).map((b) => toBranch(bucket, b));
  return [...all.filter((b) => b.name === MAIN), ...all.filter((b) => b.name !== MAIN)];
}

export async function showBranch(s: AdminServices, bucket: Bucket, name: string): Promise<BranchView> {
  return toBranch(bucket, await s.branches.get(bucket, name));
}

export async function createBranch(
  s: AdminServices,
  bucket: Bucket,
  name: string,
  from: string | undefined,
  author: string,
): Promise<BranchView> {
  return toBranch(bucket, await s.branches.create(bucket, name, from, author));
}

export function deleteBranch(s: AdminServices, bucket: Bucket, name: string): Promise<void> {
  return s.branches.delete(bucket, name, s.objects);
}

export async function commitBranch(s: AdminServices, bucket: Bucket, branch: string, message: string, author: string): Promise<CommitView> {
  return toCommit(bucket, await s.branches.commit(bucket, branch, message, author));
}

export async function logCommits(s: AdminServices, bucket: Bucket, ref: string, limit: number): Promise<CommitView[]> {
  return (await s.branches.log(bucket, ref, limit)).map((c) => toCommit(bucket, c));
}

export async function showCommit(s: AdminServices, bucket: Bucket, id: string): Promise<CommitView> {
  return toCommit(bucket, await s.branches.showCommit(bucket, id));
}

export async function listTags(s: AdminServices, bucket: Bucket): Promise<TagView[]> {
  return (await s.branches.listTags(bucket)).map((t) => toTag(bucket, t));
}

export async function createTag(s: AdminServices, bucket: Bucket, name: string, at: string, author: string): Promise<TagView> {
  return toTag(bucket, await s.branches.createTag(bucket, name, at, author));
}

export function deleteTag(s: AdminServices, bucket: Bucket, name: string): Promise<void> {
  return s.branches.deleteTag(bucket, name);
}

/** One page of differences from ref `from` to ref `to`. */
export async function diffRefs(
  s: AdminServices,
  bucket: Bucket,
  from: string,
  to: string,
  page: { after?: string; limit: number },
): Promise<DiffPageView> {
  const out = await s.branches.diff(bucket, from, to, page);
  return { entries: out.entries.map(diffJson), nextAfter: out.nextAfter };
}

export async function mergeRef(
  s: AdminServices,
  bucket: Bucket,
  source: string,
  into: string,
  opts: { strategy: MergeStrategy; author: string; message?: string },
): Promise<MergeView> {
  return mergeJson(bucket, await s.branches.merge(bucket, source, into, opts));
}

export async function revertCommit(
  s: AdminServices,
  bucket: Bucket,
  into: string,
  commit: string,
  opts: { strategy: MergeStrategy; author: string; parent?: number },
): Promise<MergeView> {
  return mergeJson(bucket, await s.branches.revert(bucket, into, commit, opts));
}
