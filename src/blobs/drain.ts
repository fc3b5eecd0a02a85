/**
 * Draining a backend: every replica it holds moves elsewhere, so it can be
 * removed. Runs as the durable task `drain-backend`; the set of replicas
 * still on the backend (blob_locations) is the progress, so a restart (or
 * a lost lease) simply resumes with what is left.
 *
 * Per blob: if the other good replicas already reach the blob's
 * replication, the drained one is just forgotten; otherwise placement
 * (which skips draining backends) picks the missing ones, the stored bytes
 * are copied as they are (ciphertext stays ciphertext) and checked, and one
 * transaction adds the new locations and forgets the drained one. Only then
 * is the drained replica deleted.
 */
import type { Logger } from 'pino';

import { countReplicasOn, deleteLocations, replicasOn as firstReplicasOn, setBackendDraining } from '../meta/blobs/index.js';
import { type MetaDatabases, withTransaction } from '../meta/engine.js';
import { LOCATION_OK, storedSizeOf } from './address.js';
import { commitMove, copyVerified, type ReplicaChecker } from './moves.js';
import type { Replicas } from './replicas/replicas.js';

/** The task type of a drain (payload: { backend }). */
export const DRAIN_TASK = 'drain-backend';

/** What draining needs: both databases (the flag lives in the control one) and the replicas. */
export interface DrainDeps {
  meta: MetaDatabases;
  replicas: Replicas;
}

export interface DrainProgress {
  backend: string;
  moved: number;
  remaining: number;
}

/** Marks a backend as draining (no new blobs) or not, in the control database. */
export async function setDraining(ctx: DrainDeps, backend: string, draining: boolean): Promise<void> {
  await withTransaction(ctx.meta.kind, ctx.meta.control, (trx) => setBackendDraining(trx, backend, draining));
  await ctx.replicas.loadStates();
}

/** Replicas still on a backend. */
export function replicasOn(ctx: { meta: MetaDatabases }, backend: string): Promise<number> {
  return countReplicasOn(ctx.meta.data, backend);
}

export async function drainBackend(
  ctx: DrainDeps,
  scrubber: ReplicaChecker,
  backend: string,
  signal?: AbortSignal,
  log?: Logger,
  onProgress?: (done: number, total: number) => void,
): Promise<DrainProgress> {
  const replicas = ctx.replicas;
  const db = ctx.meta.data;
  if (!replicas.backends.has(backend)) throw new Error(`backend ${backend} is not configured`);
  await replicas.loadStates();
  if (!replicas.draining.has(backend)) throw new Error(`backend ${backend} is not marked draining`);
  let moved = 0;
  // Replicas handled of those there were at the start (what this attempt has to do).
  let handled = 0;
  const total = onProgress ? await countReplicasOn(db, backend) : 0;
  for (;;) {
    signal?.throwIfAborted();
    onProgress?.(handled, Math.max(total, handled));
    const rows = await firstReplicasOn(db, backend, 100);
    if (rows.length === 0) break;
    let progress = 0;
    for (const r of rows) {
      signal?.throwIfAborted();
      const blob = (await replicas.lookup(db, r.tenantId, [r.hash])).get(r.hash);
      if (!blob) {
        // A location whose blob row is gone (collected meanwhile): nothing to move.
        await deleteLocations(db, r.tenantId, r.hash, [backend]);
        progress++;
        continue;
      }
      const want = blob.replication;
      const others = blob.locations.filter((l) => l.backend !== backend && l.state === LOCATION_OK).map((l) => l.backend);
      const need = Math.max(0, want - others.length);
      const bytes = storedSizeOf(blob);
      const targets =
        need > 0
          ? await replicas.place(
              bytes,
              need,
              blob.locations.map((l) => l.backend),
            )
          : [];
      // From a good replica elsewhere if there is one, else from the drained backend itself.
      await copyVerified(replicas, scrubber, blob, others[0] ?? backend, targets, log);
      if (!(await commitMove(replicas, blob, targets, [backend], log, 'drain'))) continue;
      moved++;
      progress++;
    }
    handled += progress;
    // Only blobs waiting to be collected are left in this batch: the task retries later.
    if (progress === 0) throw new Error(`${rows.length} replicas on ${backend} belong to blobs being collected; retrying later`);
  }
  onProgress?.(handled, Math.max(total, handled));
  log?.info({ backend, moved }, 'drain finished');
  return { backend, moved, remaining: await replicasOn(ctx, backend) };
}
