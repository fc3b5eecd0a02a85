/**
 * Health endpoints for load balancers and orchestrators, on the S3 port,
 * unauthenticated, path-style only (README § Operations › Health):
 *
 *   GET|HEAD /-/health  (alias /healthz)   liveness: the process serves HTTP; always 200
 *   GET|HEAD /-/ready   (alias /readyz)    readiness: 200 when every check passes, 503
 *                                          with {status, checks, reason} otherwise, and
 *                                          503 "draining" once shutdown has started
 *
 * "-" cannot start a bucket name, so /-/… never shadows a bucket. The short
 * aliases are bucket names, so they answer only a GET or HEAD with no query
 * and no Authorization header (a probe); any other request to /healthz is
 * the S3 request it looks like.
 *
 * The checks (database reachable and migrated, data folder writable,
 * backends healthy) are supplied by the assembly (app.ts). They run at most
 * once per cacheMs whatever the probe rate, each bounded by timeoutMs, and
 * answer only short codes: the body is public, so paths and messages go to
 * the log (on every change of state), not to the probe.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';

import type { Logger } from 'pino';

import { isVirtualHostRequest } from '../s3/request.js';
import { Cached } from './cached.js';

export interface CheckResult {
  ok: boolean;
  /** A short, public reason (an error code, a count): never a path or a secret. */
  detail?: string;
  [extra: string]: unknown;
}

export interface ReadinessCheck {
  name: string;
  run(): Promise<CheckResult>;
}

export type ReadyStatus = 'ready' | 'not ready' | 'draining';

export interface Readiness {
  status: ReadyStatus;
  checks: Record<string, CheckResult>;
  /** What failed, one "check: detail" per failed check; absent when ready. */
  reason?: string;
}

export interface HealthOptions {
  /** Base domain of virtual-host-style requests: their paths are keys, never health endpoints. */
  domain: string;
  /** A readiness answer is reused this long (default 1 s). */
  cacheMs?: number;
  /** A check that has not answered by then fails (default 2 s). */
  timeoutMs?: number;
  log?: Logger;
}

export type HealthRoute = 'live' | 'ready';

const PATHS: Record<string, HealthRoute> = { '/-/health': 'live', '/-/ready': 'ready' };
const ALIASES: Record<string, HealthRoute> = { '/healthz': 'live', '/readyz': 'ready' };

export class Health {
  private draining = false;
  private readonly startedAt = Date.now();
  private readonly cached: Cached<Readiness>;
  private lastStatus: ReadyStatus | undefined;

  constructor(
    private readonly checks: ReadinessCheck[],
    private readonly opts: HealthOptions,
  ) {
    this.cached = new Cached(() => this.runChecks(), opts.cacheMs ?? 1000);
  }

  /** From now on readiness answers 503 "draining" (shutdown has started); liveness stays 200. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Which endpoint a request is for, or undefined when it is an S3 (or admin) request. */
  route(req: http.IncomingMessage): HealthRoute | undefined {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const p = q >= 0 ? url.slice(0, q) : url;
    const named = PATHS[p] ?? (q < 0 && req.headers.authorization === undefined ? ALIASES[p] : undefined);
    if (!named || (req.method !== 'GET' && req.method !== 'HEAD')) return undefined;
    return isVirtualHostRequest(req, this.opts.domain) ? undefined : named;
  }

  liveness(): { status: 'ok'; draining: boolean; uptimeSeconds: number } {
    return { status: 'ok', draining: this.draining, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) };
  }

  async readiness(): Promise<Readiness> {
    if (this.draining) return { status: 'draining', checks: {}, reason: 'shutting down: finishing the requests in flight' };
    return (await this.cached.get())!;
  }

  /** Answers a health request (see route()); resolves once the answer is sent. */
  async serve(route: HealthRoute, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const answer = route === 'live' ? this.liveness() : await this.readiness();
    const status = route === 'live' || (answer as Readiness).status === 'ready' ? 200 : 503;
    const body = Buffer.from(JSON.stringify(answer));
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async runChecks(): Promise<Readiness> {
    const timeoutMs = this.opts.timeoutMs ?? 2000;
    const results = await Promise.all(this.checks.map(async (c) => [c.name, await runBounded(c, timeoutMs, this.opts.log)] as const));
    const checks = Object.fromEntries(results);
    const failed = results.filter(([, r]) => !r.ok);
    const readiness: Readiness = failed.length
      ? { status: 'not ready', checks, reason: failed.map(([name, r]) => `${name}: ${r.detail ?? 'failed'}`).join('; ') }
      : { status: 'ready', checks };
    if (readiness.status !== this.lastStatus && !this.draining) {
      if (readiness.status === 'ready') this.opts.log?.info({ checks }, 'ready');
      else this.opts.log?.warn({ checks, reason: readiness.reason }, 'not ready: /-/ready answers 503');
      this.lastStatus = readiness.status;
    }
    return readiness;
  }
}

/** Runs one check: a throw or no answer within timeoutMs is a failure (with the full error in the log only). */
async function runBounded(check: ReadinessCheck, timeoutMs: number, log?: Logger): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const result = await Promise.race([
    check.run().catch((err: unknown): CheckResult => {
      log?.warn({ err, check: check.name }, 'readiness check failed');
      return { ok: false, detail: errorCode(err) };
    }),
    timeout,
  ]);
  clearTimeout(timer);
  return { ...result, ms: Math.round((performance.now() - started) * 10) / 10 };
}

/** A short public name for an error: its code (ENOENT, ECONNREFUSED, a PostgreSQL SQLSTATE) or its class. */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return err instanceof Error ? err.name : 'error';
}

// ---- the checks the assembly puts together ----

/** The database answers and has every migration this build knows (`pending` reads the migration table). */
export function databaseCheck(name: string, pending: () => Promise<string[]>): ReadinessCheck {
  return {
    name,
    async run() {
      const missing = await pending();
      return missing.length ? { ok: false, detail: `${missing.length} migration(s) not applied: ${missing.join(', ')}` } : { ok: true };
    },
  };
}

/**
 * A folder takes a file: a tiny probe file is written, fsynced and removed
 * (the readiness cache makes that at most one per second). A full disk is
 * not a failure: reads still work and writes are refused cleanly (507), so
 * taking the node out of a load balancer would only turn a partial outage
 * into a whole one; it shows as detail "full".
 */
export function folderCheck(name: string, dir: string): ReadinessCheck {
  return {
    name,
    async run() {
      const probe = path.join(dir, `.ready-probe-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
      try {
        const fh = await fsp.open(probe, 'wx');
        try {
          await fh.writeFile('ok');
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOSPC' || code === 'EDQUOT') return { ok: true, detail: 'full' };
        throw err;
      } finally {
        await fsp.rm(probe, { force: true });
      }
      return { ok: true };
    },
  };
}

/** What the backends check reads of each backend (blobs' Replicas.states()). */
export interface BackendView {
  name: string;
  /** Last health check passed (absent: not checked yet). */
  healthy?: boolean;
  breaker?: 'closed' | 'open' | 'half-open';
  draining?: boolean;
}

/**
 * At least `needed` backends (the default replication) are healthy: breaker
 * closed and last health check not failed. Draining backends count (they
 * serve reads; a drain is the operator's choice, not a fault).
 */
export function backendsCheck(name: string, backends: () => BackendView[], needed: number): ReadinessCheck {
  return {
    name,
    async run() {
      const all = backends();
      const healthy = all.filter((b) => (b.breaker ?? 'closed') === 'closed' && b.healthy !== false);
      const sick = all
        .filter((b) => !healthy.includes(b))
        .map((b) => `${b.name} (${b.breaker === 'closed' ? 'health check failing' : `breaker ${b.breaker}`})`);
      const ok = healthy.length >= needed;
      return {
        ok,
        healthy: healthy.length,
        needed,
        ...(sick.length ? { detail: `${healthy.length} of ${needed} needed healthy; not healthy: ${sick.join(', ')}` } : {}),
      };
    },
  };
}
