/** What this server is and how much it holds: GET /admin/v1/status and `anvil admin status`. */
import { serverCounts } from '../../meta/stats/counts.js';
import type { AdminServices } from '../deps.js';

/** startedAt: when the answering server started (null from `anvil admin` against the database: no uptime). */
export async function serverStatus(s: Pick<AdminServices, 'meta' | 'config' | 'version'>, startedAt: number | null) {
  return {
    version: s.version,
    region: s.config.region,
    engine: s.meta.kind,
    uptimeSeconds: startedAt === null ? null : Math.round((Date.now() - startedAt) / 1000),
    ...(await serverCounts(s.meta.control, s.meta.data)),
  };
}

export type ServerStatus = Awaited<ReturnType<typeof serverStatus>>;
