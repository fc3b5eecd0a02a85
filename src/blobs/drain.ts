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
import type { CoreContext } from '../core/context.js';
import { LOCATION_OK, storedSizeOf, type StoredBlob } from './replicas/replicas.js';
import { withTransaction } from '../meta/engine.js';
import type { Scrubber } from './scrub.js';

/** The task type of a drain (payload: { backend }). */
export const DRAIN_TASK = 'drain-backend';

export interface DrainProgress {
  backend: string;
  moved: number;
  remaining: number;
}

/**
 * Copies a blob's stored bytes from one backend to others and checks each
 * copy as the scrub would; on any failure the copies made are removed.
 */
export async function copyVerified(ctx: CoreContext, scrubber: Scrubber, blob: StoredBlob, source: string, targets: string[]): Promise<void> {
  const bytes = storedSizeOf(blob);
  try {
    for (const target of targets) {
      await ctx.replicas.copy(blob, source, target, bytes);
      if ((await scrubber.checkReplica(blob, target)) !== 'ok') throw new Error(`the copy on ${target} does not verify`);
    }
  } catch (err) {
    await ctx.replicas.remove(blob, targets).catch(() => undefined);
    throw err;
  }
}

/** Marks a backend as draining (no new blobs) or not, in the global DB. */
export async function setDraining(ctx: CoreContext, backend: string, draining: boolean): Promise<void> {
  const { kind, control: global } = ctx.meta;
  await withTransaction(kind, global, async (trx) => {
    await trx
      .insertInto('backend_states')
      .values({ name: backend, draining: draining ? 1 : 0, updated_at: Date.now() })
      .onConflict((oc) => oc.column('name').doUpdateSet({ draining: draining ? 1 : 0, updated_at: Date.now() }))
      .execute();
  });
  await ctx.replicas.loadStates();
}

/** Replicas still on a backend. */
export async function replicasOn(ctx: CoreContext, backend: string): Promise<number> {
  const row = await ctx.meta.data
    .selectFrom('blob_locations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('backend', '=', backend)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function drainBackend(
  ctx: CoreContext,
  scrubber: Scrubber,
  backend: string,
  signal?: AbortSignal,
  log?: Logger,
): Promise<DrainProgress> {
  const replicas = ctx.replicas;
  const db = ctx.meta.data;
  if (!replicas.backends.has(backend)) throw new Error(`backend ${backend} is not configured`);
  await replicas.loadStates();
  if (!replicas.draining.has(backend)) throw new Error(`backend ${backend} is not marked draining`);
  let moved = 0;
  for (;;) {
    signal?.throwIfAborted();
    const rows = await db.selectFrom('blob_locations').select(['tenant_id', 'hash']).where('backend', '=', backend).orderBy('tenant_id').orderBy('hash').limit(100).execute();
    if (rows.length === 0) break;
    let progress = 0;
    for (const r of rows) {
      signal?.throwIfAborted();
      const blob = (await replicas.lookup(db, r.tenant_id, [r.hash])).get(r.hash);
      if (!blob) {
        // A location whose blob row is gone (collected meanwhile): nothing to move.
        await db.deleteFrom('blob_locations').where('tenant_id', '=', r.tenant_id).where('hash', '=', r.hash).where('backend', '=', backend).execute();
        progress++;
        continue;
      }
      const want = blob.replication;
      const others = blob.locations.filter((l) => l.backend !== backend && l.state === LOCATION_OK).map((l) => l.backend);
      const need = Math.max(0, want - others.length);
      const bytes = storedSizeOf(blob);
      const targets = need > 0 ? await replicas.place(bytes, need, blob.locations.map((l) => l.backend)) : [];
      // From a good replica elsewhere if there is one, else from the drained backend itself.
      await copyVerified(ctx, scrubber, blob, others[0] ?? backend, targets);
      if (!(await replicas.moveLocations(blob, targets, [backend]))) {
        await replicas.remove(blob, targets).catch(() => undefined);
        continue;
      }
      await replicas.remove(blob, [backend]).catch((err) => log?.warn({ err, backend, hash: blob.hash }, 'drain: drained replica not deleted (orphan)'));
      moved++;
      progress++;
    }
    // Only blobs waiting to be collected are left in this batch: the task retries later.
    if (progress === 0) throw new Error(`${rows.length} replicas on ${backend} belong to blobs being collected; retrying later`);
  }
  log?.info({ backend, moved }, 'drain finished');
  return { backend, moved, remaining: await replicasOn(ctx, backend) };
}
