/**
 * Rebalancing for `spread` placement: moves replicas from the fullest
 * backend (highest stored bytes / quota) to the emptiest one until their
 * fill ratios are within a tolerance. Runs as the durable task `rebalance`;
 * each move is a copy, a check of the copy, one transaction that records
 * the new location and forgets the old one, then the removal of the old
 * replica, so it can stop (or crash) between any two steps and resume.
 *
 * Only healthy backends that are not draining take part; a blob is moved
 * only to a backend that does not already hold one of its replicas.
 */
import type { Logger } from 'pino';

import { movableReplicas } from '../meta/blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';
import { storedSizeOf } from './address.js';
import { commitMove, copyVerified, type ReplicaChecker } from './moves.js';
import type { Replicas } from './replicas/replicas.js';

export { REBALANCE_TASK } from '../work/task-names.js';

export interface RebalanceOptions {
  /** Stop when the fullest and emptiest fill ratios differ by at most this much (default 0.05). */
  tolerance?: number;
  /** Stop after this many moves (default: no limit). */
  maxMoves?: number;
}

export interface RebalanceResult {
  moved: number;
  movedBytes: number;
  /** Fill ratio per backend at the end. */
  fill: Record<string, number>;
}

export async function rebalance(
  ctx: { meta: MetaDatabases; replicas: Replicas },
  scrubber: ReplicaChecker,
  opts: RebalanceOptions = {},
  signal?: AbortSignal,
  log?: Logger,
): Promise<RebalanceResult> {
  const replicas = ctx.replicas;
  const db = ctx.meta.data;
  const tolerance = opts.tolerance ?? 0.05;
  const maxMoves = opts.maxMoves ?? Number.POSITIVE_INFINITY;
  let moved = 0;
  let movedBytes = 0;
  const fillOf = () => {
    const out: Record<string, number> = {};
    for (const s of replicas.states()) out[s.name] = s.quotaBytes > 0 ? s.usedBytes / s.quotaBytes : 1;
    return out;
  };
  await replicas.loadStates();
  // Blobs tried and found unmovable (every candidate already holds a replica, or the copy failed).
  const skipped = new Set<string>();
  while (moved < maxMoves) {
    signal?.throwIfAborted();
    await replicas.refreshUsage();
    const eligible = replicas.states().filter((s) => !s.draining && s.healthy !== false && s.breaker !== 'open' && s.quotaBytes > 0);
    if (eligible.length < 2) break;
    eligible.sort((a, b) => a.usedBytes / a.quotaBytes - b.usedBytes / b.quotaBytes);
    const emptiest = eligible[0];
    const fullest = eligible[eligible.length - 1];
    const gap = fullest.usedBytes / fullest.quotaBytes - emptiest.usedBytes / emptiest.quotaBytes;
    if (gap <= tolerance) break;
    // A replica on the fullest backend of a blob the emptiest one does not hold yet.
    const candidates = await movableReplicas(db, fullest.name, emptiest.name, skipped.size + 1);
    const next = candidates.find((c) => !skipped.has(`${c.tenantId}/${c.hash}`));
    if (!next) break;
    const blob = (await replicas.lookup(db, next.tenantId, [next.hash])).get(next.hash);
    if (!blob) continue;
    const bytes = storedSizeOf(blob);
    // Moving must not just swap which of the two is fuller.
    const after = (fullest.usedBytes - bytes) / fullest.quotaBytes - (emptiest.usedBytes + bytes) / emptiest.quotaBytes;
    if (after < -tolerance || emptiest.usedBytes + bytes > emptiest.quotaBytes) {
      skipped.add(`${blob.tenantId}/${blob.hash}`);
      if (skipped.size > 1000) break;
      continue;
    }
    try {
      await copyVerified(replicas, scrubber, blob, fullest.name, [emptiest.name], log);
    } catch (err) {
      log?.warn({ err, hash: blob.hash, from: fullest.name, to: emptiest.name }, 'rebalance: copy failed');
      skipped.add(`${blob.tenantId}/${blob.hash}`);
      continue;
    }
    if (!(await commitMove(replicas, blob, [emptiest.name], [fullest.name], log, 'rebalance'))) continue;
    moved++;
    movedBytes += bytes;
  }
  await replicas.refreshUsage();
  const fill = fillOf();
  log?.info({ moved, movedBytes, fill }, 'rebalance finished');
  return { moved, movedBytes, fill };
}
