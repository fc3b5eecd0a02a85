/**
 * What a serving node shows its operator, put together from the node's
 * parts for the edges that show it: the readiness checks of /-/ready
 * (http/health.ts) and the in-memory view of the backends that /-/metrics
 * reads at each scrape (http/metrics.ts).
 */
import { UNLIMITED } from '../backends/config.js';
import { backendsCheck, databaseCheck, folderCheck, type ReadinessCheck } from '../http/health.js';
import type { BackendMetricsView } from '../http/metrics.js';
import { pendingMigrations } from '../meta/migration-status.js';
import type { NodeContext } from './assemble.js';

/**
 * Ready when both planes answer and are migrated, the staging folder takes
 * a file, and enough backends are healthy for the default replication.
 */
export function readinessChecks(node: NodeContext): ReadinessCheck[] {
  const { meta } = node;
  const blobs = node.core.blobs;
  return [
    databaseCheck('control_database', () => pendingMigrations(meta, 'control')),
    databaseCheck('data_database', () => pendingMigrations(meta, 'data')),
    folderCheck('data_folder', blobs.staging.tmpDir),
    backendsCheck('backends', () => blobs.replicas.states(), blobs.defaultReplication),
  ];
}

/** Each configured backend's quota, last health check and breaker, as the metrics read them. */
export function backendMetricsView(node: NodeContext): () => BackendMetricsView[] {
  const replicas = node.core.blobs.replicas;
  return () =>
    [...replicas.decls.values()].map((d) => {
      const g = replicas.backends.get(d.name);
      const h = g?.lastHealth;
      return {
        name: d.name,
        quotaBytes: d.quotaBytes >= UNLIMITED ? undefined : d.quotaBytes,
        healthy: h?.ok,
        freeBytes: h?.capacity?.freeBytes,
        totalBytes: h?.capacity?.totalBytes,
        breaker: g?.breaker.state,
        breakerOpens: g?.breaker.snapshot().opens,
        draining: replicas.draining.has(d.name),
      };
    });
}
