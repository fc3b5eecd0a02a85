/**
 * What operators do with storage backends, shared by the admin API
 * (admin/backends.ts) and `anvil admin backend …` against the database
 * (cli/admin.ts):
 *
 * - list: every backend with its quota, stored bytes, replica count,
 *   draining flag, health and breaker, this month's counters against its
 *   monthly limits, and the latest drain task with the replicas left on it.
 *   Backends no longer in the config file but still holding replicas (or
 *   accounted bytes) are listed too, as `configured: false`.
 * - drain: marks the backend draining (no new blobs, on every node at its
 *   next worker tick) and enqueues the `drain-backend` task (blobs/drain.ts)
 *   unless one is already pending or running for it. The replicas left on
 *   it are the progress.
 * - undrain: clears the flag and cancels a drain not yet finished (replicas
 *   already moved stay where they are).
 * - remove: forgets a backend. Refused while replicas remain on it, unless
 *   forced: then, in one regional transaction, its blob_locations rows and
 *   its backend_usage row are deleted, and the scrub later re-replicates the
 *   blobs now short of their replication (Scrubber.verifyAndRepair). A blob
 *   whose only good replica was there is lost; the scrub marks it corrupt.
 *   The files on the backend are left as they are. A backend still declared
 *   in the config file stays declared until the operator deletes it there;
 *   it is marked draining so it takes no new blobs meanwhile.
 *
 * Setting a bucket's replication (admin/buckets.ts, `anvil admin bucket
 * set-replication`) is here as well: it is bounded by the backends
 * configured.
 */
import { REBALANCE_TASK } from './rebalance.js';
import type { CoreContext } from '../core/context.js';
import { AdminError } from '../core/tenants.js';
import { withTransaction } from '../meta/engine.js';
import type { TaskStatus } from '../meta/schema.js';
import { UNLIMITED } from '../backends/config.js';
import { currentMonth, LOCATION_OK } from './replicas/replicas.js';
import { DRAIN_TASK, replicasOn, setDraining } from './drain.js';
import type { Task, TaskQueue } from '../work/tasks.js';

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

export interface DrainResult {
  backend: string;
  draining: true;
  /** The drain task (a new one, or the one already pending or running). */
  task: number;
  /** False when a pending or running drain task was found and reused. */
  enqueued: boolean;
  remaining: number;
}

export interface RebalanceResult {
  task: number;
  enqueued: boolean;
  tolerance: number;
}

export interface UndrainResult {
  backend: string;
  draining: false;
  /** Drain tasks cancelled. */
  cancelledTasks: number[];
  remaining: number;
}

export interface RemoveResult {
  backend: string;
  removed: true;
  /** Replicas forgotten (force); 0 when it held none. */
  forgottenReplicas: number;
  /** Blobs whose only good replica was on it: lost (the scrub marks them corrupt). */
  lostBlobs: number;
  /** Still declared in the config file: marked draining until deleted there. */
  stillConfigured: boolean;
  cancelledTasks: number[];
  /** What the operator still has to do, in words. */
  note: string;
}

/** How a drain task's payload names its backend. */
function drainTarget(task: Task): string | undefined {
  try {
    const p = JSON.parse(task.payload) as { backend?: unknown };
    return typeof p.backend === 'string' ? p.backend : undefined;
  } catch {
    return undefined;
  }
}

function limit(n: number | undefined): number | null {
  return n === undefined ? null : n;
}

export class BackendAdmin {
  constructor(
    private readonly ctx: CoreContext,
    private readonly tasks: TaskQueue,
  ) {}

  private get replicas() {
    return this.ctx.replicas;
  }

  /** Drain tasks, newest first. */
  private async drainTasks(backend?: string, statuses?: TaskStatus[]): Promise<Task[]> {
    let q = this.ctx.meta.control.selectFrom('tasks').selectAll().where('type', '=', DRAIN_TASK).orderBy('id', 'desc');
    if (statuses) q = q.where('status', 'in', statuses);
    const rows = await q.limit(1000).execute();
    return backend === undefined ? rows : rows.filter((t) => drainTarget(t) === backend);
  }

  /** Every backend: the configured ones in declared order, then the ones only the metadata still knows. */
  async list(opts: { checkHealth?: boolean } = {}): Promise<BackendList> {
    const r = this.replicas;
    if (opts.checkHealth) await r.checkHealth();
    // This process's counts since the last flush go to the table first, so the table is the whole story.
    await r.flushMonthly().catch(() => undefined);
    await r.loadStates();
    const { data: regional } = this.ctx.meta;
    const month = currentMonth();
    const usage = new Map((await regional.selectFrom('backend_usage').selectAll().execute()).map((u) => [u.backend, u]));
    const monthly = new Map(
      (await regional.selectFrom('backend_monthly').selectAll().where('month', '=', month).execute()).map((m) => [m.backend, m]),
    );
    const latestDrain = new Map<string, Task>();
    for (const t of await this.drainTasks()) {
      const name = drainTarget(t);
      if (name !== undefined && !latestDrain.has(name)) latestDrain.set(name, t);
    }
    const names = [...r.decls.keys()];
    // A backend gone from the config file is listed while the metadata still counts something on it.
    for (const [name, u] of [...usage].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!r.decls.has(name) && (Number(u.blob_count) > 0 || Number(u.stored_bytes) > 0)) names.push(name);
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
        usedBytes: Number(u?.stored_bytes ?? 0),
        blobCount: Number(u?.blob_count ?? 0),
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
          requests: Number(m?.requests ?? 0),
          ingressBytes: Number(m?.ingress_bytes ?? 0),
          egressBytes: Number(m?.egress_bytes ?? 0),
          limits: { requests: limit(decl?.monthly?.requests), ingressBytes: limit(decl?.monthly?.ingressBytes), egressBytes: limit(decl?.monthly?.egressBytes) },
        },
        drain: task
          ? { task: Number(task.id), status: task.status, attempts: task.attempts, lastError: task.last_error, remaining: await replicasOn(this.ctx, name) }
          : null,
      });
    }
    return { placement: r.strategy, defaultReplication: r.defaultFactor, backends: out };
  }

  async get(name: string): Promise<BackendInfo> {
    const found = (await this.list()).backends.find((b) => b.name === name);
    if (!found) throw new AdminError(`no backend named ${name}`, 'not-found');
    return found;
  }

  /**
   * Marks the backend draining and makes sure a drain task will move its
   * replicas. Refused when the backends left taking new blobs could not hold
   * the replicas the buckets ask for.
   */
  async drain(name: string): Promise<DrainResult> {
    const r = this.replicas;
    if (!r.decls.has(name)) {
      const held = await replicasOn(this.ctx, name);
      throw new AdminError(
        held > 0
          ? `backend ${name} is not in the config file, so its replicas cannot be read to move them: add it back and drain, or remove it with force (the scrub re-replicates from the other replicas)`
          : `no backend named ${name} in the config file`,
        'not-found',
      );
    }
    await this.checkOthersSuffice(name, 'draining');
    await setDraining(this.ctx, name, true);
    const [active] = await this.drainTasks(name, ['pending', 'running']);
    const task = active ? Number(active.id) : await this.tasks.enqueue(DRAIN_TASK, { backend: name });
    return { backend: name, draining: true, task, enqueued: !active, remaining: await replicasOn(this.ctx, name) };
  }

  /** Makes sure a rebalance task will even out the backends' fill ratios (blobs/rebalance.ts). */
  async rebalance(tolerance = 0.05): Promise<RebalanceResult> {
    if (!(tolerance >= 0 && tolerance < 1)) throw new AdminError('tolerance must be at least 0 and below 1', 'invalid');
    const active = (await this.tasks.list('pending')).concat(await this.tasks.list('running')).find((t) => t.type === REBALANCE_TASK);
    const task = active ? Number(active.id) : await this.tasks.enqueue(REBALANCE_TASK, { tolerance });
    return { task, enqueued: !active, tolerance };
  }

  /** Takes new blobs again; a drain not yet finished is cancelled. */
  async undrain(name: string): Promise<UndrainResult> {
    if (!this.replicas.decls.has(name)) throw new AdminError(`no backend named ${name} in the config file`, 'not-found');
    const cancelled = await this.cancelDrains(name);
    await setDraining(this.ctx, name, false);
    return { backend: name, draining: false, cancelledTasks: cancelled, remaining: await replicasOn(this.ctx, name) };
  }

  /** Forgets a backend; see the header. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    const { kind, data: regional, control: global } = this.ctx.meta;
    const configured = this.replicas.decls.has(name);
    const known =
      configured ||
      (await regional.selectFrom('backend_usage').select('backend').where('backend', '=', name).executeTakeFirst()) !== undefined ||
      (await global.selectFrom('backend_states').select('name').where('name', '=', name).executeTakeFirst()) !== undefined ||
      (await replicasOn(this.ctx, name)) > 0;
    if (!known) throw new AdminError(`no backend named ${name}`, 'not-found');

    const held = await replicasOn(this.ctx, name);
    if (held > 0 && !opts.force) {
      const [active] = await this.drainTasks(name, ['pending', 'running']);
      throw new AdminError(
        `${held} replica${held === 1 ? '' : 's'} remain${held === 1 ? 's' : ''} on backend ${name}: ` +
          (active ? `a drain is moving them (task ${active.id}); remove it once it is done, ` : `drain it first (anvil admin backend drain ${name}), `) +
          'or remove with force to forget them (the scrub re-replicates blobs that have other replicas; blobs that have none are lost)',
        'conflict',
      );
    }
    // A configured backend must take no new blobs from now on (every node reloads the flag at its next tick).
    if (configured && !opts.force) await this.checkOthersSuffice(name, 'removing');
    if (configured) await setDraining(this.ctx, name, true);
    const cancelled = await this.cancelDrains(name);

    const { forgotten, lost } = await withTransaction(kind, regional, async (trx) => {
      const lostRow = await trx
        .selectFrom('blob_locations as l')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('l.backend', '=', name)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('blob_locations as o')
                .select('o.backend')
                .whereRef('o.tenant_id', '=', 'l.tenant_id')
                .whereRef('o.hash', '=', 'l.hash')
                .where('o.backend', '<>', name)
                .where('o.state', '=', LOCATION_OK),
            ),
          ),
        )
        .executeTakeFirstOrThrow();
      const res = await trx.deleteFrom('blob_locations').where('backend', '=', name).executeTakeFirst();
      // Last: backend_usage rows are the last rows any transaction locks (see Replicas.account).
      await trx.deleteFrom('backend_usage').where('backend', '=', name).execute();
      return { forgotten: Number(res.numDeletedRows), lost: Number(lostRow.n) };
    });
    await this.replicas.refreshUsage();
    if (!configured) {
      await global.deleteFrom('backend_states').where('name', '=', name).execute();
      await this.replicas.loadStates();
    }

    const parts: string[] = [];
    if (forgotten > 0) {
      parts.push(`forgot ${forgotten} replica${forgotten === 1 ? '' : 's'} on ${name} (its files were left in place); the scrub re-replicates the blobs now short of their replication`);
      if (lost > 0) parts.push(`${lost} blob${lost === 1 ? '' : 's'} had no other good replica and ${lost === 1 ? 'is' : 'are'} lost (anvil admin scrub status lists them once scrubbed)`);
    }
    if (configured) {
      parts.push(
        `${name} is still in the config file: it is marked draining and takes no new blobs; delete it from the config file and restart the servers to finish ` +
          `(a backend added back later under this name starts out draining: anvil admin backend undrain ${name})`,
      );
    }
    return {
      backend: name,
      removed: true,
      forgottenReplicas: forgotten,
      lostBlobs: lost,
      stillConfigured: configured,
      cancelledTasks: cancelled,
      note: parts.length > 0 ? parts.join('; ') : `forgot backend ${name}`,
    };
  }

  /**
   * Refuses to stop placing blobs on a configured backend when the backends
   * left taking new blobs are fewer than the replication some blob needs.
   */
  private async checkOthersSuffice(name: string, doing: 'draining' | 'removing'): Promise<void> {
    const r = this.replicas;
    await r.loadStates();
    if (!r.decls.has(name) || r.draining.has(name)) return;
    const left = [...r.decls.keys()].filter((n) => n !== name && !r.draining.has(n)).length;
    const needed = await this.highestReplication(name);
    if (left < needed) {
      throw new AdminError(
        `${doing} ${name} would leave ${left} backend${left === 1 ? '' : 's'} taking new blobs, fewer than the replication of ${needed} ` +
          `(the default, a bucket's, or one of its blobs'): add a backend first`,
        'conflict',
      );
    }
  }

  /**
   * The most replicas a blob may need: the default, a bucket's own, or that
   * of a blob on `backend` (a blob keeps the replication it was written with,
   * whatever its bucket says now). A drain cannot finish with fewer backends.
   */
  private async highestReplication(backend: string): Promise<number> {
    const buckets = await this.ctx.meta.control
      .selectFrom('buckets')
      .select((eb) => eb.fn.max<number | null>('replication').as('m'))
      .executeTakeFirst();
    const blobs = await this.ctx.meta.data
      .selectFrom('blob_locations as l')
      .innerJoin('blobs as b', (j) => j.onRef('b.tenant_id', '=', 'l.tenant_id').onRef('b.hash', '=', 'l.hash'))
      .select((eb) => eb.fn.max<number | null>('b.replication').as('m'))
      .where('l.backend', '=', backend)
      .executeTakeFirst();
    return Math.max(1, this.replicas.defaultFactor, Number(buckets?.m ?? 0), Number(blobs?.m ?? 0));
  }

  private async cancelDrains(name: string): Promise<number[]> {
    const cancelled: number[] = [];
    for (const t of await this.drainTasks(name, ['pending', 'running', 'failed'])) {
      if (await this.tasks.cancel(Number(t.id))) cancelled.push(Number(t.id));
    }
    return cancelled;
  }
}

/**
 * Sets a bucket's replication: an integer from 1 to the number of configured
 * backends, or null for the configured default. Applies to blobs written
 * from now on (a blob keeps the highest replication any write asked of it).
 */
export async function setBucketReplication(ctx: CoreContext, bucketId: string, replication: number | null): Promise<void> {
  const max = ctx.replicas.decls.size;
  if (replication !== null && (!Number.isInteger(replication) || replication < 1 || replication > max)) {
    throw new AdminError(
      `replication must be an integer from 1 to ${max} (the backends configured), or null for the default (${ctx.replicas.defaultFactor})`,
      'invalid',
    );
  }
  await ctx.meta.control.updateTable('buckets').set({ replication }).where('id', '=', bucketId).execute();
}
