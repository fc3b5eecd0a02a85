/** The `anvil` command: `anvil server` and `anvil admin …`. */
import { Command } from 'commander';
import pino from 'pino';

import { startAnvil } from '../app.js';
import { loadConfig } from '../config/config.js';
import { installProcessGuard } from '../http/process-guard.js';
import { startTracing } from '../node/tracing.js';
import { registerAdminCommands } from './admin.js';
import { overridesFrom, serverFlags } from './flags.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('anvil').description('Anvil: an S3-compatible object store');
  serverFlags(program.command('server').description('run the S3 server'))
    .option('--root-access-key <id>', 'root access key to create or verify (env ANVIL_ROOT_ACCESS_KEY)')
    .option('--root-secret-key <secret>', 'root secret key (env ANVIL_ROOT_SECRET_KEY)')
    .action(async (opts) => {
      const config = loadConfig({
        ...overridesFrom(opts),
        rootAccessKey: opts.rootAccessKey,
        rootSecretKey: opts.rootSecretKey,
      });
      const log = pino({ level: config.logLevel });
      // Installed before anything starts: from here on a stray error fails one request, not the process.
      installProcessGuard(log);
      const tracing = await startTracing(config, log);
      const anvil = await startAnvil(config, log);
      const lines = [
        `Anvil listening on ${anvil.endpoint}  (region ${config.region}, data in ${config.dataDir})`,
        `  metadata: ${anvil.meta.kind}`,
        `  root access key: ${anvil.root.accessKeyId}`,
      ];
      if (anvil.root.secretAccessKey) {
        lines.push(`  root secret key: ${anvil.root.secretAccessKey}`);
        lines.push(`  (saved to ${anvil.root.file}; it will not be printed again)`);
      } else if (!config.rootAccessKey) {
        lines.push(`  root secret key: see ${anvil.root.file}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
      const stop = async () => {
        await anvil.close();
        await tracing?.shutdown();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  registerAdminCommands(program);
  await program.parseAsync(argv);
}
