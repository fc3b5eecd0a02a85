/**
 * `anvil admin …`: tenant and key management directly against the metadata
 * database the server uses (changes take effect on the running server at
 * once, since it reads keys from the database on every request).
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { openControlPlane } from '../app.js';
import type { TenantService } from '../core/tenants.js';
import { overridesFrom, serverFlags } from './flags.js';
import type { CoreContext } from '../core/context.js';
import { BlobStore } from '../storage/blob-store.js';
import { CleanupQueue } from '../work/cleanup.js';
import { TaskQueue } from '../work/tasks.js';
import { Scrubber } from '../work/scrub.js';
import { BucketService } from '../core/buckets.js';
import type { TaskStatus } from '../meta/schema.js';

interface AdminContext {
  tenants: TenantService;
  cleanup: CleanupQueue;
  tasks: TaskQueue;
  buckets: BucketService;
  scrubber: Scrubber;
}
type AdminAction = (tenants: TenantService, json: boolean, ...args: any[]) => Promise<void>;

function withControlPlane(action: AdminAction) {
  return withAdmin((admin, json, ...args) => action(admin.tenants, json, ...args));
}

function withAdmin(action: (admin: AdminContext, json: boolean, ...args: any[]) => Promise<void>) {
  return async (...args: any[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals();
    const config = loadConfig(overridesFrom(opts));
    const { meta, tenants } = await openControlPlane(config);
    // The queue only needs the databases and the blob folder; no server is started.
    const ctx = { meta, blobs: new BlobStore(config.dataDir), region: config.region, maxObjectSize: config.maxObjectSize } as CoreContext;
    const cleanup = new CleanupQueue(ctx, `admin:${process.pid}`);
    ctx.cleanup = cleanup;
    const admin: AdminContext = {
      tenants,
      cleanup,
      tasks: new TaskQueue(meta, `admin:${process.pid}`),
      buckets: new BucketService(ctx),
      scrubber: new Scrubber(ctx),
    };
    try {
      await action(admin, Boolean(opts.json), ...args.slice(0, -1));
    } finally {
      await meta.close();
    }
  };
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

export function registerAdminCommands(program: Command): void {
  const admin = serverFlags(program.command('admin').description('manage tenants and keys')).option('--json', 'print JSON');

  const tenant = admin.command('tenant').description('tenants');
  tenant
    .command('create <name>')
    .description('create a tenant')
    .action(
      withControlPlane(async (tenants, json, name: string) => {
        const t = await tenants.createTenant(name);
        print(json, t, `created tenant ${t.name} (id ${t.id}, canonical id ${t.canonicalId})`);
      }),
    );
  tenant
    .command('list')
    .description('list tenants')
    .action(
      withControlPlane(async (tenants, json) => {
        const list = await tenants.listTenants();
        print(json, list, list.map((t) => `${t.name}\t${t.id}\t${t.canonicalId}`).join('\n'));
      }),
    );

  const bucket = admin.command('bucket').description('buckets');
  bucket
    .command('delete <name>')
    .description('delete a bucket; with --force, a background task deletes everything in it first')
    .option('--force', 'delete the contents too (asynchronously, by the running server)')
    .action(
      withAdmin(async ({ buckets, tasks }, json, name: string, opts: { force?: boolean }) => {
        const b = await buckets.get(name);
        if (!b) throw new Error(`no bucket named ${name}`);
        if (opts.force) {
          const id = await tasks.enqueue('delete-bucket', { bucketId: b.id, bucket: name }, { priority: 50 });
          print(json, { task: id, bucket: name }, `task ${id} will delete bucket ${name} and its contents (see: anvil admin tasks list)`);
          return;
        }
        await buckets.delete(b);
        print(json, { deleted: name }, `deleted bucket ${name}`);
      }),
    );

  const tasks = admin.command('tasks').description('the durable background task queue');
  tasks
    .command('list')
    .option('--status <status>', 'pending, running, done, failed or cancelled')
    .action(
      withAdmin(async ({ tasks }, json, opts: { status?: TaskStatus }) => {
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
      withAdmin(async ({ tasks }, json, id: string) => {
        if (!(await tasks.retry(Number(id)))) throw new Error(`task ${id} is not failed or cancelled`);
        print(json, { retried: Number(id) }, `task ${id} queued again`);
      }),
    );
  tasks
    .command('cancel <id>')
    .description('cancel a task that has not finished')
    .action(
      withAdmin(async ({ tasks }, json, id: string) => {
        if (!(await tasks.cancel(Number(id)))) throw new Error(`task ${id} has already finished`);
        print(json, { cancelled: Number(id) }, `task ${id} cancelled`);
      }),
    );

  admin
    .command('scrub')
    .description('integrity scrub results')
    .command('status')
    .action(
      withAdmin(async ({ scrubber }, json) => {
        const s = await scrubber.status();
        print(json, s, `${s.verified}/${s.blobs} blobs verified, ${s.corrupt.length} corrupt${s.corrupt.map((c) => `\n  ${c.tenantId}/${c.hash}.${c.fileId}`).join('')}`);
      }),
    );

  const cleanup = admin.command('cleanup').description('the blob cleanup queue and its dead letters');
  cleanup
    .command('list')
    .description('entries waiting for cleanup (with attempts and last error)')
    .action(
      withAdmin(async ({ cleanup }, json) => {
        const rows = await cleanup.pending();
        print(json, rows, rows.map((r) => `${r.id}\t${r.hash}.${r.file_id}\tattempts=${r.attempts}\t${r.last_error ?? ''}`).join('\n') || '(empty)');
      }),
    );
  const dlq = cleanup.command('dlq').description('cleanups that failed too often');
  dlq
    .command('list')
    .action(
      withAdmin(async ({ cleanup }, json) => {
        const rows = await cleanup.deadLetters();
        print(json, rows, rows.map((r) => `${r.id}\t${r.hash}.${r.file_id}\tattempts=${r.attempts}\t${r.last_error ?? ''}`).join('\n') || '(empty)');
      }),
    );
  dlq
    .command('retry [ids...]')
    .description('move dead letters (all, or the given ids) back into the queue')
    .action(
      withAdmin(async ({ cleanup }, json, ids: string[]) => {
        const n = await cleanup.retryDeadLetters(parseIds(ids));
        const handled = await cleanup.runDue();
        print(json, { requeued: n, processed: handled }, `requeued ${n}, processed ${handled}`);
      }),
    );
  dlq
    .command('purge [ids...]')
    .description('forget dead letters (all, or the given ids); leftover files are removed as orphans at the next start')
    .action(
      withAdmin(async ({ cleanup }, json, ids: string[]) => {
        const n = await cleanup.purgeDeadLetters(parseIds(ids));
        print(json, { purged: n }, `purged ${n}`);
      }),
    );

  const key = admin.command('key').description('access keys');
  key
    .command('create')
    .description('create an access key for a tenant')
    .requiredOption('--tenant <name>', 'tenant that owns the key')
    .option('--access-key <id>', 'import this access key id')
    .option('--secret-key <secret>', 'import this secret')
    .action(
      withControlPlane(async (tenants, json, opts: { tenant: string; accessKey?: string; secretKey?: string }) => {
        if (Boolean(opts.accessKey) !== Boolean(opts.secretKey)) {
          throw new Error('--access-key and --secret-key must be given together');
        }
        const imported = opts.accessKey ? { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey! } : undefined;
        const k = await tenants.createKey(opts.tenant, { imported });
        print(json, k, `access key id: ${k.accessKeyId}\nsecret key:    ${k.secretAccessKey}\ntenant:        ${k.tenant}`);
      }),
    );
  key
    .command('list')
    .description('list access keys (never their secrets)')
    .option('--tenant <name>', 'only this tenant')
    .action(
      withControlPlane(async (tenants, json, opts: { tenant?: string }) => {
        const keys = await tenants.listKeys(opts.tenant);
        print(json, keys, keys.map((k) => `${k.accessKeyId}\t${k.tenant}\t${k.createdAt.toISOString()}`).join('\n'));
      }),
    );
  key
    .command('delete <id>')
    .description('delete an access key (takes effect immediately)')
    .action(
      withControlPlane(async (tenants, json, id: string) => {
        const deleted = await tenants.deleteKey(id);
        if (!deleted) throw new Error(`no access key ${id}`);
        print(json, { deleted: id }, `deleted access key ${id}`);
      }),
    );
}
