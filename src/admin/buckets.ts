/**
 * Buckets as operators see them: owner, settings summary and usage. Deleting
 * with force=true enqueues the same DELETE_BUCKET_TASK as
 * `anvil admin bucket delete --force` (both through admin/ops/buckets.ts); the server's task runner empties and
 * removes the bucket in the background.
 *
 * A key's history (GET …/versions?key=): every version and delete marker,
 * newest first, with its Object Lock state; for members, the right that
 * ListObjectVersions with prefix=key needs (list on the key).
 *
 * Settings (PATCH): `replication`, the replicas each new blob of the bucket
 * gets (1 to the number of configured backends; null: the server default),
 * and `quota`, the bucket's storage quota (core/objects/quota.ts). Root
 * only: replicas take the operator's storage, which no tenant quota bounds,
 * and quotas are the operator's to give.
 */
import { z } from 'zod';

import { isAdminOf, requireRoot, visibleBucket, visibleTenant } from './access.js';
import { adminErrors } from './errors.js';
import { bucketView, bucketViews, deleteBucket, keyVersions, setBucketQuota, setReplication } from './ops/buckets.js';
import { Reply, route } from './route.js';
import { Bucket as BaseBucketSchema, BucketDeleted, ForceQuery, KeyVersions, KeyVersionsQuery, QuotaChange } from './schemas.js';

/**
 * schemas.ts's Bucket with the replication setting. It takes over the
 * component name `Bucket` in the OpenAPI document (the base is no longer
 * used by any route); the fields belong in schemas.ts itself.
 */
const BucketSchema = BaseBucketSchema.extend({
  replication: z.number().int().nullable().describe("replicas of each new blob of this bucket; null: the server's default"),
  effectiveReplication: z.number().int().describe('the replication new blobs get now (the setting, or the default)'),
});
z.globalRegistry.remove(BaseBucketSchema);
z.globalRegistry.add(BucketSchema, { id: 'Bucket' });
const BucketList = z.object({ buckets: z.array(BucketSchema) });

const BucketSettings = z
  .object({
    replication: z
      .number()
      .int()
      .min(1)
      .nullable()
      .optional()
      .describe('replicas of each new blob: 1 to the number of configured backends; null: the default. Objects already stored keep theirs'),
    quota: QuotaChange.optional().describe("the bucket's storage quota: absent fields stay, null removes a limit"),
  })
  .strict()
  .meta({ id: 'BucketSettings' });

export const bucketRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/tenants/:tenant/buckets',
    tag: 'buckets',
    summary: "List a tenant's buckets with their usage",
    access: 'tenant admin: all; others: the buckets their rights reach',
    auth: 'any',
    response: BucketList,
    async handle({ principal, params, deps }) {
      const tenant = await visibleTenant(principal, params.tenant, deps);
      let buckets = await deps.buckets.listForTenant(tenant.id);
      if (!isAdminOf(principal, tenant.id)) buckets = buckets.filter((b) => principal.permissions.reachesBucket(b.name));
      return { buckets: await bucketViews(deps, buckets, async () => tenant.name) };
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket',
    tag: 'buckets',
    summary: 'Show a bucket: owner, region, ACL, whether a policy is set, versioning, Object Lock, usage and the history kept',
    access: 'root; tenant admin of the owner; others if their rights reach it',
    auth: 'any',
    response: BucketSchema,
    async handle({ principal, params, deps }) {
      return bucketView(deps, await visibleBucket(principal, params.bucket, deps));
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/versions',
    tag: 'buckets',
    summary: "List a key's versions and delete markers, newest first, with their Object Lock state",
    access: 'root; tenant admin of the owner; others with the list action on the key',
    auth: 'any',
    query: KeyVersionsQuery,
    response: KeyVersions,
    async handle({ principal, params, query, deps }) {
      const bucket = await visibleBucket(principal, params.bucket, deps);
      if (
        !isAdminOf(principal, bucket.tenant_id) &&
        !principal.permissions.allows('list', { kind: 'prefix', bucket: bucket.name, prefix: query.key })
      ) {
        throw adminErrors.forbidden(`listing the versions of ${query.key} needs the list action on it`);
      }
      return keyVersions(deps, bucket, query.key, { after: query.after, limit: query.limit });
    },
  }),
  route({
    method: 'PATCH',
    path: '/admin/v1/buckets/:bucket',
    tag: 'buckets',
    summary: "Change a bucket's settings (replication, storage quota)",
    access: 'root',
    auth: 'any',
    body: BucketSettings,
    response: BucketSchema,
    async handle({ principal, params, body, deps }) {
      requireRoot(principal);
      const bucket = await visibleBucket(principal, params.bucket, deps);
      let view = body.quota === undefined ? undefined : await setBucketQuota(deps, bucket, body.quota);
      if (body.replication !== undefined) view = await setReplication(deps, bucket, body.replication);
      return view ?? bucketView(deps, bucket);
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/buckets/:bucket',
    tag: 'buckets',
    summary: 'Delete a bucket; with force=true a background task deletes its contents first (202)',
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    query: ForceQuery,
    response: BucketDeleted,
    otherStatuses: [{ status: 202, description: 'Accepted: a delete-bucket task will empty and delete it' }],
    async handle({ principal, params, query, deps }) {
      const bucket = await visibleBucket(principal, params.bucket, deps);
      if (!isAdminOf(principal, bucket.tenant_id) && !principal.permissions.allows('admin', { kind: 'bucket', bucket: bucket.name })) {
        throw adminErrors.forbidden(`deleting bucket ${bucket.name} needs the admin action on it`);
      }
      const result = await deleteBucket(deps, bucket, query.force === 'true');
      // Work left to a task is Accepted, not done.
      return result.task === undefined ? result : new Reply(202, result);
    },
  }),
];
