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

interface AdminContext {
  tenants: TenantService;
  cleanup: CleanupQueue;
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
    const ctx = { meta, blobs: new BlobStore(config.dataDir) } as CoreContext;
    const cleanup = new CleanupQueue(ctx, `admin:${process.pid}`);
    ctx.cleanup = cleanup;
    try {
      await action({ tenants, cleanup }, Boolean(opts.json), ...args.slice(0, -1));
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
        const k = await tenants.createKey(opts.tenant, imported);
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
