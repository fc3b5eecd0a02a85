/**
 * Buckets as operators see them: owner, settings summary and usage. Deleting
 * with force=true enqueues the same 'delete-bucket' task as
 * `anvil admin bucket delete --force`; the server's task runner empties and
 * removes the bucket in the background.
 *
 * Settings (PATCH): `replication`, the replicas each new blob of the bucket
 * gets (1 to the number of configured backends; null: the server default).
 * Root only: replicas take the operator's storage, which no tenant quota
 * bounds.
 */
import { z } from 'zod';
import type { Bucket } from '../core/buckets.js';
import { setBucketReplication } from '../blobs/index.js';
import { isAdminOf, requireRoot, visibleBucket, visibleTenant } from './access.js';
import type { AdminDeps } from './deps.js';
import { adminErrors } from './errors.js';
import { Reply, route } from './route.js';
import { Bucket as BaseBucketSchema, BucketDeleted, ForceQuery, iso } from './schemas.js';
import { bucketUsage } from './stats.js';

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
  })
  .strict()
  .meta({ id: 'BucketSettings' });

async function bucketsJson(buckets: Bucket[], tenantName: (id: string) => Promise<string>, deps: AdminDeps) {
  const usage = await bucketUsage(
    deps.meta,
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
      effectiveReplication: Number(b.replication ?? deps.core.replicas.defaultFactor),
    });
  }
  return out;
}

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
      return { buckets: await bucketsJson(buckets, async () => tenant.name, deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket',
    tag: 'buckets',
    summary: 'Show a bucket: owner, region, ACL, whether a policy is set, usage',
    access: 'root; tenant admin of the owner; others if their rights reach it',
    auth: 'any',
    response: BucketSchema,
    async handle({ principal, params, deps }) {
      const bucket = await visibleBucket(principal, params.bucket, deps);
      const [json] = await bucketsJson([bucket], async (id) => (await deps.tenants.getTenantById(id))?.name ?? id, deps);
      return json;
    },
  }),
  route({
    method: 'PATCH',
    path: '/admin/v1/buckets/:bucket',
    tag: 'buckets',
    summary: "Change a bucket's settings (replication)",
    access: 'root',
    auth: 'any',
    body: BucketSettings,
    response: BucketSchema,
    async handle({ principal, params, body, deps }) {
      requireRoot(principal);
      let bucket = await visibleBucket(principal, params.bucket, deps);
      if (body.replication !== undefined) {
        await setBucketReplication(deps.core, bucket.id, body.replication);
        bucket = (await deps.buckets.get(bucket.name)) ?? bucket;
      }
      const [json] = await bucketsJson([bucket], async (id) => (await deps.tenants.getTenantById(id))?.name ?? id, deps);
      return json;
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
      if (query.force === 'true') {
        const task = await deps.tasks.enqueue('delete-bucket', { bucketId: bucket.id, bucket: bucket.name }, { priority: 50 });
        return new Reply(202, { bucket: bucket.name, deleted: false, task });
      }
      await deps.buckets.delete(bucket);
      return { bucket: bucket.name, deleted: true };
    },
  }),
];
