/** What the admin API handlers use: the core services, the task queue and a few facts about the server. */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { BucketService } from '../core/buckets.js';
import type { CoreContext } from '../core/context.js';
import type { SessionService } from '../core/sessions.js';
import type { TenantService } from '../core/tenants.js';
import type { UserService } from '../core/users.js';
import type { MetaDatabases } from '../meta/engine.js';
import type { TaskQueue } from '../work/tasks.js';

export interface AdminDeps {
  config: Config;
  log: Logger;
  meta: MetaDatabases;
  tenants: TenantService;
  buckets: BucketService;
  users: UserService;
  sessions: SessionService;
  tasks: TaskQueue;
  /** The core context: storage backends and their replicas (ctx.replicas) for the backend routes. */
  core: CoreContext;
  /** Anvil's version (package.json). */
  version: string;
  /** When this server started (epoch ms), for the uptime in status. */
  startedAt: number;
}
