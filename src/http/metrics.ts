/**
 * Prometheus metrics, served at /-/metrics ("-" cannot start a bucket name,
 * so the path never shadows a bucket in path-style addressing). Request
 * counters and latencies are recorded as requests finish; the state of the
 * background work (cleanup backlog, dead letters, failed tasks, corrupt
 * blobs) is read from the database at scrape time, and admission control's
 * counts (open connections, requests in flight, what was turned away) from
 * the admission gate (http/admission.ts).
 */
import client from 'prom-client';

import type { DiskSpace } from '../blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';
import { countCleanupEntries, countCorruptBlobs } from '../meta/stats/counts.js';
import { countTasksByStatus } from '../meta/work/tasks.js';
import type { AdmissionState } from './admission.js';

export class Metrics {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({
    name: 'anvil_requests_total',
    help: 'S3 requests by operation and HTTP status',
    labelNames: ['op', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new client.Histogram({
    name: 'anvil_request_duration_seconds',
    help: 'S3 request latency by operation',
    labelNames: ['op'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.registry],
  });
  private readonly bytes = new client.Counter({
    name: 'anvil_bytes_total',
    help: 'Body bytes received and sent',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  constructor(meta: MetaDatabases, space?: DiskSpace) {
    const gauge = (name: string, help: string, read: () => Promise<number>) =>
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set(await read());
        },
      });
    gauge('anvil_cleanup_queue_entries', 'Released blobs waiting to be removed', () => countCleanupEntries(meta.data, 'cleanup_queue'));
    gauge('anvil_cleanup_dead_letters', 'Blob removals that failed too often', () =>
      countCleanupEntries(meta.data, 'cleanup_dead_letters'),
    );
    gauge('anvil_blobs_corrupt', 'Blobs the scrub found not matching their hash', () => countCorruptBlobs(meta.data));
    gauge(
      'anvil_tasks_failed',
      'Background tasks that exhausted their attempts',
      async () => (await countTasksByStatus(meta.control, ['failed'])).failed,
    );
    if (space) {
      new client.Gauge({
        name: 'anvil_disk_full',
        help: 'Whether writes to a place (data folder, metadata database) are being refused for lack of space',
        labelNames: ['place'] as const,
        registers: [this.registry],
        collect() {
          const full = new Set(space.snapshot().full);
          for (const place of [space.dataFolder.name, space.metadata.name]) this.set({ place }, full.has(place) ? 1 : 0);
        },
      });
      new client.Counter({
        name: 'anvil_disk_full_refusals_total',
        help: 'Writes answered 507 InsufficientStorage because a disk was full',
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(space.snapshot().refusedTotal);
        },
      });
    }
    client.collectDefaultMetrics({ register: this.registry, prefix: 'anvil_' });
  }

  /** Reports admission control's state at every scrape. */
  watchAdmission(state: AdmissionState): void {
    const registers = [this.registry];
    new client.Gauge({
      name: 'anvil_http_open_connections',
      help: 'Client connections open now (capped by max_connections)',
      registers,
      collect() {
        this.set(state.openConnections);
      },
    });
    new client.Gauge({
      name: 'anvil_http_inflight_requests',
      help: 'Requests being served now (capped by max_concurrent_requests; /-/metrics not counted)',
      registers,
      collect() {
        this.set(state.inflightRequests);
      },
    });
    const rejected = { connection: 0, request: 0 };
    new client.Counter({
      name: 'anvil_http_rejected_total',
      help: 'Clients turned away by admission control: connections closed at accept (kind=connection), requests answered 503 SlowDown (kind=request)',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        // The gate keeps plain counts; the counter catches up with them at each scrape.
        this.inc({ kind: 'connection' }, state.rejectedConnections - rejected.connection);
        this.inc({ kind: 'request' }, state.rejectedRequests - rejected.request);
        rejected.connection = state.rejectedConnections;
        rejected.request = state.rejectedRequests;
      },
    });
  }

  observe(op: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.requests.inc({ op, status: String(status) });
    this.duration.observe({ op }, seconds);
    if (bytesIn) this.bytes.inc({ direction: 'in' }, bytesIn);
    if (bytesOut) this.bytes.inc({ direction: 'out' }, bytesOut);
  }
}
