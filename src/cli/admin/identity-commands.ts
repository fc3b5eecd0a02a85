/** `anvil admin tenant|key|user …`: both doors. */
import crypto from 'node:crypto';

import type { Command } from 'commander';

import { action, readPolicies } from './action.js';
import { print, printCreatedKey, printCreatedUser, printKeys, printTenant, printTenants, printUsers } from './print.js';

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
