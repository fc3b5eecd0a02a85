/** The services' shared handles: databases, blob store, region settings. */
import type { MetaDatabases } from '../meta/engine.js';
import type { BlobStore, CleanupQueue, Replicas } from '../blobs/index.js';

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
  cleanup: CleanupQueue;
}
