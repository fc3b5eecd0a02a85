/** GET /admin/v1/status: what this server is and how much it holds (root only: the counts span every tenant). */
import { requireRoot } from './access.js';
import type { AdminDeps } from './deps.js';
import { route } from './route.js';
import { Status } from './schemas.js';
import { serverCounts } from '../meta/stats/counts.js';

export async function serverStatus(deps: Pick<AdminDeps, 'meta' | 'config' | 'version'>, startedAt: number | null) {
  return {
    version: deps.version,
    region: deps.config.region,
    engine: deps.meta.kind,
    uptimeSeconds: startedAt === null ? null : Math.round((Date.now() - startedAt) / 1000),
    ...(await serverCounts(deps.meta.control, deps.meta.data)),
  };
}

export const statusRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/status',
    tag: 'server',
    summary: 'Server version, region, engine, uptime and counts (tenants, buckets, task and cleanup backlogs)',
    access: 'root',
    auth: 'any',
    response: Status,
    async handle({ principal, deps }) {
      requireRoot(principal);
      return serverStatus(deps, deps.startedAt);
    },
  }),
];
