/**
 * What `anvil admin` commands ask of a server, written once: each command
 * calls one door and prints the answer. There are two doors — the admin API
 * of a running server (remote.ts, with --endpoint) and the database directly
 * (direct.ts, through the same admin operations the API's routes call) — so
 * no command is implemented twice.
 */
import type { BranchView, CommitView, DiffPageView, MergeStrategy, MergeView, TagView } from '../../admin/ops/branches.js';
import type { BucketDeletion, BucketView, KeyVersionsPage } from '../../admin/ops/buckets.js';
import type { EventsPage } from '../../admin/ops/events.js';
import type { CreatedKey } from '../../admin/ops/keys.js';
import type { ServerStatus } from '../../admin/ops/status.js';
import type { TaskChange, TaskView } from '../../admin/ops/tasks.js';
import type { TenantDeletion, TenantView } from '../../admin/ops/tenants.js';
import type { NewUser, UserView } from '../../admin/ops/users.js';
import type { BackendList, DrainResult, RebalanceResult, RemoveResult, UndrainResult } from '../../blobs/index.js';
import type { ScrubStatus } from '../../blobs/scrub.js';
import type { Quota } from '../../core/objects/quota.js';
import type { PolicyStatement } from '../../core/policy.js';
import type { AccessKeyInfo, TenantLimitsChange } from '../../core/tenants.js';
import type { TaskStatus } from '../../meta/schema.js';

export interface NewKey {
  name?: string;
  policies?: PolicyStatement[];
  imported?: { accessKeyId: string; secretAccessKey: string };
}

export interface BucketReplication {
  name: string;
  replication: number | null;
  effectiveReplication: number;
}

export interface AdminDoor {
  createTenant(name: string): Promise<TenantView>;
  listTenants(): Promise<TenantView[]>;
  /** A tenant with its quota, rate limits and the usage its quota counts. */
  showTenant(name: string): Promise<TenantView>;
  /** Absent fields stay, null resets one. */
  setTenantLimits(name: string, change: TenantLimitsChange): Promise<TenantView>;
  /** Refused while it owns buckets, unless force (then a task deletes them first). */
  deleteTenant(name: string, force: boolean): Promise<TenantDeletion>;
  createKey(tenant: string, key: NewKey): Promise<CreatedKey>;
  /** Without a tenant: every tenant the caller may see. */
  listKeys(tenant?: string): Promise<AccessKeyInfo[]>;
  /** `tenant` only helps the remote door find the key (it looks it up when omitted). */
  deleteKey(accessKeyId: string, tenant?: string): Promise<void>;
  createUser(tenant: string, user: NewUser): Promise<UserView>;
  listUsers(tenant: string): Promise<UserView[]>;
  /** By id or email. */
  deleteUser(tenant: string, who: string): Promise<UserView>;
  /** Settings, versioning, Object Lock and usage with the history kept. */
  showBucket(name: string): Promise<BucketView>;
  /** Without a tenant: every tenant the caller may see. */
  listBuckets(tenant?: string): Promise<BucketView[]>;
  /** One page of a key's versions and delete markers, newest first (`after`: the previous page's nextVersionIdMarker). */
  keyVersions(bucket: string, key: string, page: { after?: string; limit: number }): Promise<KeyVersionsPage>;
  deleteBucket(name: string, force: boolean): Promise<BucketDeletion>;
  setBucketReplication(name: string, replication: number | null): Promise<BucketReplication>;
  /** Absent fields stay, null removes a limit. */
  setBucketQuota(name: string, quota: Partial<Quota>): Promise<BucketView>;
  listBackends(): Promise<BackendList>;
  drainBackend(name: string): Promise<DrainResult>;
  /** `tolerance` as the operator typed it (the API validates it). */
  rebalance(tolerance: string): Promise<RebalanceResult>;
  undrainBackend(name: string): Promise<UndrainResult>;
  removeBackend(name: string, force: boolean): Promise<RemoveResult>;
  status(): Promise<ServerStatus>;
  /** The newest background tasks (optionally of one status), newest first. */
  listTasks(status?: TaskStatus): Promise<TaskView[]>;
  cancelTask(id: number): Promise<TaskChange>;
  retryTask(id: number): Promise<TaskChange>;
  scrubStatus(): Promise<ScrubStatus>;

  /** One page of a bucket's change feed after a cursor (`latest`: what comes next), waiting up to `wait` seconds for one. */
  events(bucket: string, q: { branch: string; after?: string; limit: number; wait: number }): Promise<EventsPage>;

  // Branches, commits and tags of a bucket (`anvil branch|commit|log|diff|merge|tag|revert`).
  listBranches(bucket: string): Promise<BranchView[]>;
  showBranch(bucket: string, name: string): Promise<BranchView>;
  /** `from`: a branch (its head), a tag or a commit; default main. */
  createBranch(bucket: string, name: string, from?: string): Promise<BranchView>;
  deleteBranch(bucket: string, name: string): Promise<void>;
  commit(bucket: string, branch: string, message: string): Promise<CommitView>;
  /** Commits reachable from a ref, newest generation first; at most `limit` (1 to 1000). */
  log(bucket: string, ref: string, limit: number): Promise<CommitView[]>;
  /** One page of the keys that differ from ref `from` to ref `to` (`after`: the previous page's nextAfter). */
  diff(bucket: string, from: string, to: string, page: { after?: string; limit: number }): Promise<DiffPageView>;
  /** Conflicts (strategy fail) are an outcome, not an error: nothing was applied. */
  merge(bucket: string, source: string, into: string, opts: { strategy: MergeStrategy; message?: string }): Promise<MergeView>;
  revert(bucket: string, into: string, commit: string, opts: { strategy: MergeStrategy; parent?: number }): Promise<MergeView>;
  listTags(bucket: string): Promise<TagView[]>;
  createTag(bucket: string, name: string, at: string): Promise<TagView>;
  deleteTag(bucket: string, name: string): Promise<void>;
}

/** A user named by id, or by email (any case). */
export function findUser(users: UserView[], who: string): UserView | undefined {
  return users.find((u) => u.id === who || u.email === who.trim().toLowerCase());
}
