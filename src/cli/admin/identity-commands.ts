/** `anvil admin tenant|key|user …`: both doors. */
import crypto from 'node:crypto';

import type { Command } from 'commander';

import { parseRate, parseSize } from '../../config/units.js';
import { action, parseObjects, quotaOption, readPolicies } from './action.js';
import { print, printCreatedKey, printCreatedUser, printKeys, printTenant, printTenantDetails, printTenants, printUsers } from './print.js';

/** A rate-limit option: `100/s`, `6000/min`, `unlimited` (0), `default` (null); absent: unchanged. */
function rateOption(name: string, value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'default') return null;
  if (value === 'unlimited' || value === 'none') return 0;
  try {
    return parseRate(value);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}, "unlimited" or "default"`, { cause: err });
  }
}

function burstOption(name: string, value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'default') return null;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`${name} must be a positive whole number or "default"`);
  return Number(value);
}

export function registerIdentityCommands(admin: Command): void {
  const tenant = admin.command('tenant').description('tenants');
  tenant
    .command('create <name>')
    .description('create a tenant')
    .action(action(async (door, json, name: string) => printTenant(json, await door.createTenant(name))));
  tenant
    .command('list')
    .description('list tenants')
    .action(action(async (door, json) => printTenants(json, await door.listTenants())));
  tenant
    .command('delete <name>')
    .description('delete a tenant with its keys and users; refused while it owns buckets, unless --force')
    .option('--force', 'revoke its access now, then delete every bucket it owns (all versions) and it, as a background task')
    .action(
      action(async (door, json, name: string, opts: { force?: boolean }) => {
        const r = await door.deleteTenant(name, Boolean(opts.force));
        print(
          json,
          r,
          r.deleted
            ? `tenant ${r.tenant} deleted`
            : `tenant ${r.tenant}: access revoked; task ${r.task} deletes its ${r.buckets} bucket(s), then it (see \`anvil admin tasks list\`)`,
        );
      }),
    );
  tenant
    .command('show <name>')
    .description('a tenant: its storage quota with the usage it counts, and its request rate limits')
    .action(action(async (door, json, name: string) => printTenantDetails(json, await door.showTenant(name))));
  tenant
    .command('set-quota <name>')
    .description('storage quota over all its buckets: every stored version (and parts of uploads in progress) counts')
    .option('--bytes <size>', 'bytes at most: 10GiB, 500MB…, or "none"')
    .option('--objects <n>', 'stored versions at most, or "none"')
    .action(
      action(async (door, json, name: string, opts: { bytes?: string; objects?: string }) => {
        const quota = {
          bytes: quotaOption('--bytes', opts.bytes, parseSize),
          objects: quotaOption('--objects', opts.objects, parseObjects),
        };
        if (quota.bytes === undefined && quota.objects === undefined) throw new Error('give --bytes, --objects or both');
        printTenantDetails(json, await door.setTenantLimits(name, { quota }));
      }),
    );
  tenant
    .command('set-rate-limit <name>')
    .description("S3 request rate limits of the tenant (all its keys together) and of each of its keys, per node; replace the server's")
    .option('--rate <rate>', 'the tenant: 100/s, 6000/min…, "unlimited", or "default" (the server setting)')
    .option('--burst <n>', 'requests at once above the rate, or "default"')
    .option('--key-rate <rate>', 'each access key: 10/s…, "unlimited" or "default"')
    .option('--key-burst <n>', 'each key\'s burst, or "default"')
    .action(
      action(async (door, json, name: string, opts: { rate?: string; burst?: string; keyRate?: string; keyBurst?: string }) => {
        const rateLimit = {
          requestsPerSecond: rateOption('--rate', opts.rate),
          burst: burstOption('--burst', opts.burst),
          perKeyRequestsPerSecond: rateOption('--key-rate', opts.keyRate),
          perKeyBurst: burstOption('--key-burst', opts.keyBurst),
        };
        if (Object.values(rateLimit).every((v) => v === undefined)) throw new Error('give --rate, --burst, --key-rate or --key-burst');
        printTenantDetails(json, await door.setTenantLimits(name, { rateLimit }));
      }),
    );

  const key = admin.command('key').description('access keys');
  key
    .command('create')
    .description('create an access key for a tenant')
    .requiredOption('--tenant <name>', 'tenant that owns the key')
    .option('--access-key <id>', 'import this access key id')
    .option('--secret-key <secret>', 'import this secret')
    .option('--name <label>', 'a label for people ("backup job")')
    .option('--policy <json>', 'scope the key: a JSON array of policy statements, or @file.json (default: tenant-wide)')
    .action(
      action(async (door, json, opts: { tenant: string; accessKey?: string; secretKey?: string; name?: string; policy?: string }) => {
        const imported = importedKey(opts);
        printCreatedKey(json, await door.createKey(opts.tenant, { imported, name: opts.name, policies: readPolicies(opts.policy) }));
      }),
    );
  key
    .command('list')
    .description('list access keys (never their secrets)')
    .option('--tenant <name>', 'only this tenant')
    .action(action(async (door, json, opts: { tenant?: string }) => printKeys(json, await door.listKeys(opts.tenant))));
  key
    .command('delete <id>')
    .description('delete an access key (takes effect immediately)')
    .option('--tenant <name>', 'with --endpoint: the tenant of the key (found by listing when omitted)')
    .action(
      action(async (door, json, id: string, opts: { tenant?: string }) => {
        await door.deleteKey(id, opts.tenant);
        print(json, { deleted: id }, `deleted access key ${id}`);
      }),
    );

  const user = admin.command('user').description('console users (log in to the admin API)');
  type CreateUserOpts = { tenant: string; email: string; password?: string; role: string; policy?: string };
  user
    .command('create')
    .description('create a user; without --password one is generated and printed once')
    .requiredOption('--tenant <name>', 'tenant of the user')
    .requiredOption('--email <address>', 'login email')
    .option('--password <password>', 'initial password (env ANVIL_USER_PASSWORD; at least 10 characters)')
    .option('--role <role>', 'admin (manages the tenant) or member', 'member')
    .option('--policy <json>', "a member's rights: JSON array of policy statements, or @file.json")
    .action(
      action(async (door, json, opts: CreateUserOpts) => {
        if (opts.role !== 'admin' && opts.role !== 'member') throw new Error('--role must be admin or member');
        const given = opts.password ?? process.env.ANVIL_USER_PASSWORD;
        const password = given ?? crypto.randomBytes(18).toString('base64url');
        const created = await door.createUser(opts.tenant, {
          email: opts.email,
          password,
          role: opts.role,
          policies: readPolicies(opts.policy),
        });
        printCreatedUser(json, created, given ? undefined : password);
      }),
    );
  user
    .command('list')
    .description("list a tenant's users")
    .requiredOption('--tenant <name>', 'tenant')
    .action(action(async (door, json, opts: { tenant: string }) => printUsers(json, await door.listUsers(opts.tenant))));
  user
    .command('delete <user>')
    .description('delete a user (by email or id) with their sessions and app passwords')
    .requiredOption('--tenant <name>', 'tenant of the user')
    .action(
      action(async (door, json, who: string, opts: { tenant: string }) => {
        const deleted = await door.deleteUser(opts.tenant, who);
        print(json, { deleted: deleted.id, email: deleted.email }, `deleted user ${deleted.email}`);
      }),
    );
}

function importedKey(opts: { accessKey?: string; secretKey?: string }) {
  if (Boolean(opts.accessKey) !== Boolean(opts.secretKey)) {
    throw new Error('--access-key and --secret-key must be given together');
  }
  return opts.accessKey ? { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey! } : undefined;
}
