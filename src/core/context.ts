/** The services' shared handles: databases, blob store, region settings. */
import type { MetaDatabases } from '../meta/engine.js';
import type { BlobStore } from '../storage/blob-store.js';

export interface CoreContext {
  meta: MetaDatabases;
  blobs: BlobStore;
  region: string;
  maxObjectSize: number;
}
