/** Buckets: creation, lookup, listing and deletion (business rules only; no HTTP here). */
import crypto from 'node:crypto';
import type { Selectable } from 'kysely';
import type { BucketTable } from '../meta/schema.js';
import { withTransaction } from '../meta/engine.js';
import { errors } from '../s3/errors.js';
import { isValidBucketName } from './bucket-names.js';
import type { CoreContext } from './context.js';
import type { CannedAcl } from './objects.js';
import { collectGarbage, RefChanges } from '../blobs/index.js';

export type Bucket = Selectable<BucketTable>;

export class BucketService {
  constructor(private readonly ctx: CoreContext) {}

  async get(name: string): Promise<Bucket | undefined> {
    return this.ctx.meta.control.selectFrom('buckets').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async listForTenant(tenantId: string): Promise<Bucket[]> {
    return this.ctx.meta.control
      .selectFrom('buckets')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('name')
      .execute();
  }

  /**
   * Creates the regional state row first and the global row second: a crash
   * in between leaves only an unreachable state row, never a bucket whose
   * objects have nowhere to go.
   */
  async create(tenantId: string, name: string, locationConstraint?: string, acl: CannedAcl = 'private'): Promise<Bucket> {
    if (!isValidBucketName(name)) throw errors.invalidBucketName(name);
    // An empty constraint means the default region; any other must be ours.
    if (locationConstraint && locationConstraint !== this.ctx.region) {
      throw errors.illegalLocationConstraint(locationConstraint);
    }
    const existing = await this.get(name);
    if (existing) {
      throw existing.tenant_id === tenantId ? errors.bucketAlreadyOwnedByYou(name) : errors.bucketAlreadyExists(name);
    }
    const bucket: Bucket = {
      id: crypto.randomUUID(),
      name,
      tenant_id: tenantId,
      region: this.ctx.region,
      created_at: Date.now(),
      tags: null,
      cors: null,
      acl,
      policy: null,
      replication: null,
    };
    await this.ctx.meta.data
      .insertInto('bucket_state')
      .values({ bucket_id: bucket.id, last_seq: 0, object_count: 0, byte_count: 0 })
      .execute();
    try {
      await this.ctx.meta.control.insertInto('buckets').values(bucket).execute();
    } catch (err) {
      await this.ctx.meta.data.deleteFrom('bucket_state').where('bucket_id', '=', bucket.id).execute();
      const winner = await this.get(name);
      if (winner) {
        throw winner.tenant_id === tenantId ? errors.bucketAlreadyOwnedByYou(name) : errors.bucketAlreadyExists(name);
      }
      throw err;
    }
    return bucket;
  }

  /** Sets the bucket's canned ACL (public-read lets anyone list it). */
  async setAcl(bucket: Bucket, acl: CannedAcl): Promise<void> {
    await this.ctx.meta.control.updateTable('buckets').set({ acl }).where('id', '=', bucket.id).execute();
  }

  /** Stores (or with null removes) the bucket policy; the caller has validated it (core/bucket-policy.ts). */
  async setPolicy(bucket: Bucket, policy: string | null): Promise<void> {
    await this.ctx.meta.control.updateTable('buckets').set({ policy }).where('id', '=', bucket.id).execute();
  }

  /** Replaces (or with null removes) the bucket's tag set. */
  async setTags(bucket: Bucket, tags: Record<string, string> | null): Promise<void> {
    await this.ctx.meta.control
      .updateTable('buckets')
      .set({ tags: tags && JSON.stringify(tags) })
      .where('id', '=', bucket.id)
      .execute();
  }

  /** Replaces (or with null removes) the bucket's CORS configuration. */
  async setCors(bucket: Bucket, cors: unknown | null): Promise<void> {
    await this.ctx.meta.control
      .updateTable('buckets')
      .set({ cors: cors === null ? null : JSON.stringify(cors) })
      .where('id', '=', bucket.id)
      .execute();
  }

  /**
   * Deletes a bucket with everything in it (the `delete-bucket` task behind
   * `anvil admin bucket delete --force`): objects in batches of 1000, one
   * transaction per batch, then the uploads and the bucket itself. Safe to
   * run again after a crash: it resumes with what is left.
   */
  async purge(bucket: Bucket, objects: { deleteMany(b: Bucket, keys: string[]): Promise<void> }, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const keys = await this.ctx.meta.data
        .selectFrom('object_versions')
        .select('key')
        .where('bucket_id', '=', bucket.id)
        .where('is_latest', '=', 1)
        .orderBy('key')
        .limit(1000)
        .execute();
      if (keys.length === 0) break;
      await objects.deleteMany(bucket, keys.map((k) => k.key));
    }
    await this.delete(bucket);
  }

  /**
   * Deletes an empty bucket. The regional state row is locked first, so a
   * concurrent PUT either commits before (and the bucket is not empty) or
   * finds no state row and fails with NoSuchBucket. Incomplete multipart
   * uploads are aborted with the bucket, releasing their parts.
   */
  async delete(bucket: Bucket): Promise<void> {
    let refs = new RefChanges();
    await withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
      refs = new RefChanges();
      await trx
        .updateTable('bucket_state')
        .set((eb) => ({ last_seq: eb('last_seq', '+', 1) }))
        .where('bucket_id', '=', bucket.id)
        .execute();
      const anyVersion = await trx
        .selectFrom('object_versions')
        .select('id')
        .where('bucket_id', '=', bucket.id)
        .limit(1)
        .executeTakeFirst();
      if (anyVersion) throw errors.bucketNotEmpty(bucket.name);
      // Deleting the upload rows first locks them (lock order: bucket, uploads, blobs).
      const uploads = await trx
        .deleteFrom('multipart_uploads')
        .where('bucket_id', '=', bucket.id)
        .returning(['upload_id', 'tenant_id'])
        .execute();
      for (const u of uploads) {
        const parts = await trx
          .selectFrom('multipart_parts')
          .select(['blob_hash', 'size'])
          .where('upload_id', '=', u.upload_id)
          .execute();
        const manifest = parts.filter((p) => p.blob_hash).map((p) => [p.blob_hash!, Number(p.size)] as [string, number]);
        refs.release(u.tenant_id, manifest);
        await trx.deleteFrom('multipart_parts').where('upload_id', '=', u.upload_id).execute();
      }
      await trx.deleteFrom('bucket_state').where('bucket_id', '=', bucket.id).execute();
      await refs.apply(trx);
    });
    await this.ctx.meta.control.deleteFrom('buckets').where('id', '=', bucket.id).execute();
    await collectGarbage(this.ctx, refs.released);
  }
}
