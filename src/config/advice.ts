/**
 * Configurations that are valid but unwise: warned about at start and by
 * `anvil config check`, never refused.
 */
import path from 'node:path';

import type { Config } from './config.js';

/** Where the primary master key comes from: the setting itself, a key file, or the data folder's master.key. */
export function masterKeyFileOf(config: Config): string | undefined {
  if (config.masterKey) return undefined;
  return config.masterKeyFile ?? path.join(config.dataDir, 'master.key');
}

function inside(folder: string, file: string): boolean {
  const rel = path.relative(path.resolve(folder), path.resolve(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * The master key in a file inside the data folder, where blobs of other
 * backends are stored too, or copied off-site: whoever gets a copy of the
 * data folder (a backup, a disk) holds the key to every backend's blobs and
 * every stored secret. README § Files and secrets.
 */
export function masterKeyWarning(config: Config): string | undefined {
  const file = masterKeyFileOf(config);
  if (!file || !inside(config.dataDir, file)) return undefined;
  const { backends } = config.storage;
  const remote = backends.filter((b) => b.type !== 'fs').map((b) => b.name);
  if (backends.length < 2 && remote.length === 0) return undefined;
  const why = remote.length ? `remote backend${remote.length > 1 ? 's' : ''} ${remote.join(', ')}` : `${backends.length} backends`;
  return (
    `the master key is in the data folder (${file}), with ${why}: a copy of the data folder holds the key to every backend's blobs. ` +
    'Keep it elsewhere: ANVIL_MASTER_KEY (from a secret store) or master_key_file / ANVIL_MASTER_KEY_FILE outside the data folder ' +
    '(README § Files and secrets)'
  );
}

export function configWarnings(config: Config): string[] {
  return [masterKeyWarning(config)].filter((w): w is string => w !== undefined);
}
