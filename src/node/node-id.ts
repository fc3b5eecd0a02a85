import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Config } from '../config/config.js';

/**
 * This node's id: whose write intents are whose. Configured (ANVIL_NODE_ID),
 * or the host name plus an id kept in the data folder, so nodes on different
 * hosts sharing one folder differ. It must stay the same across restarts of
 * a node, so that its dead intents are recognised as its own.
 */
export function nodeIdFor(config: Config): string {
  if (config.nodeId) return config.nodeId;
  const file = path.join(config.dataDir, 'node.id');
  let folderId: string;
  if (fs.existsSync(file)) folderId = fs.readFileSync(file, 'utf8').trim();
  else {
    folderId = crypto.randomBytes(8).toString('hex');
    fs.writeFileSync(file, folderId + '\n', { mode: 0o600 });
  }
  return `${os.hostname()}:${folderId}`;
}
