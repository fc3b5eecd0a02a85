/**
 * Storage quotas of a bucket and of a tenant: bytes and objects. What counts
 * is what is stored: every version that is not a delete marker, latest or
 * noncurrent (bytes: object sizes as clients see them; deduplication,
 * replicas and encryption overhead change nothing), plus the bytes of the
 * parts of multipart uploads in progress. A write that would leave a usage
 * above a quota is refused with QuotaExceeded (403) and changes nothing;
 * deletes and aborts are never refused, so a tenant over a lowered quota
 * gets back under it by deleting.
 *
 * Two checks. Before the body is read, when its length is declared
 * (checkIncoming): fail fast, nothing staged; a plain read, so it may let
 * through a write the second check then refuses, never the reverse. Inside
 * the write's transaction, after every row it writes (checkCommitted): the
 * usage read there includes the write itself and every write committed
 * before, because the bucket's state row is locked by the write (the lock
 * that orders a bucket's writers; UploadPart takes it too when a quota
 * applies) and, for a tenant quota, a tenant-wide lock is taken last
 * (meta/buckets/usage.ts). So concurrent writers cannot both pass: the
 * quota is exact, on one node or many sharing a database, with no slack.
 * Quotas are read from the control plane on every write (no cache): a
 * change applies to the next write.
 */
import { AnvilError, fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import {
  bucketStoredUsage,
  lockBucketUsage,
  lockTenantUsage,
  type StoredUsage,
  tenantStoredUsage as tenantUsageRow,
} from '../../meta/buckets/usage.js';
import type { DataDb } from '../../meta/handles.js';
import { tenantQuotaRow } from '../../meta/identity/tenants.js';
import { partSize } from '../../meta/objects/uploads.js';
import type { CoreContext } from '../context.js';

/** A quota: null means no limit on that dimension. */
export interface Quota {
  bytes: number | null;
  objects: number | null;
}

/** The quotas one write is under; a side without any limit is absent. */
export interface WriteQuotas {
  bucket?: Quota;
  tenant?: Quota;
}

export type QuotaScope = 'bucket' | 'tenant';

/** What a write adds at most, as far as is known before its body is read. */
export interface Incoming {
  bytes: number;
  objects: number;
}

export function quotaExceeded(scope: QuotaScope, dimension: 'bytes' | 'objects', limit: number): AnvilError {
  const what = dimension === 'bytes' ? `${limit} bytes` : `${limit} objects`;
  return new AnvilError('Forbidden', 'QuotaExceeded', `The ${scope} storage quota (${what}) does not allow this write.`, {
    QuotaScope: scope,
    QuotaDimension: dimension,
    QuotaLimit: limit,
  });
}

/** Checks a quota change: bytes and objects are whole numbers from 0 (null removes one). */
export function checkQuota(q: Partial<Quota>): void {
  for (const [name, v] of [
    ['bytes', q.bytes],
    ['objects', q.objects],
  ] as const) {
    if (v === null || v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw fail.invalid('InvalidRequest', `quota ${name} must be a whole number from 0`);
  }
}

function quotaOf(bytes: number | string | null, objects: number | string | null): Quota | undefined {
  if (bytes === null && objects === null) return undefined;
  return { bytes: bytes === null ? null : Number(bytes), objects: objects === null ? null : Number(objects) };
}

/** A bucket's own quota, from its row (undefined: none). */
export function bucketQuota(bucket: Bucket): Quota | undefined {
  return quotaOf(bucket.quota_bytes, bucket.quota_objects);
}

/** The bucket's own id, when it is addressed through a branch alias (whose id is the branch's timeline). */
function rootId(bucket: Bucket): string {
  return bucket.view?.bucketId ?? bucket.id;
}

/** The quotas a write into bucket is under (read now: the bucket's from its row, the tenant's from the control plane). */
export async function quotasFor(ctx: CoreContext, bucket: Bucket): Promise<WriteQuotas | undefined> {
  const own = bucketQuota(bucket);
  const row = await tenantQuotaRow(ctx.meta.control, bucket.tenant_id);
  const tenant = row && quotaOf(row.quota_bytes, row.quota_objects);
  if (!own && !tenant) return undefined;
  return { ...(own && { bucket: own }), ...(tenant && { tenant }) };
}

/** What a tenant's quota counts now, for the operator's views. */
export function tenantStoredUsage(ctx: CoreContext, tenantId: string): Promise<StoredUsage> {
  return tenantUsageRow(ctx.meta.data, tenantId);
}

function over(scope: QuotaScope, q: Quota, u: StoredUsage): AnvilError | undefined {
  if (q.bytes !== null && u.bytes > q.bytes) return quotaExceeded(scope, 'bytes', q.bytes);
  if (q.objects !== null && u.objects > q.objects) return quotaExceeded(scope, 'objects', q.objects);
  return undefined;
}

const plus = (u: StoredUsage, i: Incoming): StoredUsage => ({ bytes: u.bytes + i.bytes, objects: u.objects + i.objects });

/**
 * Fail fast, before the body is read: would `incoming` on top of today's
 * usage exceed a quota? `refine` gives a closer estimate (what the write
 * replaces) and is asked only when the first one says no, so the common
 * case costs the usage reads alone (undefined from it: no estimate, the
 * write goes on). A plain read: the commit decides.
 */
export async function checkIncoming(
  ctx: CoreContext,
  bucket: Bucket,
  quotas: WriteQuotas | undefined,
  incoming: Incoming,
  refine?: () => Promise<Incoming | undefined>,
): Promise<void> {
  if (!quotas) return;
  const find = async (i: Incoming) => {
    if (quotas.bucket) {
      const u = await bucketStoredUsage(ctx.meta.data, rootId(bucket));
      const err = u && over('bucket', quotas.bucket, plus(u, i));
      if (err) return err;
    }
    if (quotas.tenant) return over('tenant', quotas.tenant, plus(await tenantUsageRow(ctx.meta.data, bucket.tenant_id), i));
    return undefined;
  };
  let err = await find(incoming);
  if (err && refine) {
    const closer = await refine();
    err = closer && (await find(closer));
  }
  if (err) throw err;
}

/** Fail fast for UploadPart: the part's declared length, less the part of that number it replaces. */
export async function checkIncomingPart(
  ctx: CoreContext,
  bucket: Bucket,
  quotas: WriteQuotas | undefined,
  part: { uploadId: string; partNumber: number; length: number | undefined },
): Promise<void> {
  const { length } = part;
  if (length === undefined) return;
  await checkIncoming(ctx, bucket, quotas, { bytes: length, objects: 0 }, async () => ({
    bytes: length - ((await partSize(ctx.meta.data, part.uploadId, part.partNumber)) ?? 0),
    objects: 0,
  }));
}

/**
 * Inside the write's transaction, after everything it writes and every row
 * lock it takes: refuses (the transaction rolls back) if the usage now,
 * which includes this write, exceeds a quota. The caller holds the bucket's
 * state row locked; the tenant lock is taken here, last.
 */
export async function checkCommitted(trx: DataDb, bucket: Bucket, quotas: WriteQuotas | undefined): Promise<void> {
  if (!quotas) return;
  if (quotas.bucket) {
    // The caller holds only its own timeline's row (main or a branch): writers on the bucket's other branches need this lock.
    await lockBucketUsage(trx, rootId(bucket));
    const u = await bucketStoredUsage(trx, rootId(bucket));
    const err = u && over('bucket', quotas.bucket, u);
    if (err) throw err;
  }
  if (quotas.tenant) {
    await lockTenantUsage(trx, bucket.tenant_id);
    const err = over('tenant', quotas.tenant, await tenantUsageRow(trx, bucket.tenant_id));
    if (err) throw err;
  }
}
