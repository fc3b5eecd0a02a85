/**
 * Buckets as operators see them (owner, settings, versioning and Object
 * Lock, usage with the history kept), one key's version history, and the
 * two operator actions on them: delete (with force, a DELETE_BUCKET_TASK
 * empties it in the background) and the replication setting. Behind
 * /admin/v1/buckets/… and `anvil admin bucket …`; who may call them is the
 * caller's check.
 */
import { setBucketReplication } from '../../blobs/index.js';
import type { Bucket } from '../../core/buckets.js';
import { objectLockOf } from '../../core/object-lock.js';
import { keyHistory } from '../../core/objects/history.js';
import { bucketQuota, type Quota } from '../../core/objects/quota.js';
import { versioningOf } from '../../core/objects/versioning.js';
import { type HistoryUsage, historyUsage } from '../../meta/objects/history.js';
import { DELETE_BUCKET_TASK, type DeleteBucketPayload } from '../../work/task-names.js';
import type { AdminServices } from '../deps.js';
import { iso, isoOrNull } from '../schemas.js';

/** Usage as the API shows it: live objects, every version, the noncurrent ones, delete markers. */
function usageView(u: HistoryUsage) {
  return {
    objectCount: u.objects,
    byteCount: u.bytes,
    versionCount: u.versions,
    versionBytes: u.versionBytes,
    noncurrentVersionCount: u.versions - u.objects,
    noncurrentBytes: u.versionBytes - u.bytes,
    deleteMarkerCount: u.markers,
  };
}

/** Whether Object Lock is on, and the default retention new versions get. */
function objectLockView(b: Bucket) {
  const lock = objectLockOf(b);
  const rule = lock?.rule;
  return {
    enabled: lock?.enabled === true,
    defaultRetention: rule
      ? {
          mode: rule.mode,
          ...(rule.days !== undefined ? { days: rule.days } : {}),
          ...(rule.years !== undefined ? { years: rule.years } : {}),
        }
      : null,
  };
}

/** The buckets with their usage; `tenantName` names each bucket's owner. */
export async function bucketViews(s: AdminServices, buckets: Bucket[], tenantName: (id: string) => Promise<string>) {
  const usage = await historyUsage(
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
      versioning: versioningOf(b),
      objectLock: objectLockView(b),
      quota: bucketQuota(b) ?? { bytes: null, objects: null },
      usage: usage.has(b.id) ? usageView(usage.get(b.id)!) : null,
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

/** One key's versions and delete markers, newest first, a page at a time (`after`: the previous page's last version id). */
export async function keyVersions(s: AdminServices, bucket: Bucket, key: string, page: { after?: string; limit: number }) {
  const history = await keyHistory(s.core, bucket, key, page);
  return {
    bucket: bucket.name,
    key,
    versions: history.entries.map((e) => ({
      versionId: e.versionId,
      isLatest: e.isLatest,
      isDeleteMarker: e.isDeleteMarker,
      size: e.size,
      etag: e.etag,
      lastModified: iso(e.lastModified),
      lockMode: e.lock.mode ?? null,
      lockUntil: isoOrNull(e.lock.until),
      legalHold: e.lock.legalHold,
    })),
    isTruncated: history.isTruncated,
    ...(history.nextVersionIdMarker !== undefined ? { nextVersionIdMarker: history.nextVersionIdMarker } : {}),
  };
}

export type KeyVersionsPage = Awaited<ReturnType<typeof keyVersions>>;

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

/** Sets the bucket's storage quota (absent fields stay, null removes a limit). */
export async function setBucketQuota(s: AdminServices, bucket: Bucket, change: Partial<Quota>): Promise<BucketView> {
  await s.buckets.setQuota(bucket, change);
  return bucketView(s, (await s.buckets.get(bucket.name)) ?? bucket);
}
