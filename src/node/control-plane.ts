/**
 * The control plane: the metadata databases (migrated), the master keyring
 * and the identity services. What the server and `anvil admin` (without
 * --endpoint) share, and the first step of every node assembly.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import { type SessionOptions, SessionService } from '../core/sessions.js';
import { TenantService } from '../core/tenants.js';
import { TokenSigner } from '../core/tokens.js';
import { UserService } from '../core/users.js';
import { loadMasterKeyring, MASTER_KEY_FILE, type MasterKeyring } from '../crypto/master-keys.js';
import { databaseFileOf } from '../meta/database-url.js';
import { type MetaDatabases, openMetaDatabases } from '../meta/engine.js';
import { migrateAll } from '../meta/migrate.js';
import { withClusterLock } from '../work/leader.js';
import { LOCKS } from '../work/task-names.js';

export interface ControlPlane {
  meta: MetaDatabases;
  tenants: TenantService;
  users: UserService;
  signer: TokenSigner;
  sessions: SessionService;
  /** The master key and the previous ones (wraps secrets and blob data keys). */
  keyring: MasterKeyring;
}

export interface ControlPlaneOptions {
  log?: Logger;
  sessions?: SessionOptions;
  /**
   * Create what a first start creates (the data folder, master.key, the
   * SQLite file, the schema): the server only, under its data-folder lock.
   * Without it (`anvil admin`) only an existing deployment is opened, so a
   * wrong --data-dir or --database-url fails clearly instead of making a
   * fresh, empty deployment.
   */
  create?: boolean;
}

/** The schema's migration table: present once a server has started on the database. */
const MIGRATED_MARKER = 'anvil_migrations_global';

/** Opens and migrates the metadata databases and the master key: what the server and `anvil admin` share. */
export async function openControlPlane(config: Config, opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const { log, create = false } = opts;
  if (create) fs.mkdirSync(config.dataDir, { recursive: true });
  else requireDeploymentFiles(config);
  const keyring = loadMasterKeyring(config.masterKey, config.previousMasterKeys, config.dataDir);
  const meta = openMetaDatabases(config.databaseUrl, {
    onIdleError: (err) => log?.warn({ err }, 'idle database connection lost'),
    mustExist: !create,
  });
  try {
    if (!create) {
      const tables = await meta.control.introspection.getTables({ withInternalKyselyTables: true });
      if (!tables.some((t) => t.name === MIGRATED_MARKER)) {
        throw new Error(
          `no Anvil deployment in the database ${redactUrl(config.databaseUrl)}: start \`anvil server\` on it once first, or pass the server's --database-url`,
        );
      }
    }
    // Kysely's migrator locks too; one lock around both schemas also covers creating its tables.
    await withClusterLock(meta, LOCKS.migrate, () => migrateAll(meta));
  } catch (err) {
    await meta.close();
    throw err;
  }
  const tenants = new TenantService(meta.control, keyring);
  const users = new UserService(meta.control, meta.kind, tenants);
  const signer = new TokenSigner(tenants);
  const sessions = new SessionService(meta.control, meta.kind, users, signer, opts.sessions ?? {});
  return { meta, tenants, users, signer, sessions, keyring };
}

/** Without --create: the files a first start made must be there (the database is checked once open). */
function requireDeploymentFiles(config: Config): void {
  if (!config.masterKey && !fs.existsSync(path.join(config.dataDir, MASTER_KEY_FILE))) {
    throw new Error(
      `no Anvil deployment in ${config.dataDir}: ${MASTER_KEY_FILE} is missing ` +
        "(start `anvil server` there once first, or pass the server's --data-dir, or its ANVIL_MASTER_KEY)",
    );
  }
  const file = databaseFileOf(config.databaseUrl);
  if (file !== undefined && !fs.existsSync(file)) {
    throw new Error(
      `no Anvil deployment at ${file}: the SQLite file does not exist (start \`anvil server\` once first, or pass the server's --database-url)`,
    );
  }
}

/** A database URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL the parser takes (sqlite:PATH): it has no password to hide.
    return url;
  }
}
