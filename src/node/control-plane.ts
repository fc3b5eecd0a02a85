/**
 * The control plane: the metadata databases (migrated), the master keyring
 * and the identity services. What the server and `anvil admin` (without
 * --endpoint) share, and the first step of every node assembly.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Logger } from 'pino';

import { masterKeyFileOf } from '../config/advice.js';
import type { Config } from '../config/config.js';
import { maskUrl } from '../config/describe.js';
import { SessionCredentialService } from '../core/session-credentials.js';
import { type SessionOptions, SessionService } from '../core/sessions.js';
import { TenantService } from '../core/tenants.js';
import { TokenSigner } from '../core/tokens.js';
import { UserService } from '../core/users.js';
import { loadMasterKeyring, MASTER_KEY_FILE, type MasterKeyring, MissingMasterKeyError } from '../crypto/master-keys.js';
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
  /** S3 credentials for user sessions (the web console signs S3 requests with them). */
  sessionCredentials: SessionCredentialService;
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
  if (create) fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  else requireDeploymentFiles(config);
  const meta = openMetaDatabases(config.databaseUrl, {
    onIdleError: (err) => log?.warn({ err }, 'idle database connection lost'),
    mustExist: !create,
  });
  let keyring: MasterKeyring;
  try {
    const tables = await meta.control.introspection.getTables({ withInternalKyselyTables: true });
    const deployed = tables.some((t) => t.name === MIGRATED_MARKER);
    if (!create && !deployed) {
      throw new Error(
        `no Anvil deployment in the database ${maskUrl(config.databaseUrl)}: start \`anvil server\` on it first, or pass --data-dir / --database-url (the server's)`,
      );
    }
    // The database is one, but the blobs in the data folder are part of it too (opening the
    // backends would create the folder).
    if (!create && !fs.existsSync(config.dataDir)) {
      throw new Error(`no Anvil deployment in ${config.dataDir}: the data folder does not exist; ${WHERE}`);
    }
    // A key is generated only for a new deployment: an existing one whose key file is missing
    // would otherwise start with a fresh key that decrypts none of its secrets.
    const keyFile = masterKeyFileOf(config) ?? path.join(config.dataDir, MASTER_KEY_FILE);
    try {
      keyring = loadMasterKeyring(config.masterKey, config.previousMasterKeys, keyFile, { generate: create && !deployed });
    } catch (err) {
      if (!(err instanceof MissingMasterKeyError)) throw err;
      throw new Error(
        `${err.message}, and the database ${maskUrl(config.databaseUrl)} holds a deployment whose secrets it encrypts: ` +
          "restore the file, or give the deployment's key (ANVIL_MASTER_KEY, or master_key_file / ANVIL_MASTER_KEY_FILE)",
        { cause: err },
      );
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
  const sessionCredentials = new SessionCredentialService(tenants, sessions);
  tenants.temporaryKeys = sessionCredentials;
  return { meta, tenants, users, signer, sessions, sessionCredentials, keyring };
}

/** Which deployment a command opened, for stderr: the data folder, the database (password masked) and its engine. */
export function describeDeployment(config: Config, plane: ControlPlane): string {
  return `Anvil deployment: data folder ${config.dataDir}, database ${maskUrl(config.databaseUrl)} (${plane.meta.kind})`;
}

const WHERE = "start `anvil server` there first, or pass --data-dir / --database-url (the server's)";

/** Without `create`: the files a first start made must be there (the database is checked once open). */
function requireDeploymentFiles(config: Config): void {
  const keyFile = masterKeyFileOf(config);
  if (keyFile && !fs.existsSync(keyFile)) {
    throw new Error(
      config.masterKeyFile
        ? `no Anvil deployment: the master key file ${keyFile} does not exist (master_key_file / ANVIL_MASTER_KEY_FILE)`
        : `no Anvil deployment in ${config.dataDir}: ${MASTER_KEY_FILE} is missing; ${WHERE} (or the server's ANVIL_MASTER_KEY / master_key_file)`,
    );
  }
  const file = databaseFileOf(config.databaseUrl);
  if (file !== undefined && !fs.existsSync(file)) {
    throw new Error(`no Anvil deployment at ${file}: the SQLite file does not exist; ${WHERE}`);
  }
}
