/** The admin API door (`--endpoint`): each question is one or two signed requests (admin-client.ts). */
import type { BranchView, CommitView, ConflictView, DiffPageView, MergeResultView, MergeView, TagView } from '../../admin/ops/branches.js';
import type { BucketView, KeyVersionsPage } from '../../admin/ops/buckets.js';
import type { EventsPage } from '../../admin/ops/events.js';
import type { CreatedKey } from '../../admin/ops/keys.js';
import type { ServerStatus } from '../../admin/ops/status.js';
import type { TaskChange, TaskView } from '../../admin/ops/tasks.js';
import type { TenantDeletion, TenantView } from '../../admin/ops/tenants.js';
import type { UserView } from '../../admin/ops/users.js';
import type { BackendList, DrainResult, RebalanceResult, RemoveResult, UndrainResult } from '../../blobs/index.js';
import type { ScrubStatus } from '../../blobs/scrub.js';
import type { AccessKeyInfo } from '../../core/tenants.js';
import { AdminApiClientError, type AdminClient } from '../admin-client.js';
import { type AdminDoor, type BucketReplication, findUser } from './door.js';

/** A merge or revert: the API answers conflicts with a 409 listing them; here they are an outcome again. */
async function mergeRequest(send: () => Promise<MergeResultView>): Promise<MergeView> {
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof AdminApiClientError) || err.status !== 409 || !Array.isArray(err.details.conflicts)) throw err;
    const d = err.details;
    return {
      status: 'conflicts',
      base: typeof d.base === 'string' ? d.base : null,
      bases: typeof d.bases === 'number' ? d.bases : 1,
      source: typeof d.source === 'string' ? d.source : null,
      conflicts: d.conflicts as ConflictView[],
    };
  }
}

interface WhoAmI {
  level: 'root' | 'admin' | 'member';
  tenant: string;
}

export function remoteDoor(client: AdminClient): AdminDoor {
  /** The tenants a command without --tenant covers: every tenant for root, else the key's own. */
  const visibleTenants = async (): Promise<string[]> => {
    const who = await client.request<WhoAmI>('GET', ['auth', 'whoami']);
    if (who.level !== 'root') return [who.tenant];
    return (await door.listTenants()).map((t) => t.name);
  };
  const listUsers = async (tenant: string) => (await client.request<{ users: UserView[] }>('GET', ['tenants', tenant, 'users'])).users;
  const door: AdminDoor = {
    createTenant: (name) => client.request<TenantView>('POST', ['tenants'], { body: { name } }),
    listTenants: async () => (await client.request<{ tenants: TenantView[] }>('GET', ['tenants'])).tenants,
    deleteTenant: (name, force) => client.request<TenantDeletion>('DELETE', ['tenants', name], { query: force ? { force: 'true' } : {} }),
    showTenant: (name) => client.request<TenantView>('GET', ['tenants', name]),
    setTenantLimits: (name, change) => client.request<TenantView>('PATCH', ['tenants', name], { body: change }),
    createKey: (tenant, key) =>
      client.request<CreatedKey>('POST', ['tenants', tenant, 'keys'], {
        body: { name: key.name, policies: key.policies, ...key.imported },
      }),
    async listKeys(tenant) {
      const out: AccessKeyInfo[] = [];
      for (const name of tenant ? [tenant] : await visibleTenants()) {
        out.push(...(await client.request<{ keys: AccessKeyInfo[] }>('GET', ['tenants', name, 'keys'])).keys);
      }
      return out;
    },
    async deleteKey(id, tenant) {
      const owner = tenant ?? (await door.listKeys()).find((k) => k.accessKeyId === id)?.tenant;
      if (!owner) throw new Error(`no access key ${id}`);
      await client.request('DELETE', ['tenants', owner, 'keys', id]);
    },
    createUser: (tenant, user) => client.request<UserView>('POST', ['tenants', tenant, 'users'], { body: user }),
    listUsers,
    async deleteUser(tenant, who) {
      const found = findUser(await listUsers(tenant), who);
      if (!found) throw new Error(`no user ${who} in tenant ${tenant}`);
      await client.request('DELETE', ['tenants', tenant, 'users', found.id]);
      return found;
    },
    showBucket: (name) => client.request<BucketView>('GET', ['buckets', name]),
    async listBuckets(tenant) {
      const out: BucketView[] = [];
      for (const name of tenant ? [tenant] : await visibleTenants()) {
        out.push(...(await client.request<{ buckets: BucketView[] }>('GET', ['tenants', name, 'buckets'])).buckets);
      }
      return out;
    },
    keyVersions: (bucket, key, page) =>
      client.request<KeyVersionsPage>('GET', ['buckets', bucket, 'versions'], {
        query: { key, limit: String(page.limit), ...(page.after !== undefined ? { after: page.after } : {}) },
      }),
    async deleteBucket(name, force) {
      const r = await client.request<{ deleted: boolean; task?: number }>('DELETE', ['buckets', name], {
        query: force ? { force: 'true' } : {},
      });
      return { bucket: name, ...r };
    },
    setBucketReplication: (name, replication) => client.request<BucketReplication>('PATCH', ['buckets', name], { body: { replication } }),
    setBucketQuota: (name, quota) => client.request<BucketView>('PATCH', ['buckets', name], { body: { quota } }),
    listBackends: () => client.request<BackendList>('GET', ['backends']),
    drainBackend: (name) => client.request<DrainResult>('POST', ['backends', name, 'drain']),
    rebalance: (tolerance) => client.request<RebalanceResult>('POST', ['backends', 'rebalance'], { query: { tolerance } }),
    undrainBackend: (name) => client.request<UndrainResult>('POST', ['backends', name, 'undrain']),
    removeBackend: (name, force) => client.request<RemoveResult>('DELETE', ['backends', name], { query: force ? { force: 'true' } : {} }),
    status: () => client.request<ServerStatus>('GET', ['status']),
    listTasks: async (status) =>
      (await client.request<{ tasks: TaskView[] }>('GET', ['tasks'], { query: status === undefined ? {} : { status } })).tasks,
    cancelTask: (id) => client.request<TaskChange>('POST', ['tasks', String(id), 'cancel']),
    retryTask: (id) => client.request<TaskChange>('POST', ['tasks', String(id), 'retry']),
    scrubStatus: () => client.request<ScrubStatus>('GET', ['scrub']),
    async events(bucket, q) {
      const query: Record<string, string> = { branch: q.branch, limit: String(q.limit), wait: String(q.wait) };
      if (q.after !== undefined) query.after = q.after;
      try {
        return await client.request<EventsPage>('GET', ['buckets', bucket, 'events'], { query });
      } catch (err) {
        if (err instanceof AdminApiClientError && err.status === 410) return { gone: true, oldest: String(err.details.oldestCursor) };
        throw err;
      }
    },
    listBranches: async (bucket) => (await client.request<{ branches: BranchView[] }>('GET', ['buckets', bucket, 'branches'])).branches,
    showBranch: (bucket, name) => client.request<BranchView>('GET', ['buckets', bucket, 'branches', name]),
    createBranch: (bucket, name, from) => client.request<BranchView>('POST', ['buckets', bucket, 'branches'], { body: { name, from } }),
    async deleteBranch(bucket, name) {
      await client.request('DELETE', ['buckets', bucket, 'branches', name]);
    },
    commit: (bucket, branch, message) =>
      client.request<CommitView>('POST', ['buckets', bucket, 'branches', branch, 'commits'], { body: { message } }),
    log: async (bucket, ref, limit) =>
      (await client.request<{ commits: CommitView[] }>('GET', ['buckets', bucket, 'commits'], { query: { ref, limit: String(limit) } }))
        .commits,
    diff: (bucket, from, to, page) =>
      client.request<DiffPageView>('GET', ['buckets', bucket, 'diff'], {
        query: { from, to, limit: String(page.limit), ...(page.after !== undefined ? { after: page.after } : {}) },
      }),
    merge: (bucket, source, into, opts) =>
      mergeRequest(() =>
        client.request<MergeResultView>('POST', ['buckets', bucket, 'branches', into, 'merges'], {
          body: { source, strategy: opts.strategy, message: opts.message },
        }),
      ),
    revert: (bucket, into, commit, opts) =>
      mergeRequest(() =>
        client.request<MergeResultView>('POST', ['buckets', bucket, 'branches', into, 'reverts'], {
          body: { commit, strategy: opts.strategy, parent: opts.parent },
        }),
      ),
    listTags: async (bucket) => (await client.request<{ tags: TagView[] }>('GET', ['buckets', bucket, 'tags'])).tags,
    createTag: (bucket, name, at) => client.request<TagView>('POST', ['buckets', bucket, 'tags'], { body: { name, at } }),
    async deleteTag(bucket, name) {
      await client.request('DELETE', ['buckets', bucket, 'tags', name]);
    },
  };
  return door;
}
