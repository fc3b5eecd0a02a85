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
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { blobKeysByMasterKey, dropPreviousMasterKeys, installNewMasterKey, rewrapBlobKeys } from '../core/master-key-rotation.js';
import { openControlPlane, VERSION, type ControlPlane } from '../app.js';
import { overridesFrom, serverFlags } from './flags.js';
import type { CoreContext } from '../core/context.js';
import { BlobStore, Replicas, CleanupQueue, Scrubber, BackendAdmin, setBucketReplication, type BackendInfo, type BackendList, type DrainResult, type RebalanceResult, type RemoveResult, type UndrainResult } from '../blobs/index.js';
import { TaskQueue } from '../work/tasks.js';
import { BucketService } from '../core/buckets.js';
import type { TaskStatus } from '../meta/schema.js';
import type { Config } from '../config/config.js';
import { parsePolicies, type PolicyStatement } from '../core/policy.js';
import type { AccessKeyInfo, Tenant } from '../core/tenants.js';
import { userJson } from '../admin/users.js';
import { serverStatus } from '../admin/status.js';
import { AdminClient } from './admin-client.js';

interface AdminContext extends ControlPlane {
  config: Config;
  cleanup: CleanupQueue;
  tasks: TaskQueue;
  buckets: BucketService;
  scrubber: Scrubber;
  /** The core context (the backends, opened from the same config file as the server's). */
  core: CoreContext;
  backends: BackendAdmin;
}

type DirectAction = (admin: AdminContext, json: boolean, ...args: any[]) => Promise<void>;
type RemoteAction = (client: AdminClient, json: boolean, ...args: any[]) => Promise<void>;

interface GlobalOpts {
  json?: boolean;
  endpoint?: string;
  authAccessKey?: string;
  authSecretKey?: string;
  region?: string;
}

function remoteClient(opts: GlobalOpts): AdminClient | null {
  const endpoint = opts.endpoint ?? process.env.ANVIL_ENDPOINT;
  if (!endpoint) return null;
  const accessKeyId = opts.authAccessKey ?? process.env.ANVIL_ACCESS_KEY ?? process.env.ANVIL_ROOT_ACCESS_KEY;
  const secretAccessKey = opts.authSecretKey ?? process.env.ANVIL_SECRET_KEY ?? process.env.ANVIL_ROOT_SECRET_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('--endpoint needs an access key: --auth-access-key and --auth-secret-key (env ANVIL_ACCESS_KEY, ANVIL_SECRET_KEY)');
  }
  const region = opts.region ?? process.env.ANVIL_REGION ?? 'us-east-1';
  return new AdminClient({ endpoint, accessKeyId, secretAccessKey, region });
}

/**
 * A command action: through the admin API when --endpoint is given (if the
 * command supports it), else against the database directly.
 */
function action(direct: DirectAction, remote?: RemoteAction) {
  return async (...args: any[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as GlobalOpts & Record<string, string | undefined>;
    const json = Boolean(opts.json);
    const client = remoteClient(opts);
    if (client) {
      if (!remote) throw new Error(`\`${cmd.name()}\` needs the database; it is not available with --endpoint`);
      await remote(client, json, ...args.slice(0, -1));
      return;
    }
    const config = loadConfig(overridesFrom(opts));
    const plane = await openControlPlane(config);
    const { meta } = plane;
    // The queue only needs the databases and the blob folder; no server is started.
    const blobs = new BlobStore(config.dataDir);
    const replicas = await Replicas.open({ storage: config.storage, dataDir: config.dataDir, store: blobs, keyring: plane.keyring, encrypt: config.encryptAtRest, meta });
    const ctx = { meta, blobs, replicas, region: config.region, maxObjectSize: config.maxObjectSize } as CoreContext;
    const cleanup = new CleanupQueue(ctx, `admin:${process.pid}`);
    ctx.cleanup = cleanup;
    const tasks = new TaskQueue(meta, `admin:${process.pid}`);
    const admin: AdminContext = {
      ...plane,
      config,
      cleanup,
      tasks,
      buckets: new BucketService(ctx),
      scrubber: new Scrubber(ctx),
      core: ctx,
      backends: new BackendAdmin(ctx, tasks),
    };
    try {
      await direct(admin, json, ...args.slice(0, -1));
    } finally {
      await replicas.close();
      await meta.close();
    }
  };
}

/** `--policy '[…]'` or `--policy @file.json`: policy statements, validated. */
function readPolicies(value: string | undefined): PolicyStatement[] | undefined {
  if (value === undefined) return undefined;
  const text = value.startsWith('@') ? fs.readFileSync(value.slice(1), 'utf8') : value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('--policy must be a JSON array of statements (or @file)');
  }
  return parsePolicies(parsed);
}

/** The created key as `anvil admin key create` prints it (name and policies only when set). */
function createdKeyJson(k: { accessKeyId: string; secretAccessKey: string; tenant: string; name?: string | null; policies: PolicyStatement[] | null }) {
  return {
    accessKeyId: k.accessKeyId,
    secretAccessKey: k.secretAccessKey,
    tenant: k.tenant,
    ...(k.name ? { name: k.name } : {}),
    ...(k.policies ? { policies: k.policies } : {}),
  };
}

interface WhoAmI {
  level: 'root' | 'admin' | 'member';
  tenant: string;
}

/** The tenants a remote command without --tenant covers: every tenant for root, else the key's own. */
async function remoteTenants(client: AdminClient): Promise<string[]> {
  const who = await client.request<WhoAmI>('GET', ['auth', 'whoami']);
  if (who.level !== 'root') return [who.tenant];
  const { tenants } = await client.request<{ tenants: Tenant[] }>('GET', ['tenants']);
  return tenants.map((t) => t.name);
}

async function remoteKeys(client: AdminClient, tenant: string | undefined): Promise<AccessKeyInfo[]> {
  const out: AccessKeyInfo[] = [];
  for (const name of tenant ? [tenant] : await remoteTenants(client)) {
    out.push(...(await client.request<{ keys: AccessKeyInfo[] }>('GET', ['tenants', name, 'keys'])).keys);
  }
  return out;
}

function parseIds(ids: string[]): number[] | undefined {
  if (ids.length === 0) return undefined;
  return ids.map((id) => {
    if (!/^\d+$/.test(id)) throw new Error(`not an entry id: ${id}`);
    return Number(id);
  });
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : text) + '\n');
}

type UserOut = ReturnType<typeof userJson>;

function userLine(u: UserOut): string {
  return `${u.id}\t${u.email}\t${u.role}${u.disabled ? '\tdisabled' : ''}`;
}

function printStatus(json: boolean, s: Awaited<ReturnType<typeof serverStatus>>): void {
  const lines = [
    `Anvil ${s.version}  region ${s.region}  metadata ${s.engine}${s.uptimeSeconds === null ? '' : `  up ${s.uptimeSeconds}s`}`,
    `tenants ${s.tenants}  buckets ${s.buckets}  users ${s.users}  access keys ${s.accessKeys}`,
    `tasks: ${s.tasks.pending} pending, ${s.tasks.running} running, ${s.tasks.failed} failed`,
    `cleanup: ${s.cleanup.queued} queued, ${s.cleanup.deadLetters} dead letters`,
  ];
  print(json, s, lines.join('\n'));
}

/** 1.5 GiB, 320 MiB, 12 B. */
function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[i]}`;
}

function backendLine(b: BackendInfo): string {
  const health = b.breaker === 'open' ? 'breaker open' : b.health.ok === false ? `unhealthy${b.health.detail ? ` (${b.health.detail})` : ''}` : b.health.ok ? 'healthy' : 'health unknown';
  const state = !b.configured ? 'NOT CONFIGURED' : b.draining ? 'draining' : 'active';
  const drain = b.drain ? `\tdrain task ${b.drain.task} ${b.drain.status}, ${b.drain.remaining} replicas left${b.drain.lastError ? ` (${b.drain.lastError})` : ''}` : '';
  const used = `${humanBytes(b.usedBytes)} / ${b.quotaBytes === null ? 'unlimited' : humanBytes(b.quotaBytes)}`;
  return `${b.name}\t${b.type ?? '-'}\t${state}\t${used}\t${b.blobCount} replicas\t${health}${drain}`;
}

function printBackends(json: boolean, list: BackendList): void {
  const head = `placement ${list.placement}, default replication ${list.defaultReplication}`;
  print(json, list, [head, ...list.backends.map(backendLine)].join('\n'));
}

function printDrain(json: boolean, r: DrainResult): void {
  print(
    json,
    r,
    `${r.backend} is draining: it takes no new blobs; ${r.enqueued ? 'task' : 'the existing task'} ${r.task} moves its ${r.remaining} replicas ` +
      `(a running server does it; see: anvil admin backend list)`,
  );
}

function printRebalance(json: boolean, r: RebalanceResult): void {
  print(json, r, `${r.enqueued ? 'task' : 'the existing task'} ${r.task} evens out the backends' fill ratios (to within ${r.tolerance}); see: anvil admin backend list`);
}

function printUndrain(json: boolean, r: UndrainResult): void {
  const cancelled = r.cancelledTasks.length ? ` (drain task ${r.cancelledTasks.join(', ')} cancelled)` : '';
  print(json, r, `${r.backend} takes new blobs again${cancelled}; ${r.remaining} replicas on it`);
}

function printRemoved(json: boolean, r: RemoveResult): void {
  print(json, r, `removed backend ${r.backend}: ${r.note}`);
}

/** `N` or `default` (null). */
function parseReplication(value: string): number | null {
  if (value === 'default') return null;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`replication must be a positive integer or "default", not ${JSON.stringify(value)}`);
  return Number(value);
}

export function registerAdminCommands(program: Command): void {
  const admin = serverFlags(program.command('admin').description('manage tenants, keys, users, buckets and storage backends'))
    .option('--json', 'print JSON')
    .option('--endpoint <url>', 'go through the admin API of this running server instead of the database (env ANVIL_ENDPOINT)')
    .option('--auth-access-key <id>', 'with --endpoint: access key to sign with (env ANVIL_ACCESS_KEY, else ANVIL_ROOT_ACCESS_KEY)')
    .option('--auth-secret-key <secret>', 'with --endpoint: its secret (env ANVIL_SECRET_KEY, else ANVIL_ROOT_SECRET_KEY)');
  admin.addHelpText(
    'after',
    `
Without --endpoint, commands open the metadata database directly (the same
--data-dir / --database-url / --master-key / --config as the server). With
--endpoint, tenant, key, user, bucket, backend and status commands call the admin API
(/admin/v1/) of a running server, signed with SigV4; --region (env
ANVIL_REGION) must be the server's region.`,
  );

  const tenant = admin.command('tenant').description('tenants');
  tenant
    .command('create <name>')
    .description('create a tenant')
    .action(
      action(
        async ({ tenants }, json, name: string) => {
          const t = await tenants.createTenant(name);
          print(json, t, `created tenant ${t.name} (id ${t.id}, canonical id ${t.canonicalId})`);
        },
        async (client, json, name: string) => {
          const t = await client.request<Tenant>('POST', ['tenants'], { body: { name } });
          print(json, t, `created tenant ${t.name} (id ${t.id}, canonical id ${t.canonicalId})`);
        },
      ),
    );
  const printTenants = (json: boolean, list: Tenant[]) => print(json, list, list.map((t) => `${t.name}\t${t.id}\t${t.canonicalId}`).join('\n'));
  tenant
    .command('list')
    .description('list tenants')
    .action(
      action(
        async ({ tenants }, json) => printTenants(json, await tenants.listTenants()),
        async (client, json) => printTenants(json, (await client.request<{ tenants: Tenant[] }>('GET', ['tenants'])).tenants),
      ),
    );

  const bucket = admin.command('bucket').description('buckets');
  bucket
    .command('delete <name>')
    .description('delete a bucket; with --force, a background task deletes everything in it first')
    .option('--force', 'delete the contents too (asynchronously, by the running server)')
    .action(
      action(
        async ({ buckets, tasks }, json, name: string, opts: { force?: boolean }) => {
          const b = await buckets.get(name);
          if (!b) throw new Error(`no bucket named ${name}`);
          if (opts.force) {
            const id = await tasks.enqueue('delete-bucket', { bucketId: b.id, bucket: name }, { priority: 50 });
            print(json, { task: id, bucket: name }, `task ${id} will delete bucket ${name} and its contents (see: anvil admin tasks list)`);
            return;
          }
          await buckets.delete(b);
          print(json, { deleted: name }, `deleted bucket ${name}`);
        },
        async (client, json, name: string, opts: { force?: boolean }) => {
          const r = await client.request<{ deleted: boolean; task?: number }>('DELETE', ['buckets', name], {
            query: opts.force ? { force: 'true' } : {},
          });
          if (r.task !== undefined) {
            print(json, { task: r.task, bucket: name }, `task ${r.task} will delete bucket ${name} and its contents (see: anvil admin tasks list)`);
            return;
          }
          print(json, { deleted: name }, `deleted bucket ${name}`);
        },
      ),
    );

  const printReplication = (json: boolean, b: { name: string; replication: number | null; effectiveReplication: number }) =>
    print(
      json,
      { bucket: b.name, replication: b.replication, effectiveReplication: b.effectiveReplication },
      `bucket ${b.name}: new objects get ${b.effectiveReplication} replica${b.effectiveReplication === 1 ? '' : 's'}` +
        `${b.replication === null ? ' (the default)' : ''}; objects already stored keep theirs`,
    );
  bucket
    .command('set-replication <name> <replicas>')
    .description('replicas of each new object of a bucket: a number (at most the backends configured), or "default"')
    .action(
      action(
        async ({ buckets, core }, json, name: string, value: string) => {
          const b = await buckets.get(name);
          if (!b) throw new Error(`no bucket named ${name}`);
          const replication = parseReplication(value);
          await setBucketReplication(core, b.id, replication);
          printReplication(json, { name, replication, effectiveReplication: replication ?? core.replicas.defaultFactor });
        },
        async (client, json, name: string, value: string) => {
          const b = await client.request<{ name: string; replication: number | null; effectiveReplication: number }>('PATCH', ['buckets', name], {
            body: { replication: parseReplication(value) },
          });
          printReplication(json, b);
        },
      ),
    );

  const backend = admin
    .command('backend')
    .description('storage backends (declared in the config file): usage, draining, removal');
  backend
    .command('list')
    .description('every backend: quota, stored bytes, replicas, draining, health, breaker, monthly counters, drain progress')
    .action(
      action(
        async ({ backends }, json) => printBackends(json, await backends.list({ checkHealth: true })),
        async (client, json) => printBackends(json, await client.request<BackendList>('GET', ['backends'])),
      ),
    );
  backend
    .command('drain <name>')
    .description('stop placing new blobs on a backend and move its replicas elsewhere (a running server does the moving)')
    .action(
      action(
        async ({ backends }, json, name: string) => printDrain(json, await backends.drain(name)),
        async (client, json, name: string) => printDrain(json, await client.request<DrainResult>('POST', ['backends', name, 'drain'])),
      ),
    );
  backend
    .command('rebalance')
    .description('move replicas from the fullest backends to the emptiest until their fill ratios are close (a running server does the moving)')
    .option('--tolerance <ratio>', 'stop when fill ratios differ by at most this (0 to 1)', '0.05')
    .action(
      action(
        async ({ backends }, json, opts: { tolerance: string }) => printRebalance(json, await backends.rebalance(Number(opts.tolerance))),
        async (client, json, opts: { tolerance: string }) =>
          printRebalance(json, await client.request<RebalanceResult>('POST', ['backends', 'rebalance'], { query: { tolerance: opts.tolerance } })),
      ),
    );
  backend
    .command('undrain <name>')
    .description('let a backend take new blobs again (a drain not yet finished is cancelled)')
    .action(
      action(
        async ({ backends }, json, name: string) => printUndrain(json, await backends.undrain(name)),
        async (client, json, name: string) => printUndrain(json, await client.request<UndrainResult>('POST', ['backends', name, 'undrain'])),
      ),
    );
  backend
    .command('remove <name>')
    .description(
      'forget a backend once it holds no replicas (drain it first); then delete it from the config file. ' +
        'With --force, forget the replicas still on it: the scrub re-replicates their blobs from other replicas',
    )
    .option('--force', 'forget replicas still on it (blobs with no other replica are lost)')
    .action(
      action(
        async ({ backends }, json, name: string, opts: { force?: boolean }) => printRemoved(json, await backends.remove(name, { force: opts.force })),
        async (client, json, name: string, opts: { force?: boolean }) =>
          printRemoved(json, await client.request<RemoveResult>('DELETE', ['backends', name], { query: opts.force ? { force: 'true' } : {} })),
      ),
    );

  const tasks = admin.command('tasks').description('the durable background task queue');
  tasks
    .command('list')
    .option('--status <status>', 'pending, running, done, failed or cancelled')
    .action(
      action(async ({ tasks }, json, opts: { status?: TaskStatus }) => {
        const rows = await tasks.list(opts.status);
        print(
          json,
          rows.map((t) => ({ ...t, payload: JSON.parse(t.payload) })),
          rows.map((t) => `${t.id}\t${t.type}\t${t.status}\tattempts=${t.attempts}/${t.max_attempts}\t${t.payload}\t${t.last_error ?? ''}`).join('\n') || '(none)',
        );
      }),
    );
  tasks
    .command('retry <id>')
    .description('run a failed or cancelled task again')
    .action(
      action(async ({ tasks }, json, id: string) => {
        if (!(await tasks.retry(Number(id)))) throw new Error(`task ${id} is not failed or cancelled`);
        print(json, { retried: Number(id) }, `task ${id} queued again`);
      }),
    );
  tasks
    .command('cancel <id>')
    .description('cancel a task that has not finished')
    .action(
      action(async ({ tasks }, json, id: string) => {
        if (!(await tasks.cancel(Number(id)))) throw new Error(`task ${id} has already finished`);
        print(json, { cancelled: Number(id) }, `task ${id} cancelled`);
      }),
    );

  admin
    .command('scrub')
    .description('integrity scrub results')
    .command('status')
    .action(
      action(async ({ scrubber }, json) => {
        const s = await scrubber.status();
        print(json, s, `${s.verified}/${s.blobs} blobs verified, ${s.corrupt.length} corrupt${s.corrupt.map((c) => `\n  ${c.tenantId}/${c.hash}.${c.fileId}`).join('')}`);
      }),
    );

  admin
    .command('rotate-master-key')
    .description(
      're-encrypt every stored secret under the primary master key; with --generate, first make a new data-folder key ' +
        '(the old one stays in master.key.previous so running servers keep working)',
    )
    .option('--generate', 'install a new master.key in the data folder first (not with ANVIL_MASTER_KEY: set the new key there and the old one in ANVIL_PREVIOUS_MASTER_KEYS)')
    .option('--drop-previous', 'afterwards, delete master.key.previous if no secret is still under an old key (restart every server first)')
    .action(async (cmdOpts: { generate?: boolean; dropPrevious?: boolean }, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as GlobalOpts & Record<string, string | undefined>;
      const config = loadConfig(overridesFrom(opts));
      let installed: { previousId: string; newId: string } | undefined;
      if (cmdOpts.generate) {
        if (config.masterKey) throw new Error('ANVIL_MASTER_KEY is configured: put the new key there and the old one in ANVIL_PREVIOUS_MASTER_KEYS, then run without --generate');
        installed = installNewMasterKey(config.dataDir);
      }
      const plane = await openControlPlane(config);
      try {
        const rewritten = await plane.tenants.reencryptSecrets();
        const blobKeysRewrapped = await rewrapBlobKeys(plane.meta.data, plane.keyring);
        const byKey = await plane.tenants.secretsByMasterKey();
        const blobKeys = await blobKeysByMasterKey(plane.meta.data);
        const primary = plane.tenants.primaryMasterKeyId;
        const leftovers = [...new Set([...Object.keys(byKey), ...Object.keys(blobKeys)])].filter((id) => id !== primary);
        let dropped = false;
        if (cmdOpts.dropPrevious) {
          if (leftovers.length > 0) throw new Error(`secrets are still under ${leftovers.join(', ')}; restart every server, run again, then drop`);
          if (config.masterKey) throw new Error('with ANVIL_MASTER_KEY, remove ANVIL_PREVIOUS_MASTER_KEYS from the configuration instead');
          dropped = dropPreviousMasterKeys(config.dataDir);
        }
        const result = {
          primary,
          installed: installed ?? null,
          rewritten,
          secretsByMasterKey: byKey,
          blobKeysRewrapped,
          blobKeysByMasterKey: blobKeys,
          previousDropped: dropped,
        };
        print(
          Boolean(opts.json),
          result,
          `${installed ? `new master key ${installed.newId} installed (previous ${installed.previousId} kept in master.key.previous)\n` : ''}` +
            `re-encrypted ${rewritten} secrets and re-wrapped ${blobKeysRewrapped} blob data keys under ${primary}` +
            (leftovers.length ? `\nstill under older keys (written by servers not yet restarted): ${leftovers.map((id) => `${id}=${(byKey[id] ?? 0) + (blobKeys[id] ?? 0)}`).join(', ')}` : '') +
            (dropped ? '\nmaster.key.previous removed' : ''),
        );
      } finally {
        await plane.meta.close();
      }
    });

  admin
    .command('status')
    .description('server version, region, engine and counts (tenants, buckets, task and cleanup backlogs)')
    .action(
      action(
        async ({ meta, config }, json) => printStatus(json, await serverStatus({ meta, config, version: VERSION }, null)),
        async (client, json) => printStatus(json, await client.request('GET', ['status'])),
      ),
    );

  const cleanup = admin.command('cleanup').description('the blob cleanup queue and its dead letters');
  cleanup
    .command('list')
    .description('entries waiting for cleanup (with attempts and last error)')
    .action(
      action(async ({ cleanup }, json) => {
        const rows = await cleanup.pending();
        print(json, rows, rows.map((r) => `${r.id}\t${r.hash}.${r.file_id}\tattempts=${r.attempts}\t${r.last_error ?? ''}`).join('\n') || '(empty)');
      }),
    );
  const dlq = cleanup.command('dlq').description('cleanups that failed too often');
  dlq
    .command('list')
    .action(
      action(async ({ cleanup }, json) => {
        const rows = await cleanup.deadLetters();
        print(json, rows, rows.map((r) => `${r.id}\t${r.hash}.${r.file_id}\tattempts=${r.attempts}\t${r.last_error ?? ''}`).join('\n') || '(empty)');
      }),
    );
  dlq
    .command('retry [ids...]')
    .description('move dead letters (all, or the given ids) back into the queue')
    .action(
      action(async ({ cleanup }, json, ids: string[]) => {
        const n = await cleanup.retryDeadLetters(parseIds(ids));
        const handled = await cleanup.runDue();
        print(json, { requeued: n, processed: handled }, `requeued ${n}, processed ${handled}`);
      }),
    );
  dlq
    .command('purge [ids...]')
    .description('forget dead letters (all, or the given ids); leftover files are removed as orphans at the next start')
    .action(
      action(async ({ cleanup }, json, ids: string[]) => {
        const n = await cleanup.purgeDeadLetters(parseIds(ids));
        print(json, { purged: n }, `purged ${n}`);
      }),
    );

  const key = admin.command('key').description('access keys');
  const printCreatedKey = (json: boolean, k: Parameters<typeof createdKeyJson>[0]) => {
    const out = createdKeyJson(k);
    const extra = [out.name ? `\nname:          ${out.name}` : '', out.policies ? `\npolicies:      ${JSON.stringify(out.policies)}` : ''].join('');
    print(json, out, `access key id: ${out.accessKeyId}\nsecret key:    ${out.secretAccessKey}\ntenant:        ${out.tenant}${extra}`);
  };
  key
    .command('create')
    .description('create an access key for a tenant')
    .requiredOption('--tenant <name>', 'tenant that owns the key')
    .option('--access-key <id>', 'import this access key id')
    .option('--secret-key <secret>', 'import this secret')
    .option('--name <label>', 'a label for people ("backup job")')
    .option('--policy <json>', 'scope the key: a JSON array of policy statements, or @file.json (default: tenant-wide)')
    .action(
      action(
        async ({ tenants }, json, opts: { tenant: string; accessKey?: string; secretKey?: string; name?: string; policy?: string }) => {
          const imported = importedKey(opts);
          const k = await tenants.createKey(opts.tenant, { imported, name: opts.name, policies: readPolicies(opts.policy) });
          printCreatedKey(json, { ...k, name: opts.name });
        },
        async (client, json, opts: { tenant: string; accessKey?: string; secretKey?: string; name?: string; policy?: string }) => {
          const imported = importedKey(opts);
          const k = await client.request<Parameters<typeof createdKeyJson>[0]>('POST', ['tenants', opts.tenant, 'keys'], {
            body: { name: opts.name, policies: readPolicies(opts.policy), ...imported },
          });
          printCreatedKey(json, k);
        },
      ),
    );
  const printKeys = (json: boolean, keys: AccessKeyInfo[]) =>
    print(json, keys, keys.map((k) => `${k.accessKeyId}\t${k.tenant}\t${new Date(k.createdAt).toISOString()}`).join('\n'));
  key
    .command('list')
    .description('list access keys (never their secrets)')
    .option('--tenant <name>', 'only this tenant')
    .action(
      action(
        async ({ tenants }, json, opts: { tenant?: string }) => printKeys(json, await tenants.listKeys(opts.tenant)),
        async (client, json, opts: { tenant?: string }) => printKeys(json, await remoteKeys(client, opts.tenant)),
      ),
    );
  key
    .command('delete <id>')
    .description('delete an access key (takes effect immediately)')
    .option('--tenant <name>', 'with --endpoint: the tenant of the key (found by listing when omitted)')
    .action(
      action(
        async ({ tenants }, json, id: string) => {
          const deleted = await tenants.deleteKey(id);
          if (!deleted) throw new Error(`no access key ${id}`);
          print(json, { deleted: id }, `deleted access key ${id}`);
        },
        async (client, json, id: string, opts: { tenant?: string }) => {
          const owner = opts.tenant ?? (await remoteKeys(client, undefined)).find((k) => k.accessKeyId === id)?.tenant;
          if (!owner) throw new Error(`no access key ${id}`);
          await client.request('DELETE', ['tenants', owner, 'keys', id]);
          print(json, { deleted: id }, `deleted access key ${id}`);
        },
      ),
    );

  const user = admin.command('user').description('console users (log in to the admin API)');
  type CreateUserOpts = { tenant: string; email: string; password?: string; role: string; policy?: string };
  const userInput = (opts: CreateUserOpts) => {
    if (opts.role !== 'admin' && opts.role !== 'member') throw new Error('--role must be admin or member');
    const given = opts.password ?? process.env.ANVIL_USER_PASSWORD;
    const password = given ?? crypto.randomBytes(18).toString('base64url');
    return { input: { email: opts.email, password, role: opts.role as 'admin' | 'member', policies: readPolicies(opts.policy) }, generated: given ? undefined : password };
  };
  const printCreatedUser = (json: boolean, u: UserOut, generated: string | undefined) =>
    print(
      json,
      generated ? { ...u, password: generated } : u,
      `created user ${u.email} (${u.role}, id ${u.id}) in tenant ${u.tenant}${generated ? `\npassword: ${generated}  (shown once)` : ''}`,
    );
  user
    .command('create')
    .description('create a user; without --password one is generated and printed once')
    .requiredOption('--tenant <name>', 'tenant of the user')
    .requiredOption('--email <address>', 'login email')
    .option('--password <password>', 'initial password (env ANVIL_USER_PASSWORD; at least 10 characters)')
    .option('--role <role>', 'admin (manages the tenant) or member', 'member')
    .option('--policy <json>', "a member's rights: JSON array of policy statements, or @file.json")
    .action(
      action(
        async ({ users }, json, opts: CreateUserOpts) => {
          const { input, generated } = userInput(opts);
          printCreatedUser(json, userJson(await users.createUser(opts.tenant, input), opts.tenant), generated);
        },
        async (client, json, opts: CreateUserOpts) => {
          const { input, generated } = userInput(opts);
          printCreatedUser(json, await client.request<UserOut>('POST', ['tenants', opts.tenant, 'users'], { body: input }), generated);
        },
      ),
    );
  const printUsers = (json: boolean, list: UserOut[]) => print(json, list, list.map(userLine).join('\n') || '(none)');
  user
    .command('list')
    .description("list a tenant's users")
    .requiredOption('--tenant <name>', 'tenant')
    .action(
      action(
        async ({ users }, json, opts: { tenant: string }) => printUsers(json, (await users.listUsers(opts.tenant)).map((u) => userJson(u, opts.tenant))),
        async (client, json, opts: { tenant: string }) =>
          printUsers(json, (await client.request<{ users: UserOut[] }>('GET', ['tenants', opts.tenant, 'users'])).users),
      ),
    );
  user
    .command('delete <user>')
    .description('delete a user (by email or id) with their sessions and app passwords')
    .requiredOption('--tenant <name>', 'tenant of the user')
    .action(
      action(
        async ({ users }, json, who: string, opts: { tenant: string }) => {
          const found = (await users.listUsers(opts.tenant)).find((u) => u.id === who || u.email === who.trim().toLowerCase());
          if (!found || !(await users.deleteUser(found.id))) throw new Error(`no user ${who} in tenant ${opts.tenant}`);
          print(json, { deleted: found.id, email: found.email }, `deleted user ${found.email}`);
        },
        async (client, json, who: string, opts: { tenant: string }) => {
          const { users } = await client.request<{ users: UserOut[] }>('GET', ['tenants', opts.tenant, 'users']);
          const found = users.find((u) => u.id === who || u.email === who.trim().toLowerCase());
          if (!found) throw new Error(`no user ${who} in tenant ${opts.tenant}`);
          await client.request('DELETE', ['tenants', opts.tenant, 'users', found.id]);
          print(json, { deleted: found.id, email: found.email }, `deleted user ${found.email}`);
        },
      ),
    );
}

function importedKey(opts: { accessKey?: string; secretKey?: string }) {
  if (Boolean(opts.accessKey) !== Boolean(opts.secretKey)) {
    throw new Error('--access-key and --secret-key must be given together');
  }
  return opts.accessKey ? { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey! } : undefined;
}
