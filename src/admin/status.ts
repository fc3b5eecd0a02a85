/** GET /admin/v1/status: what this server is and how much it holds (root only: the counts span every tenant). */
import { requireRoot } from './access.js';
import { serverStatus } from './ops/status.js';
import { route } from './route.js';
import { Status } from './schemas.js';

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
