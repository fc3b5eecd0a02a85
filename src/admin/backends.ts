/**
 * Storage backends as the operator manages them (root only: backends serve
 * every tenant). The logic is work/backend-admin.ts, reached through
 * admin/ops/backends.ts as `anvil admin backend …` reaches it:
 *
 *   GET    /admin/v1/backends                     list with usage, health, drain progress
 *   GET    /admin/v1/backends/:backend            one of them
 *   POST   /admin/v1/backends/:backend/drain      mark draining + drain task (202)
 *   POST   /admin/v1/backends/:backend/undrain    take new blobs again
 *   DELETE /admin/v1/backends/:backend?force=true forget it (409 while replicas remain, unless force)
 */
import { z } from 'zod';

import { requireRoot } from './access.js';
import { backendAdmin as admin } from './ops/backends.js';
import { route } from './route.js';

const bytes = z.number().int();
const nullableBytes = z.number().int().nullable();

const BackendHealth = z
  .object({
    ok: z.boolean().nullable().describe('result of the last health check; null: not checked yet'),
    detail: z.string().nullable(),
    latencyMs: z.number().nullable(),
    checkedAt: z.string().nullable().describe('ISO 8601 time of the last check'),
    freeBytes: nullableBytes.describe('physical free space, where the backend can tell (fs)'),
    totalBytes: nullableBytes,
  })
  .meta({ id: 'BackendHealth' });

const DrainProgress = z
  .object({
    task: z.number().int().describe('the drain-backend task'),
    status: z.enum(['pending', 'running', 'done', 'failed', 'cancelled']),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    remaining: z.number().int().describe('replicas still on the backend'),
  })
  .meta({ id: 'DrainProgress' });

const Backend = z
  .object({
    name: z.string(),
    type: z.enum(['fs', 's3']).nullable().describe('null: no longer in the config file'),
    configured: z.boolean().describe('declared in the config file of the server that answered'),
    location: z.string().nullable().describe('fs: the folder; s3: s3://bucket/prefix (and endpoint)'),
    quotaBytes: nullableBytes.describe('null: unlimited'),
    usedBytes: bytes.describe('stored bytes of the replicas it holds'),
    blobCount: bytes.describe('replicas it holds'),
    maxObjectSize: nullableBytes,
    draining: z.boolean().describe('takes no new blobs'),
    health: BackendHealth,
    breaker: z.enum(['closed', 'open', 'half-open']).nullable().describe('circuit breaker of the server that answered'),
    monthly: z.object({
      month: z.string().describe('YYYY-MM (UTC)'),
      requests: bytes,
      ingressBytes: bytes,
      egressBytes: bytes,
      limits: z.object({ requests: nullableBytes, ingressBytes: nullableBytes, egressBytes: nullableBytes }).describe('null: no limit'),
    }),
    drain: DrainProgress.nullable().describe('the latest drain task of this backend'),
  })
  .meta({ id: 'Backend' });

const BackendList = z
  .object({
    placement: z.enum(['pack', 'spread']),
    defaultReplication: z.number().int().describe('replicas of a blob of a bucket without its own replication'),
    backends: z.array(Backend),
  })
  .meta({ id: 'BackendList' });

const BackendRebalance = z
  .object({
    task: z.number().int().describe('the rebalance task'),
    enqueued: z.boolean().describe('false: a pending or running rebalance task was already there'),
    tolerance: z.number().describe('it stops when the fullest and emptiest fill ratios differ by at most this'),
  })
  .meta({ id: 'BackendRebalance' });

const BackendDrain = z
  .object({
    backend: z.string(),
    draining: z.literal(true),
    task: z.number().int().describe('the drain-backend task moving its replicas'),
    enqueued: z.boolean().describe('false: a pending or running drain task was already there'),
    remaining: z.number().int().describe('replicas still on it'),
  })
  .meta({ id: 'BackendDrain' });

const BackendUndrain = z
  .object({
    backend: z.string(),
    draining: z.literal(false),
    cancelledTasks: z.array(z.number().int()),
    remaining: z.number().int(),
  })
  .meta({ id: 'BackendUndrain' });

const BackendRemoved = z
  .object({
    backend: z.string(),
    removed: z.literal(true),
    forgottenReplicas: z.number().int().describe('replicas forgotten (force); the scrub re-replicates their blobs'),
    lostBlobs: z.number().int().describe('blobs whose only good replica was there'),
    stillConfigured: z.boolean().describe('still in the config file: marked draining until deleted there'),
    cancelledTasks: z.array(z.number().int()),
    note: z.string().describe('what is left for the operator to do'),
  })
  .meta({ id: 'BackendRemoved' });

const RemoveQuery = z.object({
  force: z.enum(['true', 'false']).optional().describe('true: forget the replicas still on it (blobs with no other replica are lost)'),
});

export const backendRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/backends',
    tag: 'backends',
    summary: 'List storage backends: quota, usage, health, breaker, monthly counters, drain progress',
    access: 'root',
    auth: 'any',
    response: BackendList,
    async handle({ principal, deps }) {
      requireRoot(principal);
      return admin(deps).list();
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/backends/:backend',
    tag: 'backends',
    summary: 'Show one storage backend',
    access: 'root',
    auth: 'any',
    response: Backend,
    async handle({ principal, params, deps }) {
      requireRoot(principal);
      return admin(deps).get(params.backend);
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/backends/rebalance',
    tag: 'backends',
    summary: 'Even out the fill ratios of the backends (spread placement): a background task moves replicas (202)',
    access: 'root',
    auth: 'any',
    query: z.object({ tolerance: z.coerce.number().min(0).max(0.99).optional() }),
    response: BackendRebalance,
    status: 202,
    async handle({ principal, query, deps }) {
      requireRoot(principal);
      return admin(deps).rebalance(query.tolerance);
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/backends/:backend/drain',
    tag: 'backends',
    summary: 'Drain a backend: it takes no new blobs and a background task moves its replicas elsewhere (202)',
    access: 'root',
    auth: 'any',
    response: BackendDrain,
    status: 202,
    async handle({ principal, params, deps }) {
      requireRoot(principal);
      return admin(deps).drain(params.backend);
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/backends/:backend/undrain',
    tag: 'backends',
    summary: 'Let a drained backend take new blobs again (a drain not yet finished is cancelled)',
    access: 'root',
    auth: 'any',
    response: BackendUndrain,
    async handle({ principal, params, deps }) {
      requireRoot(principal);
      return admin(deps).undrain(params.backend);
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/backends/:backend',
    tag: 'backends',
    summary: 'Forget a backend; 409 while replicas remain on it unless force=true (the scrub then re-replicates)',
    access: 'root',
    auth: 'any',
    query: RemoveQuery,
    response: BackendRemoved,
    async handle({ principal, params, query, deps }) {
      requireRoot(principal);
      return admin(deps).remove(params.backend, { force: query.force === 'true' });
    },
  }),
];
