/**
 * `anvil config check FILE`: the file and the environment resolved and
 * validated exactly as `anvil server` would (checkConfig), without starting
 * anything or touching the data folder. Valid: the resolved configuration
 * (secrets masked, each value's source as a comment) on stdout, warnings on
 * stderr, exit 0. Invalid: every problem on stderr, exit 1.
 */
import type { Command } from 'commander';

import { configWarnings } from '../config/advice.js';
import { checkConfig } from '../config/config.js';
import { describeConfig } from '../config/describe.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check a configuration file');
  config
    .command('check')
    .description('validate FILE and the ANVIL_* environment as `anvil server` would, and print the resolved configuration')
    .argument('<file>', 'YAML config file')
    .action((file: string) => {
      const checked = checkConfig({ configFile: file }, process.env);
      if (!checked.config) {
        const n = checked.problems.length;
        process.stderr.write(`${file}: ${n} problem${n === 1 ? '' : 's'}\n${checked.problems.map((p) => `  - ${p}\n`).join('')}`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `# ${file} is valid. Resolved with the environment (secrets masked):\n${describeConfig({ ...checked, config: checked.config })}`,
      );
      for (const w of configWarnings(checked.config)) process.stderr.write(`warning: ${w}\n`);
    });
}
