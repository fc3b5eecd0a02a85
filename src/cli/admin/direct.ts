/**
 * The database door (`anvil admin` without --endpoint): the node is assembled
 * in its admin role (src/node/assemble.ts) from the same configuration as
 * the server, and each question goes to the admin operation (admin/ops/)
 * the API's route for it calls. Access rules are the API's business: here
 * the operator holds the database, and with it every right.
 */
import os from 'node:os';

import type { AdminServices } from '../../admin/deps.js';
import { backendAdmin } from '../../admin/ops/backends.js';
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
  revertCommit,
  showBranch,
} from '../../admin/ops/branches.js';
import { bucketView, bucketViews, deleteBucket, keyVersions, setBucketQuota, setReplication } from '../../admin/ops/buckets.js';
import { readEvents } from '../../admin/ops/events.js';
import { createKey, deleteKey, listKeys } from '../../admin/ops/keys.js';
import { serverStatus } from '../../admin/ops/status.js';
import { cancelTask, listTasks, retryTask, scrubStatus } from '../../admin/ops/tasks.js';
import { createTenant, deleteTenant, listTenants, setTenantLimits, showTenant } from '../../admin/ops/tenants.js';
import { createUser, deleteUser, listUsers } from '../../admin/ops/users.js';
import type { Config } from '../../config/config.js';
import { assembleNode, type NodeContext } from '../../node/assemble.js';
import { describeDeployment, openControlPlane } from '../../node/control-plane.js';
import { VERSION } from '../../node/version.js';
import { type AdminDoor, findUser } from './door.js';

/**
 * Runs fn on a node assembled for one admin command, and closes it (and its
 * databases) afterwards. Only an existing deployment is opened (never
 * created), and stderr says which one, so a command run in the wrong folder
 * cannot pass for a success.
 */
export async function withAdminNode<T>(config: Config, fn: (node: NodeContext) => Promise<T>): Promise<T> {
  const plane = await openControlPlane(config);
  process.stderr.write(`${describeDeployment(config, plane)}\n`);
  try {
    const node = await assembleNode(config, plane, { role: 'admin' });
    try {
      return await fn(node);
    } finally {
      await node.close();
    }
  } finally {
    await plane.meta.close();
  }
}

export function adminServices(node: NodeContext): AdminServices {
  return { ...node, version: VERSION };
}

/** Who made a commit, branch or tag through the database: the operator's login on this machine. */
function operator(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export function directDoor(node: NodeContext): AdminDoor {
  const s = adminServices(node);
  const bucketNamed = async (name: string) => {
    const b = await s.buckets.get(name);
    if (!b) throw new Error(`no bucket named ${name}`);
    return b;
  };
  return {
    events: async (bucket, q) => readEvents(s, await bucketNamed(bucket), { ...q, waitSeconds: q.wait }),
    createTenant: (name) => createTenant(s, name),
    listTenants: () => listTenants(s),
    deleteTenant: (name, force) => deleteTenant(s, name, force),
    showTenant: (name) => showTenant(s, name),
    setTenantLimits: (name, change) => setTenantLimits(s, name, change),
    createKey: (tenant, key) => createKey(s, tenant, key),
    listKeys: (tenant) => listKeys(s, tenant),
    async deleteKey(id) {
      if (!(await deleteKey(s, id))) throw new Error(`no access key ${id}`);
    },
    createUser: (tenant, user) => createUser(s, tenant, user),
    listUsers: (tenant) => listUsers(s, tenant),
    async deleteUser(tenant, who) {
      const found = findUser(await listUsers(s, tenant), who);
      if (!found || !(await deleteUser(s, found.id))) throw new Error(`no user ${who} in tenant ${tenant}`);
      return found;
    },
    showBucket: async (name) => bucketView(s, await bucketNamed(name)),
    async listBuckets(tenant) {
      const tenants = tenant === undefined ? await listTenants(s) : [await s.tenants.findTenant(tenant)];
      const out = [];
      for (const t of tenants) {
        if (!t) throw new Error(`no tenant named ${tenant}`);
        out.push(...(await bucketViews(s, await s.buckets.listForTenant(t.id), async () => t.name)));
      }
      return out;
    },
    keyVersions: async (bucket, key, page) => keyVersions(s, await bucketNamed(bucket), key, page),
    deleteBucket: async (name, force) => deleteBucket(s, await bucketNamed(name), force),
    setBucketReplication: async (name, replication) => setReplication(s, await bucketNamed(name), replication),
    setBucketQuota: async (name, quota) => setBucketQuota(s, await bucketNamed(name), quota),
    listBackends: () => backendAdmin(s).list({ checkHealth: true }),
    drainBackend: (name) => backendAdmin(s).drain(name),
    rebalance: (tolerance) => backendAdmin(s).rebalance(Number(tolerance)),
    undrainBackend: (name) => backendAdmin(s).undrain(name),
    removeBackend: (name, force) => backendAdmin(s).remove(name, { force }),
    status: () => serverStatus(s, null),
    listTasks: (status) => listTasks(s, { status }),
    cancelTask: (id) => cancelTask(s, id),
    retryTask: (id) => retryTask(s, id),
    scrubStatus: () => scrubStatus(s),
    listBranches: async (bucket) => listBranches(s, await bucketNamed(bucket)),
    showBranch: async (bucket, name) => showBranch(s, await bucketNamed(bucket), name),
    createBranch: async (bucket, name, from) => createBranch(s, await bucketNamed(bucket), name, from, operator()),
    deleteBranch: async (bucket, name) => deleteBranch(s, await bucketNamed(bucket), name),
    commit: async (bucket, branch, message) => commitBranch(s, await bucketNamed(bucket), branch, message, operator()),
    log: async (bucket, ref, limit) => logCommits(s, await bucketNamed(bucket), ref, limit),
    diff: async (bucket, from, to, page) => diffRefs(s, await bucketNamed(bucket), from, to, page),
    merge: async (bucket, source, into, opts) => mergeRef(s, await bucketNamed(bucket), source, into, { ...opts, author: operator() }),
    revert: async (bucket, into, commit, opts) => revertCommit(s, await bucketNamed(bucket), into, commit, { ...opts, author: operator() }),
    listTags: async (bucket) => listTags(s, await bucketNamed(bucket)),
    createTag: async (bucket, name, at) => createTag(s, await bucketNamed(bucket), name, at, operator()),
    deleteTag: async (bucket, name) => deleteTag(s, await bucketNamed(bucket), name),
  };
}
