/**
 * Flattening a branch on demand (core/branches/flatten.ts): a durable task
 * copies what the branch reads through its ancestors into it. Branches made
 * FLATTEN_DEPTH deep are queued for it on their own.
 */
import { z } from 'zod';

import { isAdminOf, visibleBucket } from './access.js';
import { adminErrors } from './errors.js';
import { route } from './route.js';

const FlattenQueued = z
  .object({ branch: z.string(), task: z.number().int().nullable().describe('the queued task (anvil admin tasks list)') })
  .meta({ id: 'FlattenQueued' });

export const branchFlattenRoutes = [
  route({
    method: 'POST',
    path: '/admin/v1/buckets/:bucket/branches/:branch/flatten',
    tag: 'branches',
    summary: "Queue a flatten of the branch: its ancestors' visible rows are copied in (metadata only) and reads stop at it",
    access: 'root; tenant admin of the owner; others with the admin action on the bucket',
    auth: 'any',
    response: FlattenQueued,
    status: 202,
    async handle({ principal, params, deps }) {
      const bucket = await visibleBucket(principal, params.bucket, deps);
      if (bucket.view) throw adminErrors.invalid(`${params.bucket} is an alias of bucket ${bucket.view.bucketName}: name the bucket`);
      if (!isAdminOf(principal, bucket.tenant_id) && !principal.permissions.allows('admin', { kind: 'bucket', bucket: bucket.name })) {
        throw adminErrors.forbidden(`flattening a branch of ${bucket.name} needs the admin action on it`);
      }
      const task = await deps.branches.enqueueFlatten(bucket, params.branch);
      return { branch: params.branch, task: task ?? null };
    },
  }),
];
