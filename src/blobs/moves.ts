/**
 * Moving replicas, the one routine drain, rebalance and the scrub's
 * re-replication share: copy the stored bytes as they are (ciphertext stays
 * ciphertext) and check each copy as the scrub would (copyVerified); then,
 * in one transaction, record the new locations and forget the old ones
 * (commitMove); only then delete the old replicas. It can stop (or crash)
 * between any two steps: what is left is at worst an orphan the
 * reconciler finds.
 */
import type { Logger } from 'pino';

import { type StoredBlob, storedSizeOf } from './address.js';
import type { Replicas } from './replicas/replicas.js';

/** Checks one replica against its blob's address (Scrubber.checkReplica). */
export interface ReplicaChecker {
  checkReplica(blob: StoredBlob, backend: string): Promise<'ok' | 'bad' | 'unavailable'>;
}

/**
 * Copies a blob's stored bytes from one backend to others and checks each
 * copy; on any failure the copies made are removed and the error thrown.
 */
export async function copyVerified(
  replicas: Replicas,
  checker: ReplicaChecker,
  blob: StoredBlob,
  source: string,
  targets: string[],
  log?: Logger,
): Promise<void> {
  const bytes = storedSizeOf(blob);
  try {
    for (const target of targets) {
      await replicas.copy(blob, source, target, bytes);
      if ((await checker.checkReplica(blob, target)) !== 'ok') throw new Error(`the copy on ${target} does not verify`);
    }
  } catch (err) {
    await replicas
      .remove(blob, targets)
      .catch((e: unknown) =>
        log?.warn({ err: e, hash: blob.hash, targets }, 'removing failed copies failed (orphans the reconciler finds)'),
      );
    throw err;
  }
}

/**
 * Records verified copies on `add` and forgets the replicas on `forget`
 * (one transaction), then deletes the forgotten replicas. False when the
 * blob was collected meanwhile: the copies are removed again.
 */
export async function commitMove(
  replicas: Replicas,
  blob: StoredBlob,
  add: string[],
  forget: string[],
  log: Logger | undefined,
  what: string,
): Promise<boolean> {
  if (!(await replicas.moveLocations(blob, add, forget))) {
    await replicas
      .remove(blob, add)
      .catch((err: unknown) =>
        log?.warn({ err, hash: blob.hash, backends: add }, `${what}: copies of a collected blob not deleted (orphans)`),
      );
    return false;
  }
  if (forget.length > 0) {
    await replicas
      .remove(blob, forget)
      .catch((err: unknown) => log?.warn({ err, hash: blob.hash, backends: forget }, `${what}: old replica not deleted (orphan)`));
  }
  return true;
}
