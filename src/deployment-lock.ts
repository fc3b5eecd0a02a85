/**
 * What a starting server locks before it touches anything (see
 * blobs/folder-lock.ts for the mechanism):
 *
 * - the data folder (`<data>/anvil.lock`): exclusively, so a second server
 *   on a live folder is refused before it migrates, reconciles (which removes
 *   staged files it takes for dead ones), creates keys or node ids. The one
 *   exception is PostgreSQL with a configured ANVIL_NODE_ID: nodes that share
 *   a folder are told apart by their node ids (their writes in progress are
 *   recorded as intents, which the start-up reconciliation respects), so
 *   they take it shared, and each takes its node id's lock exclusively.
 * - a SQLite metadata file (`<file>.lock`), exclusively: two servers with
 *   different data folders on one SQLite file would each take the other's
 *   blobs for missing ones.
 *
 * `anvil admin` takes none of these: it only does database work that is
 * safe beside a server (see cli/admin.ts), and must not keep a server from
 * starting while it runs.
 */
import crypto from 'node:crypto';
import path from 'node:path';

import { acquireLock, type HeldLock, type LockMode, thisProcess } from './blobs/folder-lock.js';
import type { Config } from './config/config.js';
import { databaseFileOf, isSharedDatabase } from './meta/database-url.js';

export const DATA_FOLDER_LOCK = 'anvil.lock';

export interface DeploymentLocks {
  /** Records the endpoint in the holder records once the server listens. */
  listening(endpoint: string): void;
  release(): void;
}

export function lockDeployment(config: Config, startedAt: number): DeploymentLocks {
  const sharedDatabase = isSharedDatabase(config.databaseUrl);
  const sharedFolder = sharedDatabase && config.nodeId !== undefined;
  const held: Array<{ lock: HeldLock; mode: LockMode }> = [];
  const take = (file: string, mode: LockMode, what: string, advice: string) => {
    held.push({ lock: acquireLock(file, mode, what, advice), mode });
  };
  const record = (listen: string) => {
    for (const { lock, mode } of held) lock.record(thisProcess(listen, startedAt, mode, config.nodeId));
  };
  const release = () => {
    for (const { lock } of held.splice(0).reverse()) lock.release();
  };
  try {
    take(
      path.join(config.dataDir, DATA_FOLDER_LOCK),
      sharedFolder ? 'shared' : 'exclusive',
      `the data folder ${config.dataDir}`,
      sharedDatabase
        ? 'Stop that server first, give this one its own data folder, or give every server sharing the folder its own ANVIL_NODE_ID.'
        : 'Stop that server first, or give this one its own data folder.',
    );
    if (sharedFolder) {
      const id = crypto.createHash('sha256').update(config.nodeId!).digest('hex').slice(0, 16);
      take(
        path.join(config.dataDir, `anvil.node-${id}.lock`),
        'exclusive',
        `node id ${config.nodeId} in the data folder ${config.dataDir}`,
        'Give each server sharing a data folder its own ANVIL_NODE_ID.',
      );
    }
    const file = databaseFileOf(config.databaseUrl);
    if (file) {
      take(`${file}.lock`, 'exclusive', `the SQLite database ${file}`, 'Stop that server first: one SQLite file serves one server.');
    }
  } catch (err) {
    release();
    throw err;
  }
  // Only once every lock is ours: a refused start must not overwrite the holder's record.
  record(config.listen);
  return { listening: record, release };
}
