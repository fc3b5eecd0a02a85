/**
 * Writing a staged body's replicas. The fs backend over the data folder
 * (the default `local`) shares its layout with the staging store
 * (blobs/staging/store.ts), so a staged body is renamed into it rather than
 * copied; every other backend receives the staged bytes through
 * Backend.put, all replicas in parallel, and the write is acknowledged only
 * once every one of them is durable.
 */
import fsp from 'node:fs/promises';
import { Readable } from 'node:stream';

import type { Logger } from 'pino';

import { BackendFull, type GuardedBackend } from '../../backends/index.js';
import { fail, isAnvilError } from '../../errors.js';
import { withSpan } from '../../tracing.js';
import { type BlobAddress, locatorOf } from '../address.js';
import { type BlobStore, type StagedFile, storedBytes, storedSize } from '../staging/store.js';

/** What the write path needs of the replica set (Replicas). */
export interface WriteSide {
  readonly backends: Map<string, GuardedBackend>;
  readonly localName: string | undefined;
  readonly staging: BlobStore;
  readonly log?: Logger;
  place(bytes: number, factor: number, exclude: string[], level: 'warn' | 'debug'): Promise<string[]>;
  remove(addr: BlobAddress, backends: string[]): Promise<void>;
}

/**
 * Places and writes a staged body's `factor` replicas, in parallel, and
 * resolves with their backends once every one is durable. A backend that
 * fails its put is passed over and placement asked again (up to three
 * rounds), keeping the replicas already written. On failure every replica
 * written is removed and the error is 507 (no backend can take the blob,
 * or the last one tried was full) or 503. The staged file is gone
 * afterwards either way (renamed into the local backend, or removed).
 */
export async function writeReplicas(r: WriteSide, staged: StagedFile, addr: BlobAddress, factor: number): Promise<string[]> {
  const locator = locatorOf(addr);
  const size = storedSize(staged);
  const bytes = staged.data ? storedBytes(staged) : undefined;
  const done: string[] = [];
  const failed: string[] = [];
  let renamed = false;
  try {
    let lastError: unknown;
    for (let round = 0; done.length < factor; round++) {
      let targets: string[];
      try {
        targets = await r.place(size, factor - done.length, [...done, ...failed], round === 0 ? 'warn' : 'debug');
      } catch (err) {
        // Placing again after failed writes: no other backend is left, so the answer is why those failed.
        if (round === 0) throw err;
        throw isFull(lastError) ? fail.insufficientStorage() : fail.unavailable();
      }
      // After the rename into the local backend, the other puts read its file.
      const source = renamed ? r.staging.blobPath(addr.tenantId, addr.hash, addr.fileId) : staged.tmpPath;
      const toLocal = !renamed && r.localName !== undefined && targets.includes(r.localName);
      const remote = targets.filter((t) => t !== r.localName);
      // Remote puts read through handles opened before any rename.
      const handles: fsp.FileHandle[] = [];
      try {
        if (!bytes) for (let i = 0; i < remote.length; i++) handles.push(await fsp.open(source, 'r'));
      } catch (err) {
        await closeAll(handles, r.log);
        throw err;
      }
      const jobs: Array<Promise<unknown>> = remote.map((name, i) => {
        const body = bytes
          ? Readable.from([bytes], { objectMode: false })
          : handles[i].createReadStream({ highWaterMark: 1 << 20, autoClose: true });
        return r.backends.get(name)!.put(locator, body, { size });
      });
      // The local backend's replica is the staged file renamed into place: its put, for tracing.
      if (toLocal) {
        const local = { 'anvil.backend': r.localName!, 'anvil.backend.kind': 'fs', 'anvil.backend.locator': locator };
        jobs.push(withSpan('anvil.backend.put', local, () => r.staging.promote(staged, addr.tenantId, addr.hash, bytes)));
      }
      const results = await Promise.allSettled(jobs);
      await closeAll(handles, r.log);
      const names = [...remote, ...(toLocal ? [r.localName!] : [])];
      let failedNow = false;
      results.forEach((res, i) => {
        if (res.status === 'fulfilled') {
          done.push(names[i]);
          if (names[i] === r.localName) renamed = true;
        } else {
          failed.push(names[i]);
          failedNow = true;
          lastError = res.reason;
          // The data folder's own full disk is logged once per episode by the blob store (blobs/staging/disk-space.ts).
          const quiet = names[i] === r.localName && isFull(res.reason);
          r.log?.[quiet ? 'debug' : 'warn']({ err: res.reason, backend: names[i] }, 'writing a replica failed');
        }
      });
      if (failedNow && round >= 2) throw isFull(lastError) ? fail.insufficientStorage() : fail.unavailable();
    }
    return done;
  } catch (err) {
    await r.remove(addr, done).catch((e: unknown) => {
      r.log?.warn({ err: e, ...addr, backends: done }, 'removing the replicas of a failed write failed (orphans the reconciler finds)');
    });
    throw err;
  } finally {
    if (!renamed) {
      await r.staging
        .discard(staged)
        .catch((e: unknown) =>
          r.log?.warn({ err: e, file: staged.tmpPath }, 'discarding a staged body failed (the reconciler removes it)'),
        );
    }
  }
}

/** Closes read handles; one that fails to close has nothing left to give (the put's error, if any, is the one that matters). */
async function closeAll(handles: fsp.FileHandle[], log?: Logger): Promise<void> {
  await Promise.all(handles.map((h) => h.close().catch((err: unknown) => log?.debug({ err }, 'closing a staged file handle failed'))));
}

/** A replica write refused for lack of space: a backend's own answer, or the local data folder's 507. */
function isFull(err: unknown): boolean {
  return err instanceof BackendFull || isAnvilError(err, undefined, 'InsufficientStorage');
}
