/**
 * The services' shared handles: databases, the blob layer, region settings.
 * Built in one place, the node assembly (src/node/assemble.ts). Core reaches
 * the bytes of objects only through the blob layer's facade (`Blobs`,
 * src/blobs/index.ts): staging, committing, reading, collecting.
 */
import type { Blobs } from '../blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';

export interface CoreContext {
  meta: MetaDatabases;
  /** The blob layer: staging of bodies, their replicas, reference counts and garbage collection. */
  blobs: Blobs;
  region: string;
  maxObjectSize: number;
  /** Stable id of this node's data folder: whose write intents are whose. */
  nodeId: string;
}
