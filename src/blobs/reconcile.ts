/**
 * Start-up reconciliation of the blob store with the metadata, run before
 * the server accepts requests (so none of this node's writes are in flight):
 *
 * - write intents of this node (this node id) are dead: their files are removed;
 *   intents of other nodes sharing the folder are live and their files kept;
 * - blob files that no blob row names are orphans (a crash between writing
 *   a file and committing its metadata) and are removed, unless another
 *   node's live intent owns them;
 * - the same for the other fs backends' replicas;
 * - blob rows whose file in the data folder is missing are reported and
 *   their replica marked for repair (the scrub rewrites it from another);
 * - the cleanup queue is drained.
 */
import fsp from 'node:fs/promises';

import type { Logger } from 'pino';

import {
  type BlobCursor,
  blobRowNaming,
  blobsOnAfter,
  dropDeadIntents,
  intentsOf,
  ownedByLiveWrite as liveIntentOwns,
} from '../meta/blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';
import { LOCATION_BAD, parseLocator } from './address.js';
import type { CleanupQueue } from './gc-queue.js';
import type { Replicas } from './replicas/replicas.js';
import type { BlobStore } from './staging/store.js';

/** What reconciliation needs (the core context has all of it). */
export interface ReconcileDeps {
  meta: MetaDatabases;
  /** The staging store (and the local backend's files). */
  blobs: BlobStore;
  replicas: Replicas;
  cleanup: CleanupQueue;
  /** This node: its intents are dead at start-up. */
  nodeId: string;
}

const INTENT_MAX_AGE_MS = 24 * 3600_000;

export interface ReconcileReport {
  deadIntents: number;
  stagedFilesRemoved: number;
  orphanFilesRemoved: number;
  missingFiles: Array<{ tenantId: string; hash: string; fileId: string }>;
  cleanupProcessed: number;
}

export async function reconcile(ctx: ReconcileDeps, log?: Logger): Promise<ReconcileReport> {
  const db = ctx.meta.data;
  const report: ReconcileReport = { deadIntents: 0, stagedFilesRemoved: 0, orphanFilesRemoved: 0, missingFiles: [], cleanupProcessed: 0 };

  const ours = await intentsOf(db, ctx.nodeId);
  report.deadIntents = ours.length;

  // Each file is judged at the moment it is looked at: first by the intents (another node's
  // write in progress owns its files), then by the rows. A commit adds the row and removes
  // the intent in one transaction, so this order never misses a file that is in use.
  // Another node's intent older than a day belongs to a node that died and never came back.
  const liveSince = Date.now() - INTENT_MAX_AGE_MS;
  const ownedByLiveWrite = (id: string) => liveIntentOwns(db, id, ctx.nodeId, liveSince);

  for (const id of await ctx.blobs.stagedIds()) {
    if (await ownedByLiveWrite(id)) continue;
    await fsp.rm(ctx.blobs.tmpPath(id), { force: true });
    report.stagedFilesRemoved++;
  }
  for await (const file of ctx.blobs.listFiles()) {
    if (await ownedByLiveWrite(file.fileId)) continue;
    if (await blobRowNaming(db, file.tenantId, file.hash, file.fileId)) continue;
    await fsp.rm(file.path, { force: true });
    report.orphanFilesRemoved++;
  }
  await dropDeadIntents(db, ctx.nodeId, liveSince, ours.length > 0);

  // Other fs backends: a replica no blob row names is an orphan too (a crash between writing it
  // and committing, or a removal that failed). Remote (s3) backends are not listed at every start.
  for (const [name, backend] of ctx.replicas.backends) {
    if (name === ctx.replicas.localName || backend.kind !== 'fs') continue;
    for await (const obj of backend.list()) {
      const blob = parseLocator(obj.locator);
      if (!blob) continue;
      const { tenantId, hash, fileId } = blob;
      if (await ownedByLiveWrite(fileId)) continue;
      if (await blobRowNaming(db, tenantId, hash, fileId)) continue;
      await backend.delete(obj.locator);
      report.orphanFilesRemoved++;
    }
  }

  // Replicas the data folder should hold but does not (the scrub repairs them from another replica).
  const local = ctx.replicas.localName;
  let after: BlobCursor | undefined;
  for (;;) {
    if (!local) break;
    const rows = await blobsOnAfter(db, local, after, 1000);
    for (const r of rows) {
      if (!(await ctx.blobs.exists(r.tenantId, r.hash, r.fileId))) {
        report.missingFiles.push({ tenantId: r.tenantId, hash: r.hash, fileId: r.fileId });
        log?.error({ tenantId: r.tenantId, hash: r.hash, fileId: r.fileId }, 'blob file missing');
        await ctx.replicas.markLocations(r, [local], LOCATION_BAD);
      }
    }
    if (rows.length < 1000) break;
    after = rows[rows.length - 1];
  }

  report.cleanupProcessed = await ctx.cleanup.runDue();
  return report;
}
