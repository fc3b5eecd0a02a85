/**
 * Starts a serving Anvil from its configuration: the deployment locks, the
 * control plane (src/node/control-plane.ts), the root credentials, the node
 * (src/node/assemble.ts: every service, built once), the start-up
 * reconciliation, the background work, and the S3 server with the admin API
 * mounted on it. Used by `anvil server` and by the integration tests.
 */
import type { AddressInfo } from 'node:net';

import pino, { type Logger } from 'pino';

import { createAdminHandler } from './admin/server.js';
import type { CleanupSettings, ReconcileReport } from './blobs/index.js';
import { configWarnings } from './config/advice.js';
import { type Config, splitListen } from './config/config.js';
import type { CoreContext } from './core/context.js';
import type { EventFeedOptions } from './core/events/feed.js';
import type { SessionOptions, SessionService } from './core/sessions.js';
import type { UserService } from './core/users.js';
import { type DeploymentLocks, lockDeployment } from './deployment-lock.js';
import { Admission, type AdmissionState, isMetricsScrape } from './http/admission.js';
import { CONSOLE_PREFIX, createConsoleHandler } from './http/console.js';
import { Drainer } from './http/drain.js';
import { Health } from './http/health.js';
import { Metrics } from './http/metrics.js';
import { RateLimitGate } from './http/rate-limit.js';
import { createS3Server } from './http/server.js';
import type { MetaDatabases } from './meta/engine.js';
import { assembleNode, type NodeContext } from './node/assemble.js';
import { openControlPlane } from './node/control-plane.js';
import { securePermissions } from './node/data-folder.js';
import { startBackgroundWork } from './node/jobs.js';
import { backendMetricsView, readinessChecks } from './node/probes.js';
import { Reloader, type ReloadReport } from './node/reload.js';
import { ensureRoot, type RootCredentials } from './node/root.js';
import { taskRunner } from './node/tasks.js';
import { VERSION } from './node/version.js';
import type { Services } from './s3/context.js';
import { type Leadership, tryLead, withClusterLock } from './work/leader.js';
import { LOCKS } from './work/task-names.js';
import type { TaskQueue } from './work/tasks.js';

export { type ControlPlane, type ControlPlaneOptions, openControlPlane } from './node/control-plane.js';
export { type Reloadable, type ReloadReport } from './node/reload.js';
export { CREDENTIALS_FILE, ROOT_TENANT, type RootCredentials } from './node/root.js';
export { VERSION } from './node/version.js';

export interface Anvil {
  endpoint: string;
  port: number;
  /** The web console's address (config `console`), or undefined when it is off. */
  consoleUrl?: string;
  root: RootCredentials;
  services: Services;
  /** Console users and their sessions (the admin API's logins). */
  users: UserService;
  sessions: SessionService;
  tasks: TaskQueue;
  core: CoreContext;
  /** What the start-up reconciliation found and did. */
  reconciled: ReconcileReport;
  meta: MetaDatabases;
  /** Admission control's counts (open connections, requests in flight, rejections). */
  admission: AdmissionState;
  /** Prometheus metrics (anvil_rate_limited_total counts the rate limits' refusals). */
  metrics: Metrics;
  /** The request rate limits of this node (core/limits.ts), for tests and the reload. */
  rateLimit: RateLimitGate;
  /** Liveness and readiness (GET /-/health, /-/ready). */
  health: Health;
  /**
   * Applies a new configuration (SIGHUP): what can change live changes now
   * (log level, backends' quotas and limits, and whatever else registered
   * with `reloader`); the report names it, and what needs a restart.
   */
  reload(config: Config): Promise<ReloadReport>;
  /** Where parts that take new settings live register (src/node/reload.ts). */
  reloader: Reloader;
  /**
   * Shuts down in order: readiness turns 503, the server stops accepting and
   * lets requests in flight finish for up to `drainMs` (default 0: cut them
   * at once) or until `cut` aborts, then background work stops, the node
   * lease, the backends, the databases and the folder lock are let go.
   * Each step is logged. Calling it again returns the same shutdown.
   */
  close(opts?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /** How long requests in flight may take to finish before they are cut (ms). */
  drainMs?: number;
  /** Aborting it cuts the requests still in flight at once (a second SIGTERM). */
  cut?: AbortSignal;
}

export interface StartOptions {
  /** Token lifetimes and login throttling (tests shorten them). */
  sessions?: SessionOptions;
  cleanup?: CleanupSettings;
  /** How often background work (cleanup retries) runs. */
  workerIntervalMs?: number;
  /** The change feed's clock and poll interval (tests move the clock forward to test the retention). */
  events?: EventFeedOptions;
}

export async function startAnvil(config: Config, log: Logger = pino({ level: config.logLevel }), opts: StartOptions = {}): Promise<Anvil> {
  const startedAt = Date.now();
  // Before anything touches the data folder or the database: a second server on a live
  // folder stops here, naming the first, and changes nothing.
  const locks = lockDeployment(config, startedAt);
  try {
    return await serve(config, log, opts, startedAt, locks);
  } catch (err) {
    locks.release();
    throw err;
  }
}

async function serve(config: Config, log: Logger, opts: StartOptions, startedAt: number, locks: DeploymentLocks): Promise<Anvil> {
  const plane = await openControlPlane(config, { log, sessions: opts.sessions, create: true });
  const { meta } = plane;
  // What is open so far, closed again if the start fails half-way.
  let node: NodeContext | undefined;
  let nodeLock: Leadership | null = null;
  let stopWork = async () => undefined as void;
  try {
    // Private files (README § Files and secrets): tighten a deployment made before, and warn.
    securePermissions(config, log);
    for (const w of configWarnings(config)) log.warn(w);
    const root = await withClusterLock(meta, LOCKS.ensureRoot, () => ensureRoot(config, plane.tenants));
    node = await assembleNode(config, plane, { role: 'server', log, cleanup: opts.cleanup, events: opts.events });
    const { core, services, tasks } = node;
    // Two processes must never run with one node id: each would take the other's writes in
    // progress for dead ones. On one host the data-folder lock already sees to that; this lease
    // (PostgreSQL, held for the life of the process) covers nodes on different hosts.
    const lease = await tryLead(meta, LOCKS.node(core.nodeId));
    nodeLock = lease;
    if (!lease) {
      throw new Error(
        `another Anvil process is running with node id ${core.nodeId}; give each process sharing a data folder its own ANVIL_NODE_ID`,
      );
    }
    const reconciled = await core.blobs.reconcile();
    const { deadIntents, stagedFilesRemoved, orphanFilesRemoved, missingFiles, cleanupProcessed } = reconciled;
    if (deadIntents || stagedFilesRemoved || orphanFilesRemoved || missingFiles.length || cleanupProcessed) {
      log.info(
        { deadIntents, stagedFilesRemoved, orphanFilesRemoved, missingFiles: missingFiles.length, cleanupProcessed },
        'startup reconciliation',
      );
    }
    const work = startBackgroundWork(node, taskRunner(node, log), log, opts.workerIntervalMs ?? 2000);
    stopWork = work.stop;
    // Ends the admin API's long-lived answers (change feed streams) when shutdown starts.
    const streams = new AbortController();
    const admin = createAdminHandler({ ...node, log, version: VERSION, startedAt, closing: streams.signal });
    const metrics = new Metrics(meta, { space: node.space, backends: backendMetricsView(node), log });
    const health = new Health(readinessChecks(node), { domain: config.domain, log });
    const drainer = new Drainer(log);
    const rateLimit = new RateLimitGate(config, metrics);
    const mounts = config.console ? [admin, createConsoleHandler({ log })] : [admin];
    const server = createS3Server(config, services, log, metrics, mounts, { health, drainer, rateLimit });
    // Caps on connections and requests in flight, in front of every request the server handles (probes and scrapes exempt).
    const admission = new Admission(
      { maxConnections: config.maxConnections, maxRequests: config.maxConcurrentRequests },
      log,
      (req) => isMetricsScrape(req, config.domain) || health.route(req) !== undefined,
    );
    admission.attach(server);
    metrics.watchAdmission(admission);
    const { host, port } = splitListen(config.listen);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const actualPort = (server.address() as AddressInfo).port;
    const hostForUrl = host.includes(':') ? `[${host}]` : host;
    const endpoint = `http://${hostForUrl}:${actualPort}`;
    locks.listening(endpoint);
    const assembled = node;
    let closing: Promise<void> | undefined;
    const shutdown = async ({ drainMs = 0, cut }: CloseOptions) => {
      health.startDraining();
      streams.abort();
      log.info({ inflight: drainer.inflight, timeoutMs: drainMs }, 'shutdown: draining (readiness answers 503, no new connections)');
      const drained = await drainer.drain(server, drainMs, cut);
      log.info(drained, 'shutdown: HTTP server closed');
      await stopWork();
      log.info('shutdown: background work stopped (running tasks released)');
      await lease.release();
      log.info('shutdown: node lease released');
      await assembled.close();
      log.info('shutdown: backends closed');
      await meta.close();
      log.info('shutdown: databases closed');
      // Last: until everything above is closed, the folder is still this server's.
      locks.release();
      log.info('shutdown: data folder lock released');
    };
    const reloader = new Reloader(config);
    reloader.add({ name: 'log level', settings: /^log_level$/, apply: (next) => void (log.level = next.logLevel) });
    reloader.add({
      name: 'backend limits',
      settings: /^backends\.[^.]+\.(quota|max_object_size|monthly(\..+)?)$/,
      apply: (next) => core.blobs.replicas.updateLimits(next.storage),
    });
    reloader.add({ name: 'rate limits', settings: /^rate_limit_/, apply: (next) => rateLimit.update(next) });
    return {
      endpoint,
      port: actualPort,
      consoleUrl: config.console ? `${endpoint}${CONSOLE_PREFIX}` : undefined,
      root,
      services,
      users: plane.users,
      sessions: plane.sessions,
      tasks,
      core,
      reconciled,
      meta,
      admission,
      rateLimit,
      reloader,
      reload: (next) => reloader.reload(next),
      metrics,
      health,
      close(opts = {}) {
        closing ??= shutdown(opts);
        return closing;
      },
    };
  } catch (err) {
    await stopWork();
    await nodeLock?.release();
    await node?.close();
    await meta.close();
    throw err;
  }
}
