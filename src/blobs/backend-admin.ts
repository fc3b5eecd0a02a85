/**
 * What operators do with storage backends, shared by the admin API
 * (admin/backends.ts) and `anvil admin backend …` against the database
 * (cli/admin.ts):
 *
 * - list: every backend with its state and counters (backend-list.ts).
 * - drain: marks the backend draining (no new blobs, on every node at its
 *   next worker tick) and enqueues the `drain-backend` task (blobs/drain.ts)
 *   unless one is already pending or running for it. The replicas left on
 *   it are the progress.
 * - undrain: clears the flag and cancels a drain not yet finished (replicas
 *   already moved stay where they are).
 * - remove: forgets a backend. Refused while replicas remain on it, unless
 *   forced: then, in one data-plane transaction, its blob_locations rows and
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
import { AnvilError } from '../errors.js';
import {
  backendStateExists,
  deleteBackendState,
  deleteUsage,
  forgetReplicasOn,
  highestBucketReplication,
  highestReplicationOn,
  setBucketReplicationRow,
  usageRowExists,
} from '../meta/blobs/index.js';
import { withTransaction } from '../meta/engine.js';
import {
  type AdminTaskQueue,
  type BackendAdminDeps,
  type BackendInfo,
  type BackendList,
  drainTasks,
  listBackends,
} from './backend-list.js';
import { DRAIN_TASK, replicasOn, setDraining } from './drain.js';
import { REBALANCE_TASK } from './rebalance.js';

export type * from './backend-list.js';

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

const notFound = (message: string) => new AnvilError('NotFound', 'NoSuchBackend', message);
const conflict = (message: string) => new AnvilError('Conflict', 'BackendInUse', message);
const invalid = (message: string) => new AnvilError('Invalid', 'InvalidArgument', message);

export class BackendAdmin {
  constructor(
    private readonly ctx: BackendAdminDeps,
    private readonly tasks: AdminTaskQueue,
  ) {}

  private get replicas() {
    return this.ctx.replicas;
  }

  /** Every backend: the configured ones in declared order, then the ones only the metadata still knows. */
  list(opts: { checkHealth?: boolean } = {}): Promise<BackendList> {
    return listBackends(this.ctx, opts);
  }

  async get(name: string): Promise<BackendInfo> {
    const found = (await this.list()).backends.find((b) => b.name === name);
    if (!found) throw notFound(`no backend named ${name}`);
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
      throw notFound(
        held > 0
          ? `backend ${name} is not in the config file, so its replicas cannot be read to move them: add it back and drain, or remove it with force (the scrub re-replicates from the other replicas)`
          : `no backend named ${name} in the config file`,
      );
    }
    await this.checkOthersSuffice(name, 'draining');
    await setDraining(this.ctx, name, true);
    const [active] = await drainTasks(this.ctx, name, ['pending', 'running']);
    const task = active ? Number(active.id) : await this.tasks.enqueue(DRAIN_TASK, { backend: name });
    return { backend: name, draining: true, task, enqueued: !active, remaining: await replicasOn(this.ctx, name) };
  }

  /** Makes sure a rebalance task will even out the backends' fill ratios (blobs/rebalance.ts). */
  async rebalance(tolerance = 0.05): Promise<RebalanceResult> {
    if (!(tolerance >= 0 && tolerance < 1)) throw invalid('tolerance must be at least 0 and below 1');
    const active = (await this.tasks.list('pending')).concat(await this.tasks.list('running')).find((t) => t.type === REBALANCE_TASK);
    const task = active ? Number(active.id) : await this.tasks.enqueue(REBALANCE_TASK, { tolerance });
    return { task, enqueued: !active, tolerance };
  }

  /** Takes new blobs again; a drain not yet finished is cancelled. */
  async undrain(name: string): Promise<UndrainResult> {
    if (!this.replicas.decls.has(name)) throw notFound(`no backend named ${name} in the config file`);
    const cancelled = await this.cancelDrains(name);
    await setDraining(this.ctx, name, false);
    return { backend: name, draining: false, cancelledTasks: cancelled, remaining: await replicasOn(this.ctx, name) };
  }

  /** Forgets a backend; see the header. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    const { kind, data, control } = this.ctx.meta;
    const configured = this.replicas.decls.has(name);
    const known =
      configured ||
      (await usageRowExists(data, name)) ||
      (await backendStateExists(control, name)) ||
      (await replicasOn(this.ctx, name)) > 0;
    if (!known) throw notFound(`no backend named ${name}`);

    const held = await replicasOn(this.ctx, name);
    if (held > 0 && !opts.force) {
      const [active] = await drainTasks(this.ctx, name, ['pending', 'running']);
      throw conflict(
        `${held} replica${held === 1 ? '' : 's'} remain${held === 1 ? 's' : ''} on backend ${name}: ` +
          (active
            ? `a drain is moving them (task ${active.id}); remove it once it is done, `
            : `drain it first (anvil admin backend drain ${name}), `) +
          'or remove with force to forget them (the scrub re-replicates blobs that have other replicas; blobs that have none are lost)',
      );
    }
    // A configured backend must take no new blobs from now on (every node reloads the flag at its next tick).
    if (configured && !opts.force) await this.checkOthersSuffice(name, 'removing');
    if (configured) await setDraining(this.ctx, name, true);
    const cancelled = await this.cancelDrains(name);

    const { forgotten, lost } = await withTransaction(kind, data, async (trx) => {
      const result = await forgetReplicasOn(trx, name);
      // Last: backend_usage rows are the last rows any transaction locks (see Accounting.account).
      await deleteUsage(trx, name);
      return result;
    });
    await this.replicas.refreshUsage();
    if (!configured) {
      await deleteBackendState(control, name);
      await this.replicas.loadStates();
    }

    const parts: string[] = [];
    if (forgotten > 0) {
      parts.push(
        `forgot ${forgotten} replica${forgotten === 1 ? '' : 's'} on ${name} (its files were left in place); the scrub re-replicates the blobs now short of their replication`,
      );
      if (lost > 0)
        parts.push(
          `${lost} blob${lost === 1 ? '' : 's'} had no other good replica and ${lost === 1 ? 'is' : 'are'} lost (anvil admin scrub status lists them once scrubbed)`,
        );
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
      throw conflict(
        `${doing} ${name} would leave ${left} backend${left === 1 ? '' : 's'} taking new blobs, fewer than the replication of ${needed} ` +
          `(the default, a bucket's, or one of its blobs'): add a backend first`,
      );
    }
  }

  /**
   * The most replicas a blob may need: the default, a bucket's own, or that
   * of a blob on `backend` (a blob keeps the replication it was written with,
   * whatever its bucket says now). A drain cannot finish with fewer backends.
   */
  private async highestReplication(backend: string): Promise<number> {
    const buckets = await highestBucketReplication(this.ctx.meta.control);
    const blobs = await highestReplicationOn(this.ctx.meta.data, backend);
    return Math.max(1, this.replicas.defaultFactor, buckets, blobs);
  }

  private async cancelDrains(name: string): Promise<number[]> {
    const cancelled: number[] = [];
    for (const t of await drainTasks(this.ctx, name, ['pending', 'running', 'failed'])) {
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
export async function setBucketReplication(ctx: BackendAdminDeps, bucketId: string, replication: number | null): Promise<void> {
  const max = ctx.replicas.decls.size;
  if (replication !== null && (!Number.isInteger(replication) || replication < 1 || replication > max)) {
    throw invalid(
      `replication must be an integer from 1 to ${max} (the backends configured), or null for the default (${ctx.replicas.defaultFactor})`,
    );
  }
  await setBucketReplicationRow(ctx.meta.control, bucketId, replication);
}
