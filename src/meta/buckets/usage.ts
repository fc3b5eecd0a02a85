/**
 * What storage quotas count (core/objects/quota.ts): the bytes and versions
 * stored in a bucket or in all of a tenant's buckets (the data plane's
 * bucket_state counters, every non-marker version), plus the bytes of the
 * parts of uploads in progress there. Read inside the write's transaction,
 * after the write, so the answer includes it.
 */
import { sql } from 'kysely';

import type { ControlDb, DataDb } from '../handles.js';
import { engineOf } from '../handles.js';

export interface StoredUsage {
  /** Bytes of every stored version (latest or not), plus the parts of uploads in progress. */
  bytes: number;
  /** Stored versions that are not delete markers. */
  objects: number;
}

async function partBytes(db: DataDb, where: { bucketId?: string; tenantId?: string }): Promise<number> {
  let q = db
    .selectFrom('multipart_parts as p')
    .innerJoin('multipart_uploads as u', 'u.upload_id', 'p.upload_id')
    .select((eb) => eb.fn.sum<number | string | null>('p.size').as('n'));
  if (where.bucketId !== undefined) {
    const bucketId = where.bucketId;
    q = q.where((eb) => eb.or([eb('u.bucket_id', '=', bucketId), eb('u.bucket_id', 'in', timelinesOf(db, bucketId))]));
  }
  if (where.tenantId !== undefined) q = q.where('u.tenant_id', '=', where.tenantId);
  const row = await q.executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** The timelines of a bucket's branches (the data plane keys their rows by timeline, core/branches/). */
function timelinesOf(db: DataDb, bucketId: string) {
  return db.selectFrom('branches').select('timeline_id').where('bucket_id', '=', bucketId);
}

/**
 * One bucket's stored usage, over main and every branch of it (what is
 * written on a branch is stored in the bucket); undefined if its state row
 * is gone (the bucket was deleted). `bucketId` is the bucket's own id, not
 * a branch's timeline.
 */
export async function bucketStoredUsage(db: DataDb, bucketId: string): Promise<StoredUsage | undefined> {
  const rows = await db
    .selectFrom('bucket_state')
    .select(['bucket_id', 'version_count', 'version_bytes'])
    .where((eb) => eb.or([eb('bucket_id', '=', bucketId), eb('bucket_id', 'in', timelinesOf(db, bucketId))]))
    .execute();
  if (!rows.some((r) => r.bucket_id === bucketId)) return undefined;
  const bytes = rows.reduce((n, r) => n + Number(r.version_bytes), 0);
  const objects = rows.reduce((n, r) => n + Number(r.version_count), 0);
  return { bytes: bytes + (await partBytes(db, { bucketId })), objects };
}

/** A tenant's stored usage over all its buckets in this region (one indexed sum, and the parts of its uploads). */
export async function tenantStoredUsage(db: DataDb, tenantId: string): Promise<StoredUsage> {
  const row = await db
    .selectFrom('bucket_state')
    .select((eb) => [
      eb.fn.sum<number | string | null>('version_bytes').as('bytes'),
      eb.fn.sum<number | string | null>('version_count').as('objects'),
    ])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return { bytes: Number(row?.bytes ?? 0) + (await partBytes(db, { tenantId })), objects: Number(row?.objects ?? 0) };
}

/**
 * Inside a write's transaction: serialises the tenant-quota checks of one
 * tenant's writers to different buckets, so two of them cannot both pass on
 * sums that each misses the other's write. PostgreSQL: a transaction-scoped
 * advisory lock, taken after every row lock of the write (so it closes no
 * lock cycle); the sum read after it sees every write committed before.
 * SQLite: its one writer already excludes the others.
 */
export async function lockTenantUsage(db: DataDb, tenantId: string): Promise<void> {
  if (engineOf(db) !== 'postgres') return;
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`anvil.tenant-usage:${tenantId}`}))`.execute(db);
}

/**
 * Inside a write's transaction, for a bucket quota: serialises the checks of
 * writers on different branches of one bucket (each holds only its own
 * timeline's state row), as lockTenantUsage does for a tenant's buckets.
 * Taken after the write's row locks and before the tenant lock.
 */
export async function lockBucketUsage(db: DataDb, bucketId: string): Promise<void> {
  if (engineOf(db) !== 'postgres') return;
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`anvil.bucket-usage:${bucketId}`}))`.execute(db);
}

/** State rows of buckets made before bucket_state had tenant_id: fills it in from the control plane. Returns how many. */
export async function fillStateOwners(control: ControlDb, data: DataDb): Promise<number> {
  const missing = await data.selectFrom('bucket_state').select('bucket_id').where('tenant_id', 'is', null).execute();
  if (!missing.length) return 0;
  let filled = 0;
  for (let i = 0; i < missing.length; i += 500) {
    const ids = missing.slice(i, i + 500).map((r) => r.bucket_id);
    const owners = await control.selectFrom('buckets').select(['id', 'tenant_id']).where('id', 'in', ids).execute();
    for (const o of owners) {
      const res = await data
        .updateTable('bucket_state')
        .set({ tenant_id: o.tenant_id })
        .where('bucket_id', '=', o.id)
        .where('tenant_id', 'is', null)
        .executeTakeFirst();
      filled += Number(res.numUpdatedRows);
    }
  }
  return filled;
}
