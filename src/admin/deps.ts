/** What the admin API handlers and the admin operations use. */
import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import type { BranchService } from '../core/branches/service.js';
import type { BucketService } from '../core/buckets.js';
import type { CoreContext } from '../core/context.js';
import type { EventFeed } from '../core/events/feed.js';
import type { ObjectService } from '../core/objects.js';
import type { SessionCredentialService } from '../core/session-credentials.js';
import type { SessionService } from '../core/sessions.js';
import type { TenantService } from '../core/tenants.js';
import type { UserService } from '../core/users.js';
import type { MetaDatabases } from '../meta/engine.js';
import type { TaskQueue } from '../work/tasks.js';

/**
 * What an admin operation (admin/ops/) needs: the same whether the admin API
 * calls it for a request or `anvil admin` calls it against the database.
 */
export interface AdminServices {
  config: Config;
  meta: MetaDatabases;
  tenants: TenantService;
  buckets: BucketService;
  branches: BranchService;
  /** The change feed (core/events/). */
  events: EventFeed;
  objects: ObjectService;
  users: UserService;
  tasks: TaskQueue;
  /** The core context: the blob layer (core.blobs: backends, replicas) for the backend operations. */
  core: CoreContext;
  /** Anvil's version (package.json). */
  version: string;
}

/** What the admin API's handlers have besides: the log, the logins, and when this server started. */
export interface AdminDeps extends AdminServices {
  log: Logger;
  sessions: SessionService;
  /** S3 credentials for the signed-in user's session (POST /auth/s3-credentials). */
  sessionCredentials: SessionCredentialService;
  /** When this server started (epoch ms), for the uptime in status. */
  startedAt: number;
  /** Aborted when shutdown starts: long-lived answers (event streams) end then. */
  closing?: AbortSignal;
}
