/** The durable tasks a serving node runs, by name (work/task-names.ts), with their handlers. */
import type { Logger } from 'pino';

import {
  DELETE_BUCKET_TASK,
  DELETE_TENANT_TASK,
  type DeleteBucketPayload,
  type DeleteTenantPayload,
  DRAIN_TASK,
  type DrainPayload,
  FLATTEN_BRANCH_TASK,
  type FlattenBranchPayload,
  REBALANCE_TASK,
  type RebalancePayload,
} from '../work/task-names.js';
import { TaskRunner } from '../work/tasks.js';
import type { NodeContext } from './assemble.js';

export function taskRunner(node: NodeContext, log: Logger): TaskRunner {
  const { buckets, objects } = node.services;
  return new TaskRunner(node.tasks, log)
    .register(DELETE_BUCKET_TASK, async (payload: DeleteBucketPayload, signal, _task, progress) => {
      // By id: a bucket created later under the same name must never be touched.
      const bucket = await buckets.get(payload.bucket);
      if (bucket && bucket.id === payload.bucketId) await buckets.purge(bucket, objects, signal, progress);
    })
    .register(DELETE_TENANT_TASK, async (payload: DeleteTenantPayload, signal, _task, progress) => {
      // By id: a tenant created later under the same name must never be touched.
      const tenant = await node.services.tenants.findTenant(payload.tenant);
      if (!tenant || tenant.id !== payload.tenantId) return;
      const owned = await buckets.listForTenant(tenant.id);
      for (const [i, bucket] of owned.entries()) {
        progress(i, owned.length);
        // Every version of every bucket (Object Lock and branches refuse, and the task is retried).
        await buckets.purge(bucket, objects, signal);
      }
      progress(owned.length, owned.length);
      await node.services.tenants.deleteTenant(payload.tenant, 0);
    })
    .register(FLATTEN_BRANCH_TASK, async (payload: FlattenBranchPayload, signal) => {
      // By id: a bucket created later under the same name must never be touched.
      const bucket = await buckets.get(payload.bucket);
      if (!bucket || bucket.id !== payload.bucketId) return;
      try {
        const copied = await node.branches.flatten(bucket, payload.branch, signal);
        log.info({ bucket: payload.bucket, branch: payload.branch, copied }, 'branch flattened');
      } catch (err) {
        // The branch was deleted meanwhile: nothing left to do.
        if ((err as { reason?: string }).reason === 'NoSuchBranch') return;
        throw err;
      }
    })
    .register(DRAIN_TASK, async (payload: DrainPayload, signal, _task, progress) => {
      await node.core.blobs.drain(payload.backend, signal, progress);
    })
    .register(REBALANCE_TASK, async (payload: RebalancePayload, signal) => {
      await node.core.blobs.rebalance({ tolerance: payload.tolerance }, signal);
    });
}
