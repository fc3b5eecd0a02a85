/** Buckets: creation, lookup, listing and deletion (business rules only; no HTTP, no SQL here). */
import crypto from 'node:crypto';

import { RefChanges } from '../blobs/index.js';
import { AnvilError, fail } from '../errors.js';
import { dropHistory, hasBranchesBesideMain, hasHistory } from '../meta/branches/branches.js';
import {
  bucketByName,
  bucketsOfTenant,
  deleteBucketRow,
  deleteBucketState,
  insertBucket,
  insertBucketState,
  updateBucketConfig,
} from '../meta/buckets/buckets.js';
import type { Bucket, RefView } from '../meta/buckets/types.js';
import { withTransaction } from '../meta/engine.js';
import type { CannedAcl } from '../meta/objects/types.js';
import { claimUploadsOfBucket, deleteParts, partBlobsOf } from '../meta/objects/uploads.js';
import { bucketUsage, hasAnyVersion, hasProtectedVersion, someVersions, takeNextSeq } from '../meta/objects/versions.js';
import { parseAlias } from './branches/names.js';
import { resolveAlias } from './branches/resolve.js';
import { isValidBucketName } from './bucket-names.js';
import type { CoreContext } from './context.js';
import { type DefaultRetention, type ObjectLockConfig, validateDefaultRetention } from './object-lock.js';
import type { DeleteTarget } from './objects/latest.js';
import { checkQuota, type Quota } from './objects/quota.js';

export type { Bucket, RefView };

const bucketErrors = {
  invalidName: (bucket: string) =>
    new AnvilError('Invalid', 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: bucket }),
  illegalLocation: (region: string) =>
    new AnvilError(
      'Invalid',
      'IllegalLocationConstraintException',
      `The ${region} location constraint is incompatible for the region specific endpoint this request was sent to.`,
    ),
  alreadyOwnedByYou: (bucket: string) =>
    new AnvilError(
      'Conflict',
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      {
        BucketName: bucket,
      },
    ),
  alreadyExists: (bucket: string) =>
    new AnvilError(
      'Conflict',
      'BucketAlreadyExists',
      'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
      { BucketName: bucket },
    ),
  notEmpty: (bucket: string) =>
    new AnvilError('Conflict', 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: bucket }),
};

const hasBranches = (bucket: Bucket) =>
  fail.conflict('BucketHasBranches', `bucket ${bucket.name} has branches: delete them first (anvil branch delete)`);

const protectedVersions = (bucket: Bucket) =>
  fail.conflict('ObjectLocked', `bucket ${bucket.name} holds versions protected by Object Lock (retention or legal hold)`);

export class BucketService {
  constructor(private readonly ctx: CoreContext) {}

  /**
   * The bucket of this name, or the bucket as seen through a branch, tag or
   * commit alias (`bucket--ref`, core/branches/resolve.ts).
   */
  async get(name: string): Promise<Bucket | undefined> {
    const bucket = await bucketByName(this.ctx.meta.control, name);
    if (bucket) return bucket;
    const alias = parseAlias(name);
    if (!alias) return undefined;
    const root = await bucketByName(this.ctx.meta.control, alias.bucket);
    return root && resolveAlias(this.ctx.meta.data, root, alias.ref, name);
  }

  async listForTenant(tenantId: string): Promise<Bucket[]> {
    return bucketsOfTenant(this.ctx.meta.control, tenantId);
  }

  /**
   * Creates the regional state row first and the global row second: a crash
   * in between leaves only an unreachable state row, never a bucket whose
   * objects have nowhere to go.
   */
  async create(
    tenantId: string,
    name: string,
    locationConstraint?: string,
    acl: CannedAcl = 'private',
    opts: { objectLock?: boolean } = {},
  ): Promise<Bucket> {
    const taken = (owner: Bucket) =>
      owner.tenant_id === tenantId ? bucketErrors.alreadyOwnedByYou(name) : bucketErrors.alreadyExists(name);
    if (!isValidBucketName(name)) {
      // A branch, tag or commit alias (`photos--dev`) is no name a bucket may take, yet it
      // exists: clients that create their target bucket first (rclone copyto, s3cmd mb
      // before sync) expect BucketAlreadyOwnedByYou there, as for the bucket itself.
      const alias = name.includes('--') ? await this.get(name) : null;
      if (alias) throw taken(alias);
      throw bucketErrors.invalidName(name);
    }
    // An empty constraint means the default region; any other must be ours.
    if (locationConstraint && locationConstraint !== this.ctx.region) {
      throw bucketErrors.illegalLocation(locationConstraint);
    }
    const existing = await this.get(name);
    if (existing) throw taken(existing);
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
      quota_bytes: null,
      quota_objects: null,
      // Object Lock needs versioning: a bucket created with it is versioning from the start.
      versioning: opts.objectLock ? 'Enabled' : null,
      object_lock: opts.objectLock ? JSON.stringify({ enabled: true } satisfies ObjectLockConfig) : null,
    };
    await insertBucketState(this.ctx.meta.data, bucket.id, tenantId);
    try {
      await insertBucket(this.ctx.meta.control, bucket);
    } catch (err) {
      await deleteBucketState(this.ctx.meta.data, bucket.id);
      const winner = await this.get(name);
      if (winner) throw taken(winner);
      throw err;
    }
    return bucket;
  }

  /**
   * Turns versioning on or suspends it (a bucket never goes back to
   * unversioned). A bucket with Object Lock stays versioning.
   */
  async setVersioning(bucket: Bucket, status: 'Enabled' | 'Suspended'): Promise<Bucket> {
    // A suspended bucket replaces null versions in place: history that branches read would change.
    if (status === 'Suspended' && (await hasHistory(this.ctx.meta.data, bucket.id))) {
      throw fail.conflict(
        'InvalidBucketState',
        'This bucket has branches, commits or tags, whose history a suspended bucket would overwrite: versioning stays Enabled.',
      );
    }
    if (status === 'Suspended' && bucket.object_lock) {
      throw fail.conflict(
        'InvalidBucketState',
        'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
      );
    }
    await updateBucketConfig(this.ctx.meta.control, bucket.id, { versioning: status });
    return { ...bucket, versioning: status };
  }

  /**
   * Enables Object Lock (for good) and sets or clears its default
   * retention. The bucket must be versioning.
   */
  async setObjectLock(bucket: Bucket, rule: DefaultRetention | undefined): Promise<Bucket> {
    if (bucket.versioning !== 'Enabled') {
      throw fail.conflict('InvalidBucketState', "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration");
    }
    if (rule) validateDefaultRetention(rule);
    const config: ObjectLockConfig = rule ? { enabled: true, rule } : { enabled: true };
    const object_lock = JSON.stringify(config);
    await updateBucketConfig(this.ctx.meta.control, bucket.id, { object_lock });
    return { ...bucket, object_lock };
  }

  /**
   * Sets the bucket's storage quota (core/objects/quota.ts): absent
   * dimensions stay, null removes one. It applies to the next write; what
   * is stored already stays, even above it.
   */
  async setQuota(bucket: Bucket, change: Partial<Quota>): Promise<Bucket> {
    checkQuota(change);
    const columns = {
      ...(change.bytes !== undefined && { quota_bytes: change.bytes }),
      ...(change.objects !== undefined && { quota_objects: change.objects }),
    };
    if (Object.keys(columns).length) await updateBucketConfig(this.ctx.meta.control, bucket.id, columns);
    return { ...bucket, ...columns };
  }

  /** Sets the bucket's canned ACL (public-read lets anyone list it). */
  async setAcl(bucket: Bucket, acl: CannedAcl): Promise<void> {
    await updateBucketConfig(this.ctx.meta.control, bucket.id, { acl });
  }

  /** Stores (or with null removes) the bucket policy; the caller has validated it (core/bucket-policy.ts). */
  async setPolicy(bucket: Bucket, policy: string | null): Promise<void> {
    await updateBucketConfig(this.ctx.meta.control, bucket.id, { policy });
  }

  /** Replaces (or with null removes) the bucket's tag set. */
  async setTags(bucket: Bucket, tags: Record<string, string> | null): Promise<void> {
    await updateBucketConfig(this.ctx.meta.control, bucket.id, { tags: tags && JSON.stringify(tags) });
  }

  /** Replaces (or with null removes) the bucket's CORS configuration. */
  async setCors(bucket: Bucket, cors: unknown | null): Promise<void> {
    await updateBucketConfig(this.ctx.meta.control, bucket.id, { cors: cors === null ? null : JSON.stringify(cors) });
  }

  /**
   * Deletes a bucket with everything in it (the `delete-bucket` task behind
   * `anvil admin bucket delete --force`): objects in batches of 1000, one
   * transaction per batch, then the uploads and the bucket itself. Safe to
   * run again after a crash: it resumes with what is left. `objects` is the
   * object service (passed in: objects depend on buckets, not the reverse).
   */
  async purge(
    bucket: Bucket,
    objects: { deleteMany(b: Bucket, targets: DeleteTarget[]): Promise<Array<object>> },
    signal?: AbortSignal,
    onProgress?: (done: number, total: number) => void,
  ): Promise<void> {
    // Object Lock outranks the operator: a bucket holding a protected version is refused before
    // anything is deleted (deleting the rest first would uncover locked versions under their markers).
    // Only buckets with Object Lock can hold one; a version locked meanwhile still stops a batch below.
    if (bucket.object_lock && (await hasProtectedVersion(this.ctx.meta.data, bucket.id, Date.now()))) throw protectedVersions(bucket);
    // Branches are deleted one by one (each may hold locked versions); main's commits and tags go with the bucket.
    if (await hasBranchesBesideMain(this.ctx.meta.data, bucket.id)) throw hasBranches(bucket);
    await dropHistory(this.ctx.meta.data, bucket.id);
    // Versions and markers there were at the start: what this attempt has to delete.
    const usage = onProgress ? await bucketUsage(this.ctx.meta.data, bucket.id) : undefined;
    const total = usage ? usage.versions + usage.markers : 0;
    let done = 0;
    for (;;) {
      signal?.throwIfAborted();
      onProgress?.(done, Math.max(total, done));
      // Every version goes, by id: a plain delete would only stack delete markers.
      const batch = await someVersions(this.ctx.meta.data, bucket.id, 1000);
      if (batch.length === 0) break;
      const results = await objects.deleteMany(bucket, batch);
      // Object Lock outranks the operator: a protected version stops the purge (it is retried later).
      if (results.some((r) => 'error' in r)) throw protectedVersions(bucket);
      done += batch.length;
    }
    onProgress?.(done, Math.max(total, done));
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
      await takeNextSeq(trx, bucket.id);
      if (await hasAnyVersion(trx, bucket.id)) throw bucketErrors.notEmpty(bucket.name);
      if (await hasBranchesBesideMain(trx, bucket.id)) throw hasBranches(bucket);
      await dropHistory(trx, bucket.id);
      // Deleting the upload rows first locks them (lock order: bucket, uploads, blobs).
      for (const u of await claimUploadsOfBucket(trx, bucket.id)) {
        refs.release(u.tenantId, await partBlobsOf(trx, u.uploadId));
        await deleteParts(trx, u.uploadId);
      }
      await deleteBucketState(trx, bucket.id);
      await refs.apply(trx);
    });
    await deleteBucketRow(this.ctx.meta.control, bucket.id);
    await this.ctx.blobs.released(refs);
  }
}
