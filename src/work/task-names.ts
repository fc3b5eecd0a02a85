/**
 * Every name the background machinery knows work by, in one place: the
 * durable tasks' types (the `tasks.type` column, so renaming one strands
 * queued rows), and the names of the cluster-wide locks that keep singleton
 * jobs and start-up steps to one process at a time. This module imports
 * nothing, so every layer may use it.
 */

/** Empties a bucket and deletes it (`anvil admin bucket delete --force`, DELETE …?force=true). */
export const DELETE_BUCKET_TASK = 'delete-bucket';
export const DELETE_TENANT_TASK = 'delete-tenant';
/** Moves every replica off a draining backend. */
export const DRAIN_TASK = 'drain-backend';
/** Evens out the backends' fill ratios. */
export const REBALANCE_TASK = 'rebalance';

/** Copies what a branch reads through its ancestors into it, so reads stop at it (core/branches/flatten.ts). */
export const FLATTEN_BRANCH_TASK = 'flatten-branch';

export interface FlattenBranchPayload {
  bucketId: string;
  bucket: string;
  branch: string;
}

export interface DeleteTenantPayload {
  tenantId: string;
  tenant: string;
}

export interface DeleteBucketPayload {
  bucketId: string;
  bucket: string;
}
export interface DrainPayload {
  backend: string;
}
export interface RebalancePayload {
  tolerance?: number;
}

/** Cluster locks (work/leader.ts): one process at a time runs what each guards. */
export const LOCKS = {
  migrate: 'anvil:migrate',
  ensureRoot: 'anvil:ensure-root',
  expireUploads: 'anvil:expire-uploads',
  pruneCompletedUploads: 'anvil:prune-completed-uploads',
  pruneSessions: 'anvil:prune-sessions',
  scrub: 'anvil:scrub',
  pruneEvents: 'anvil:prune-events',
  /** This node id's lease, held for the life of the process. */
  node: (nodeId: string) => `anvil:node:${nodeId}`,
} as const;
