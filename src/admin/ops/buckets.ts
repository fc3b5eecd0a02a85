/**
 * Buckets as operators see them (owner, settings, usage), and the two
 * operator actions on them: delete (with force, a DELETE_BUCKET_TASK empties
 * it in the background) and the replication setting. Behind
 * /admin/v1/buckets/… and `anvil admin bucket …`; who may call them is the
 * caller's check.
 */
import { setBucketReplication } from '../../blobs/index.js';
import type { Bucket } from '../../core/buckets.js';
import { bucketUsage } from '../../meta/stats/counts.js';
import { DELETE_BUCKET_TASK, type DeleteBucketPayload } from '../../work/task-names.js';
import type { AdminServices } from '../deps.js';
import { iso } from '../schemas.js';

/** The buckets with their usage; `tenantName` names each bucket's owner. */
export async function bucketViews(s: AdminServices, buckets: Bucket[], tenantName: (id: string) => Promise<string>) {
  const usage = await bucketUsage(
    s.meta.data,
    buckets.map((b) => b.id),
  );
  const out = [];
  for (const b of buckets) {
    out.push({
      name: b.name,
      tenant: await tenantName(b.tenant_id),
      region: b.region,
      createdAt: iso(Number(b.created_at)),
      acl: b.acl,
      hasPolicy: b.policy !== null,
      usage: usage.get(b.id) ?? null,
      replication: b.replication === null ? null : Number(b.replication),
      effectiveReplication: Number(b.replication ?? s.core.blobs.defaultReplication),
    });
  }
  return out;
}

export type BucketView = Awaited<ReturnType<typeof bucketViews>>[number];

/** One bucket's view, its owner named by looking the tenant up. */
export async function bucketView(s: AdminServices, bucket: Bucket): Promise<BucketView> {
  const [view] = await bucketViews(s, [bucket], async (id) => (await s.tenants.getTenantById(id))?.name ?? id);
  return view;
}

export interface BucketDeletion {
  bucket: string;
  deleted: boolean;
  /** With force: the task that empties and deletes it. */
  task?: number;
}

/** Deletes an empty bucket now, or with force enqueues a task that deletes its contents first. */
export async function deleteBucket(s: AdminServices, bucket: Bucket, force: boolean): Promise<BucketDeletion> {
  if (force) {
    const payload: DeleteBucketPayload = { bucketId: bucket.id, bucket: bucket.name };
    const task = await s.tasks.enqueue(DELETE_BUCKET_TASK, payload, { priority: 50 });
    return { bucket: bucket.name, deleted: false, task };
  }
  await s.buckets.delete(bucket);
  return { bucket: bucket.name, deleted: true };
}

/** Sets the replicas of each new blob of the bucket (null: the default); objects already stored keep theirs. */
export async function setReplication(s: AdminServices, bucket: Bucket, replication: number | null): Promise<BucketView> {
  await setBucketReplication(s.core.blobs, bucket.id, replication);
  return bucketView(s, (await s.buckets.get(bucket.name)) ?? bucket);
}
