/** The services' shared handles: databases, blob store, region settings. */
import type { MetaDatabases } from '../meta/engine.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { CleanupQueue } from '../work/cleanup.js';

export interface CoreContext {
  meta: MetaDatabases;
  blobs: BlobStore;
  region: string;
  maxObjectSize: number;
  /** Stable id of this node's data folder: whose write intents are whose. */
  nodeId: string;
  cleanup: CleanupQueue;
  /** Check every whole blob read against its BLAKE3 hash (costs CPU on reads). */
  verifyReads?: boolean;
}
