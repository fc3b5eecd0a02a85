/**
 * `anvil admin …`: tenants, keys, users, buckets and the background queues.
 *
 * Two ways to reach a server:
 * - directly (the default): open the metadata database the server uses.
 *   Changes take effect on the running server at once, since it reads keys
 *   and users from the database on every request.
 * - with `--endpoint <url>` (env ANVIL_ENDPOINT): through the admin API of a
 *   running server, with SigV4-signed requests (admin-client.ts). The key is
 *   `--auth-access-key/--auth-secret-key` (env ANVIL_ACCESS_KEY /
 *   ANVIL_SECRET_KEY, falling back to ANVIL_ROOT_ACCESS_KEY /
 *   ANVIL_ROOT_SECRET_KEY); `--region` must be the server's. Tenant, key,
 *   user, bucket, backend and status commands work this way; the queue
 *   commands (tasks, cleanup, scrub) need the database.
 *
 * Each command is written once (cli/admin/*-commands.ts) against a door
 * (cli/admin/door.ts): the admin API (remote.ts) or the database
 * (direct.ts), which calls the same admin operations (admin/ops/) as the
 * API's routes, on a node assembled in its admin role (src/node/assemble.ts).
 *
 * `backend drain` only marks the backend and enqueues the drain task: a
 * running server does the moving (work/drain.ts), and `backend list` shows
 * how many replicas are left.
 *
 * Beside a live server. Direct commands never take the server's data-folder
 * lock (deployment-lock.ts): one that ran long would keep a server from
 * starting, and none needs it, because none does start-up work. They open
 * only an existing deployment (openControlPlane without `create`: no data
 * folder, master.key, SQLite file or schema is made, so a wrong --data-dir
 * fails instead of starting a fresh deployment), never reconcile, never
 * remove staged files, and write only through paths that are shared with
 * running servers anyway:
 * - database rows (tenants, keys, users, buckets, backend states, tasks,
 *   dead letters): SQLite in WAL mode with a busy timeout and BEGIN
 *   IMMEDIATE transactions, or PostgreSQL; servers read them per request;
 * - `cleanup dlq retry` removes blob files only for queue entries it has
 *   claimed with a lease (SKIP LOCKED on PostgreSQL), exactly as every
 *   server's cleanup worker does, and only while the blob has no reference;
 * - `rotate-master-key --generate` writes master.key and master.key.previous
 *   durably; running servers re-read them when they meet a secret under a
 *   key they do not know;
 * - opening the backends (as the server does) inserts missing usage rows
 *   (ON CONFLICT DO NOTHING) and `backend list` writes a health probe file;
 * - migrations run under the same locks as a server's start (a newer
 *   `anvil` migrating a database an older server still uses is the one
 *   thing to avoid: upgrade the servers first).
 */
import type { Command } from 'commander';

import { registerIdentityCommands } from './admin/identity-commands.js';
import { registerMasterKeyCommand } from './admin/master-key.js';
import { registerQueueCommands } from './admin/queue-commands.js';
import { registerStorageCommands } from './admin/storage-commands.js';
import { doorFlags } from './flags.js';

export function registerAdminCommands(program: Command): void {
  const admin = doorFlags(program.command('admin').description('manage tenants, keys, users, buckets and storage backends'));
  admin.addHelpText(
    'after',
    `
Without --endpoint, commands open the metadata database directly (the same
--data-dir / --database-url / --master-key / --config as the server). With
--endpoint, tenant, key, user, bucket, backend and status commands call the admin API
(/admin/v1/) of a running server, signed with SigV4; --region (env
ANVIL_REGION) must be the server's region.`,
  );
  registerIdentityCommands(admin);
  registerStorageCommands(admin);
  registerQueueCommands(admin);
  registerMasterKeyCommand(admin);
}
