/**
 * Bucket rows (control plane: name, owner, configs) and bucket state rows
 * (data plane: the sequence counter and usage counts of core/objects).
 */
import type { ControlDb, DataDb } from '../handles.js';
import type { Bucket } from './types.js';

export function bucketByName(db: ControlDb, name: string): Promise<Bucket | undefined> {
  return db.selectFrom('buckets').selectAll().where('name', '=', name).executeTakeFirst();
}

export function bucketsOfTenant(db: ControlDb, tenantId: string): Promise<Bucket[]> {
  return db.selectFrom('buckets').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
}

export async function insertBucket(db: ControlDb, bucket: Bucket): Promise<void> {
  await db.insertInto('buckets').values(bucket).execute();
}

export async function deleteBucketRow(db: ControlDb, bucketId: string): Promise<void> {
  await db.deleteFrom('buckets').where('id', '=', bucketId).execute();
}

/** The bucket's configurations, each a column: null removes one. */
export type BucketConfig = Partial<
  Pick<Bucket, 'acl' | 'policy' | 'tags' | 'cors' | 'versioning' | 'object_lock' | 'quota_bytes' | 'quota_objects'>
>;

export async function updateBucketConfig(db: ControlDb, bucketId: string, change: BucketConfig): Promise<void> {
  await db.updateTable('buckets').set(change).where('id', '=', bucketId).execute();
}

export async function insertBucketState(db: DataDb, bucketId: string, tenantId: string): Promise<void> {
  await db
    .insertInto('bucket_state')
    .values({ bucket_id: bucketId, tenant_id: tenantId, last_seq: 0, object_count: 0, byte_count: 0 })
    .execute();
}

export async function deleteBucketState(db: DataDb, bucketId: string): Promise<void> {
  await db.deleteFrom('bucket_state').where('bucket_id', '=', bucketId).execute();
}
