/**
 * The backend listing of backend administration (backend-admin.ts): every
 * backend with its quota, stored bytes, replica count, draining flag,
 * health and breaker, this month's counters against its monthly limits,
 * and the latest drain task with the replicas left on it. Backends no
 * longer in the config file but still holding replicas (or accounted
 * bytes) are listed too, as `configured: false`.
 */
import { UNLIMITED } from '../backends/config.js';
import { monthlyRows, tasksOfType, usageRows } from '../meta/blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';
import type { TaskStatus } from '../meta/schema.js';
import { DRAIN_TASK, replicasOn } from './drain.js';
import { currentMonth } from './replicas/accounting.js';
import type { Replicas } from './replicas/replicas.js';

/** A durable task as backend administration sees it (work/tasks.ts keeps them). */
export interface AdminTask {
  id: number;
  type: string;
  payload: string;
  status: TaskStatus;
  attempts: number;
  last_error: string | null;
}

/** The task queue, as far as backend administration uses it (work/tasks.ts TaskQueue). */
export interface AdminTaskQueue {
  enqueue(type: string, payload: unknown): Promise<number>;
  list(status?: TaskStatus): Promise<AdminTask[]>;
  cancel(id: number): Promise<boolean>;
}

/** What backend administration needs: both databases and the replica set. */
export interface BackendAdminDeps {
  meta: MetaDatabases;
  replicas: Replicas;
}

export interface BackendHealthInfo {
  /** null: not checked yet by this process. */
  ok: boolean | null;
  detail: string | null;
  latencyMs: number | null;
  checkedAt: string | null;
  /** Physical space, where the backend can tell (fs). */
  freeBytes: number | null;
  totalBytes: number | null;
}

export interface DrainInfo {
  task: number;
  status: TaskStatus;
  attempts: number;
  lastError: string | null;
  /** Replicas still on the backend (0 once the drain is done). */
  remaining: number;
}

export interface BackendInfo {
  name: string;
  /** null for a backend no longer in the config file. */
  type: 'fs' | 's3' | null;
  /** Declared in this process's config file. */
  configured: boolean;
  /** fs: the folder; s3: s3://bucket/prefix (and the endpoint, if not AWS). Never credentials. */
  location: string | null;
  /** null: unlimited. */
  quotaBytes: number | null;
  usedBytes: number;
  /** Replicas (blob copies) it holds. */
  blobCount: number;
  maxObjectSize: number | null;
  draining: boolean;
  health: BackendHealthInfo;
  breaker: 'closed' | 'open' | 'half-open' | null;
  monthly: {
    month: string;
    requests: number;
    ingressBytes: number;
    egressBytes: number;
    /** null fields: no limit. */
    limits: { requests: number | null; ingressBytes: number | null; egressBytes: number | null };
  };
  /** The latest drain task of this backend, if any. */
  drain: DrainInfo | null;
}

export interface BackendList {
  placement: 'pack' | 'spread';
  defaultReplication: number;
  backends: BackendInfo[];
}

/** How a drain task's payload names its backend. */
export function drainTarget(task: { payload: string }): string | undefined {
  try {
    const p = JSON.parse(task.payload) as { backend?: unknown };
    return typeof p.backend === 'string' ? p.backend : undefined;
  } catch {
    return undefined; // a payload that is not JSON names no backend
  }
}

/** Drain tasks, newest first (of one backend, in these statuses, when given). */
export async function drainTasks(ctx: BackendAdminDeps, backend?: string, statuses?: TaskStatus[]): Promise<AdminTask[]> {
  const rows = (await tasksOfType(ctx.meta.control, DRAIN_TASK, statuses)).map((t) => ({ ...t, id: Number(t.id) }));
  return backend === undefined ? rows : rows.filter((t) => drainTarget(t) === backend);
}

function limit(n: number | undefined): number | null {
  return n === undefined ? null : n;
}

/** Every backend: the configured ones in declared order, then the ones only the metadata still knows. */
export async function listBackends(ctx: BackendAdminDeps, opts: { checkHealth?: boolean } = {}): Promise<BackendList> {
  const r = ctx.replicas;
  if (opts.checkHealth) await r.checkHealth();
  // This process's counts since the last flush go to the table first, so the table is the whole story.
  await r
    .flushMonthly()
    .catch((err: unknown) => r.log?.warn({ err }, 'flushing monthly counters failed; the listing shows the table as it is'));
  await r.loadStates();
  const month = currentMonth();
  const usage = new Map((await usageRows(ctx.meta.data)).map((u) => [u.backend, u]));
  const monthly = await monthlyRows(ctx.meta.data, month);
  const latestDrain = new Map<string, AdminTask>();
  for (const t of await drainTasks(ctx)) {
    const name = drainTarget(t);
    if (name !== undefined && !latestDrain.has(name)) latestDrain.set(name, t);
  }
  const names = [...r.decls.keys()];
  // A backend gone from the config file is listed while the metadata still counts something on it.
  for (const [name, u] of [...usage].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!r.decls.has(name) && (u.blobCount > 0 || u.storedBytes > 0)) names.push(name);
  }

  const out: BackendInfo[] = [];
  for (const name of names) {
    const decl = r.decls.get(name);
    const guarded = r.backends.get(name);
    const u = usage.get(name);
    const m = monthly.get(name);
    const h = guarded?.lastHealth;
    const task = latestDrain.get(name);
    const draining = r.draining.has(name);
    out.push({
      name,
      type: decl?.type ?? null,
      configured: decl !== undefined,
      location: !decl
        ? null
        : decl.type === 'fs'
          ? decl.path
          : `s3://${decl.bucket}/${decl.prefix}${decl.endpoint ? ` at ${decl.endpoint}` : ''}`,
      quotaBytes: !decl || decl.quotaBytes >= UNLIMITED ? null : decl.quotaBytes,
      usedBytes: u?.storedBytes ?? 0,
      blobCount: u?.blobCount ?? 0,
      maxObjectSize: decl?.maxObjectSize ?? null,
      draining,
      health: {
        ok: h ? h.ok : null,
        detail: h?.detail ?? null,
        latencyMs: h ? h.latencyMs : null,
        checkedAt: h ? new Date(h.at).toISOString() : null,
        freeBytes: h?.capacity?.freeBytes ?? null,
        totalBytes: h?.capacity?.totalBytes ?? null,
      },
      breaker: guarded?.breaker.state ?? null,
      monthly: {
        month,
        requests: m?.requests ?? 0,
        ingressBytes: m?.ingressBytes ?? 0,
        egressBytes: m?.egressBytes ?? 0,
        limits: {
          requests: limit(decl?.monthly?.requests),
          ingressBytes: limit(decl?.monthly?.ingressBytes),
          egressBytes: limit(decl?.monthly?.egressBytes),
        },
      },
      drain: task
        ? {
            task: task.id,
            status: task.status,
            attempts: task.attempts,
            lastError: task.last_error,
            remaining: await replicasOn(ctx, name),
          }
        : null,
    });
  }
  return { placement: r.strategy, defaultReplication: r.defaultFactor, backends: out };
}
