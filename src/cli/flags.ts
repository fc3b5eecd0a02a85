/** Flags shared by `anvil server`, `anvil admin` and the branch commands, mapped onto configuration overrides. */
import type { Command } from 'commander';

import type { ConfigOverrides } from '../config/config.js';

export function serverFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML config file (env ANVIL_CONFIG)')
    .option('--listen <host:port>', 'address to listen on (env ANVIL_LISTEN)')
    .option('--data-dir <dir>', 'data folder (env ANVIL_DATA_DIR)')
    .option('--database-url <url>', 'sqlite:PATH or postgres://… (env ANVIL_DATABASE_URL)')
    .option('--region <name>', 'region name (env ANVIL_REGION)')
    .option('--domain <name>', 'base domain for virtual-host-style buckets (env ANVIL_DOMAIN)')
    .option('--master-key <key>', '32-byte master key, hex or base64 (env ANVIL_MASTER_KEY)')
    .option('--master-key-file <file>', 'file holding the master key, outside the data folder (env ANVIL_MASTER_KEY_FILE)')
    .option('--log-level <level>', 'log level (env ANVIL_LOG_LEVEL)');
}

/**
 * The flags of a command that reaches a server through a door (cli/admin/action.ts):
 * the server's own (for the database) plus --json and the admin API's --endpoint and key.
 */
export function doorFlags(cmd: Command): Command {
  return serverFlags(cmd)
    .option('--json', 'print JSON')
    .option('--endpoint <url>', 'go through the admin API of this running server instead of the database (env ANVIL_ENDPOINT)')
    .option('--auth-access-key <id>', 'with --endpoint: access key to sign with (env ANVIL_ACCESS_KEY, else ANVIL_ROOT_ACCESS_KEY)')
    .option('--auth-secret-key <secret>', 'with --endpoint: its secret (env ANVIL_SECRET_KEY, else ANVIL_ROOT_SECRET_KEY)');
}

export function overridesFrom(opts: Record<string, string | undefined>): ConfigOverrides {
  return {
    configFile: opts.config,
    listen: opts.listen,
    dataDir: opts.dataDir,
    databaseUrl: opts.databaseUrl,
    region: opts.region,
    domain: opts.domain,
    masterKey: opts.masterKey,
    masterKeyFile: opts.masterKeyFile,
    logLevel: opts.logLevel,
  };
}
