/** The `anvil` command: `anvil server`, `anvil admin …`, the branch commands (`anvil branch|commit|log|diff|merge|tag|revert`) and `anvil events tail`. */
import { Command } from 'commander';
import pino from 'pino';

import { type Anvil, startAnvil, VERSION } from '../app.js';
import { loadConfig } from '../config/config.js';
import { installProcessGuard } from '../http/process-guard.js';
import { startTracing } from '../node/tracing.js';
import { registerAdminCommands } from './admin.js';
import { startBanner } from './banner.js';
import { registerBranchCommands } from './branches.js';
import { registerConfigCommands } from './config-command.js';
import { registerEventCommands } from './events.js';
import { overridesFrom, serverFlags } from './flags.js';
import { reloadOnSignal } from './reload.js';

export async function main(argv: string[]): Promise<void> {
  // Everything Anvil creates (data folder, database, keys, blobs) is the server user's alone; the
  // places that create files also pass 0700/0600 explicitly (README § Files and secrets).
  process.umask(0o077);
  const program = new Command('anvil')
    .description('Anvil: an S3-compatible object store')
    .version(VERSION, '-V, --version', 'print the version');
  serverFlags(program.command('server').description('run the S3 server'))
    .option('--root-access-key <id>', 'root access key to create or verify (env ANVIL_ROOT_ACCESS_KEY)')
    .option('--root-secret-key <secret>', 'root secret key (env ANVIL_ROOT_SECRET_KEY)')
    .action(async (opts) => {
      const overrides = { ...overridesFrom(opts), rootAccessKey: opts.rootAccessKey, rootSecretKey: opts.rootSecretKey };
      const config = loadConfig(overrides);
      const log = pino({ level: config.logLevel });
      // Installed before anything starts: from here on a stray error fails one request, not the process.
      installProcessGuard(log);
      // SIGHUP: re-read the file and apply what can change live (src/node/reload.ts). Handled from
      // here on (its default action ends the process); one that comes during the start is applied
      // once the server is up, since the file may have changed after it was read.
      const hup: { serving?: Anvil; duringStart: boolean } = { duringStart: false };
      process.on('SIGHUP', () => {
        if (hup.serving) void reloadOnSignal(hup.serving, overrides, log);
        else hup.duringStart = true;
      });
      const tracing = await startTracing(config, log);
      const anvil = await startAnvil(config, log);
      hup.serving = anvil;
      process.stdout.write(startBanner(anvil, config));
      if (hup.duringStart) void reloadOnSignal(anvil, overrides, log);
      // SIGTERM/SIGINT drain (README § Operations › Shutdown); a second one cuts what is still in flight.
      const cut = new AbortController();
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          log.warn({ signal }, 'shutdown: second signal, cutting the requests in flight now');
          cut.abort();
          return;
        }
        stopping = true;
        log.info({ signal, timeoutSeconds: config.shutdownTimeout }, 'shutdown: signal received');
        anvil.close({ drainMs: config.shutdownTimeout * 1000, cut: cut.signal }).then(
          async () => {
            log.info('shutdown: complete');
            await tracing?.shutdown();
            process.exit(0);
          },
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  registerAdminCommands(program);
  registerBranchCommands(program);
  registerEventCommands(program);
  registerConfigCommands(program);
  await program.parseAsync(argv);
}
