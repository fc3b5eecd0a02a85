/** Flags shared by `anvil server` and `anvil admin`, mapped onto configuration overrides. */
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
