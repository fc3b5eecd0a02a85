/**
 * SIGHUP: the configuration is read again (same flags, environment and
 * file) and handed to the running server. A file that does not validate
 * changes nothing: every problem is logged. Otherwise the log says what now
 * applies and what would need a restart.
 */
import type { Logger } from 'pino';

import type { Anvil } from '../app.js';
import { checkConfig, type ConfigOverrides } from '../config/config.js';

export async function reloadOnSignal(anvil: Anvil, overrides: ConfigOverrides, log: Logger): Promise<void> {
  const checked = checkConfig(overrides, process.env);
  if (!checked.config) {
    log.error({ problems: checked.problems, file: checked.file }, 'configuration reload refused: nothing changed');
    return;
  }
  try {
    const { applied, needRestart } = await anvil.reload(checked.config);
    log.info({ applied, needRestart, file: checked.file }, 'configuration reloaded');
    if (needRestart.length) log.warn({ needRestart }, 'changed settings that apply only after a restart (the running values stay)');
  } catch (err) {
    log.error({ err }, 'configuration reload failed part-way');
  }
}
