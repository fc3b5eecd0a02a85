/**
 * The services' shared handles: databases, blob store, region settings.
 * Built in one place, the node assembly (src/node/assemble.ts). Only types
 * of lower layers appear here: the GC queue is named by what core needs of
 * it (BlobCleanup), not by its class, so core never imports the background
 * work it feeds.
 */
import type { MetaDatabases } from '../meta/engine.js';
import type { BlobStore, Replicas } from '../blobs/index.js';

/** The blob cleanup (GC) queue as core uses it. */
export interface BlobCleanup {
  /** Removes the blobs of these queue entries now (those a commit just released), if still unreferenced. */
  processIds(ids: number[]): Promise<void>;
  /** Processes every entry due; returns how many were handled. */
  runDue(): Promise<number>;
}

export interface CoreContext {
  meta: MetaDatabases;
  /** Staging of bodies being received (and the local backend's files). */
  blobs: BlobStore;
  /** Where blobs' replicas live and how they are read back. */
  replicas: Replicas;
  region: string;
  maxObjectSize: number;
  /** Stable id of this node's data folder: whose write intents are whose. */
  nodeId: string;
  cleanup: BlobCleanup;
}
