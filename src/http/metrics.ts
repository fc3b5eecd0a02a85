/**
 * Prometheus metrics, served at /-/metrics ("-" cannot start a bucket name,
 * so the path never shadows a bucket in path-style addressing). Every name
 * is listed in README § Operations › Metrics.
 *
 * Three sources, read three ways:
 * - request counters and latencies, recorded as requests finish;
 * - this process's state (admission control's counts from http/admission.ts,
 *   full disks, each backend's breaker and last health check), read at
 *   scrape time from memory;
 * - what the database knows (backend and tenant usage, replication debt,
 *   scrub progress, cleanup backlog, failed tasks), read in one batch of
 *   aggregate queries at most once per DB_CACHE_MS whatever the scrape rate;
 *   a scrape waits at most DB_WAIT_MS for a fresh batch, then answers the
 *   previous one while the batch finishes for the next scrape
 *   (`anvil_metrics_db_age_seconds` says how old the values are).
 */
import type { Logger } from 'pino';
import client from 'prom-client';

import type { DiskSpace } from '../blobs/index.js';
import { type UsageRow, usageRows } from '../meta/blobs/usage.js';
import type { MetaDatabases } from '../meta/engine.js';
import { countCleanupEntries } from '../meta/stats/counts.js';
import { countReplicationDebt, type ScrubProgress, scrubProgress, type TenantUsage, tenantUsage } from '../meta/stats/operator.js';
import { countTasksByStatus } from '../meta/work/tasks.js';
import type { AdmissionState } from './admission.js';
import { Cached } from './cached.js';

/** DB-backed values are reused this long. */
const DB_CACHE_MS = 5000;
/** A scrape waits this long at most for the database. */
const DB_WAIT_MS = 1000;
/** A failing batch is logged at most this often. */
const DB_ERROR_LOG_MS = 60_000;

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** What the metrics read of each configured backend, in memory (blobs' Replicas, through app.ts). */
export interface BackendMetricsView {
  name: string;
  /** Absent: unlimited. */
  quotaBytes?: number;
  /** Last health check passed (absent: not checked yet). */
  healthy?: boolean;
  /** Physical space where the backend can tell (fs), from its last health check. */
  freeBytes?: number;
  totalBytes?: number;
  breaker?: (typeof BREAKER_STATES)[number];
  /** Times its breaker opened since start. */
  breakerOpens?: number;
  draining?: boolean;
}

export interface MetricsSources {
  space?: DiskSpace;
  backends?: () => BackendMetricsView[];
  log?: Logger;
}

interface DbSnapshot {
  cleanupQueue: number;
  deadLetters: number;
  tasksFailed: number;
  usage: UsageRow[];
  tenants: TenantUsage[];
  replicationDebt: number;
  scrub: ScrubProgress;
}

async function readSnapshot(meta: MetaDatabases): Promise<DbSnapshot> {
  return {
    cleanupQueue: await countCleanupEntries(meta.data, 'cleanup_queue'),
    deadLetters: await countCleanupEntries(meta.data, 'cleanup_dead_letters'),
    tasksFailed: (await countTasksByStatus(meta.control, ['failed'])).failed,
    usage: await usageRows(meta.data),
    tenants: await tenantUsage(meta.control, meta.data),
    replicationDebt: await countReplicationDebt(meta.data),
    scrub: await scrubProgress(meta.data),
  };
}

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
  private readonly rateLimited = new client.Counter({
    name: 'anvil_rate_limited_total',
    help: 'Requests refused by a request rate limit (503 SlowDown), by the limit that refused them (scope)',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  private readonly db: Cached<DbSnapshot>;

  constructor(meta: MetaDatabases, sources: MetricsSources = {}) {
    let loggedAt = 0;
    this.db = new Cached(
      () => readSnapshot(meta),
      DB_CACHE_MS,
      (err) => {
        if (Date.now() - loggedAt < DB_ERROR_LOG_MS) return;
        loggedAt = Date.now();
        sources.log?.warn({ err }, 'metrics: reading the database-backed gauges failed; scrapes show the last values read');
      },
    );
    this.dbGauges();
    if (sources.backends) this.backendGauges(sources.backends);
    const space = sources.space;
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

  /** The gauges read from the database, all from one cached batch (see the module comment). */
  private dbGauges(): void {
    const registers = [this.registry];
    const db = this.db;
    /** A gauge filled from the batch; left as it was when no batch could be read in time. */
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      fill: (g: client.Gauge<L>, s: DbSnapshot) => void,
    ) =>
      new client.Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const snap = await db.get(DB_WAIT_MS);
          if (!snap) return;
          this.reset();
          fill(this, snap);
        },
      });
    gauge('anvil_cleanup_queue_entries', 'Released blobs waiting to be removed', [], (g, s) => g.set(s.cleanupQueue));
    gauge('anvil_cleanup_dead_letters', 'Blob removals that failed too often', [], (g, s) => g.set(s.deadLetters));
    gauge('anvil_tasks_failed', 'Background tasks that exhausted their attempts', [], (g, s) => g.set(s.tasksFailed));
    gauge('anvil_blobs', 'Stored blobs (deduplicated bodies; each has one or more replicas)', [], (g, s) => g.set(s.scrub.blobs));
    gauge('anvil_blobs_corrupt', 'Blobs the scrub found with no replica matching their hash', [], (g, s) => g.set(s.scrub.corrupt));
    gauge('anvil_scrub_verified_blobs', 'Blobs the integrity scrub has verified at least once', [], (g, s) => g.set(s.scrub.verified));
    gauge(
      'anvil_scrub_oldest_verification_timestamp_seconds',
      'When the least recently verified blob was verified (Unix time; 0 before any); time() minus this is how far behind the scrub is',
      [],
      (g, s) => g.set((s.scrub.oldestVerifiedAt ?? 0) / 1000),
    );
    gauge('anvil_scrub_bad_replicas', 'Replicas found missing or corrupt and not repaired yet', [], (g, s) => g.set(s.scrub.badReplicas));
    gauge(
      'anvil_replication_debt_blobs',
      'Blobs with fewer good replicas than they should have (the scrub repairs and re-replicates them)',
      [],
      (g, s) => g.set(s.replicationDebt),
    );
    gauge('anvil_backend_stored_bytes', 'Bytes stored on each backend (replicas, as stored)', ['backend'], (g, s) => {
      for (const u of s.usage) g.set({ backend: u.backend }, u.storedBytes);
    });
    gauge('anvil_backend_replicas', 'Blob replicas on each backend', ['backend'], (g, s) => {
      for (const u of s.usage) g.set({ backend: u.backend }, u.blobCount);
    });
    gauge('anvil_tenant_objects', 'Objects (live latest versions) of each tenant', ['tenant'], (g, s) => {
      for (const t of s.tenants) g.set({ tenant: t.name }, t.objects);
    });
    gauge('anvil_tenant_bytes', 'Bytes of the live latest versions of each tenant', ['tenant'], (g, s) => {
      for (const t of s.tenants) g.set({ tenant: t.name }, t.bytes);
    });
    gauge(
      'anvil_tenant_version_bytes',
      'Bytes of every version (latest and noncurrent) of each tenant, before deduplication',
      ['tenant'],
      (g, s) => {
        for (const t of s.tenants) g.set({ tenant: t.name }, t.versionBytes);
      },
    );
    new client.Gauge({
      name: 'anvil_metrics_db_age_seconds',
      help: 'Age of the database-backed values in this scrape (-1: none read yet)',
      registers,
      async collect() {
        await db.get(DB_WAIT_MS);
        this.set(db.readAt === undefined ? -1 : (Date.now() - db.readAt) / 1000);
      },
    });
  }

  /** Each configured backend's quota, capacity, health and breaker, from memory. */
  private backendGauges(read: () => BackendMetricsView[]): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: client.Gauge, b: BackendMetricsView) => void) =>
      new client.Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const b of read()) fill(this, b);
        },
      });
    gauge(
      'anvil_backend_quota_bytes',
      'Configured quota of each backend (backends without a quota are not listed)',
      ['backend'],
      (g, b) => {
        if (b.quotaBytes !== undefined) g.set({ backend: b.name }, b.quotaBytes);
      },
    );
    gauge(
      'anvil_backend_free_bytes',
      'Free space on the disk under each backend, where it can tell (fs), at its last health check',
      ['backend'],
      (g, b) => {
        if (b.freeBytes !== undefined) g.set({ backend: b.name }, b.freeBytes);
      },
    );
    gauge('anvil_backend_capacity_bytes', 'Size of the disk under each backend, where it can tell (fs)', ['backend'], (g, b) => {
      if (b.totalBytes !== undefined) g.set({ backend: b.name }, b.totalBytes);
    });
    gauge('anvil_backend_up', "Whether each backend's last health check passed (absent before the first)", ['backend'], (g, b) => {
      if (b.healthy !== undefined) g.set({ backend: b.name }, b.healthy ? 1 : 0);
    });
    gauge('anvil_backend_draining', 'Whether each backend is being drained (takes no new blobs)', ['backend'], (g, b) => {
      g.set({ backend: b.name }, b.draining ? 1 : 0);
    });
    gauge(
      'anvil_backend_breaker_state',
      "Each backend's circuit breaker: 1 for its current state (closed: in use; open: refused; half-open: probing)",
      ['backend', 'state'],
      (g, b) => {
        for (const state of BREAKER_STATES) g.set({ backend: b.name, state }, (b.breaker ?? 'closed') === state ? 1 : 0);
      },
    );
    new client.Counter({
      name: 'anvil_backend_breaker_opens_total',
      help: "Times each backend's circuit breaker opened (including re-opens after failed probes)",
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        for (const b of read()) this.inc({ backend: b.name }, b.breakerOpens ?? 0);
      },
    });
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
      help: 'Requests being served now (capped by max_concurrent_requests; /-/metrics and health probes not counted)',
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

  /**
   * Counts a request refused by a request rate limit, for
   * `anvil_rate_limited_total{scope}`; `scope` names the limit (e.g. "key",
   * "tenant"): a handful of fixed values, never a key id or tenant name.
   */
  countRateLimited(scope: string, n = 1): void {
    this.rateLimited.inc({ scope }, n);
  }
}
