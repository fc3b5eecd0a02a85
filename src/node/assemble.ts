/**
 * The one place a node is put together: every service is constructed here,
 * once, in dependency order, and typed as what it is (no casts). The server
 * (app.ts) and `anvil admin` without --endpoint (cli/direct.ts) both call
 * assembleNode; the tests reach it through app.ts's startAnvil.
 *
 * The two roles differ only where a short-lived admin command must not do
 * what a serving node does: watch disk space, create staging folders or a
 * node id file, log from background services. An admin command's node id
 * and queue owners name the process (`admin:<pid>`); it records no write
 * intents, so no node id of a server is ever borrowed.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';

import type { Logger } from 'pino';

import { Blobs, type CleanupSettings, DiskSpace, type Scrubber } from '../blobs/index.js';
import type { Config } from '../config/config.js';
import { BranchService } from '../core/branches/service.js';
import { BucketService } from '../core/buckets.js';
import type { CoreContext } from '../core/context.js';
import { EventFeed, type EventFeedOptions } from '../core/events/feed.js';
import { ListingService } from '../core/listing.js';
import { MultipartService } from '../core/multipart.js';
import { ObjectService } from '../core/objects.js';
import type { Services } from '../s3/context.js';
import { TaskQueue } from '../work/tasks.js';
import type { ControlPlane } from './control-plane.js';
import { nodeIdFor } from './node-id.js';

/** `server`: a serving node (`anvil server`, tests); `admin`: one `anvil admin` command against the database. */
export type NodeRole = 'server' | 'admin';

export interface NodeContext extends ControlPlane {
  role: NodeRole;
  config: Config;
  core: CoreContext;
  /** What the S3 handlers use. */
  services: Services;
  buckets: BucketService;
  /** Branches, commits and tags of buckets (core/branches/). */
  branches: BranchService;
  /** The change feed and its retention (core/events/). */
  events: EventFeed;
  objects: ObjectService;
  tasks: TaskQueue;
  /** The blob layer's scrubber (core.blobs.scrubber), for the admin commands. */
  scrubber: Scrubber;
  /** Free space of the data folder and the database (server only: admin commands do not refuse writes for space). */
  space?: DiskSpace;
  /** Closes what assembleNode opened (the backends). The control plane's databases stay open: they are the caller's. */
  close(): Promise<void>;
}

export interface AssembleOptions {
  role: NodeRole;
  /** The server's logger; admin commands log nothing from background services. */
  log?: Logger;
  cleanup?: CleanupSettings;
  /** The change feed's clock and poll (tests move the clock to test the retention in seconds). */
  events?: EventFeedOptions;
}

export async function assembleNode(config: Config, plane: ControlPlane, opts: AssembleOptions): Promise<NodeContext> {
  const { role, log } = opts;
  const server = role === 'server';
  const { meta, keyring, tenants } = plane;
  const space = server ? new DiskSpace({ dataDir: config.dataDir, databaseUrl: config.databaseUrl }, log) : undefined;
  // A server's node id may be kept in the data folder (node-id.ts): the folder exists before it is read.
  if (server) await fsp.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const nodeId = server ? nodeIdFor(config) : `admin:${process.pid}`;
  // Queue owners: a server's entries are its process's; the cleanup owner is unique per start.
  const owner = server ? `${nodeId}:${process.pid}` : nodeId;
  const cleanupOwner = server ? `${owner}:${crypto.randomBytes(4).toString('hex')}` : nodeId;
  const blobs = await Blobs.open({
    meta,
    storage: config.storage,
    dataDir: config.dataDir,
    space,
    initStaging: server,
    keyring,
    encrypt: config.encryptAtRest,
    verifyReads: server ? config.verifyReads : undefined,
    nodeId,
    owner: cleanupOwner,
    cleanup: opts.cleanup,
    log,
  });
  try {
    const core: CoreContext = { meta, blobs, region: config.region, maxObjectSize: config.maxObjectSize, nodeId };
    const buckets = new BucketService(core);
    const objects = new ObjectService(core);
    const services: Services = {
      tenants,
      buckets,
      objects,
      listing: new ListingService(core),
      multipart: new MultipartService(core, { retryWindowMs: config.multipartRetryWindowSeconds * 1000 }),
    };
    const tasks = new TaskQueue(meta, owner);
    return {
      ...plane,
      role,
      config,
      core,
      services,
      buckets,
      branches: new BranchService(core, tasks),
      events: new EventFeed(core, opts.events),
      objects,
      tasks,
      scrubber: blobs.scrubber,
      space,
      close: () => blobs.close(),
    };
  } catch (err) {
    await blobs.close();
    throw err;
  }
}
