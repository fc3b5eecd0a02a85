/**
 * The data folder holds the metadata database (password hashes, wrapped
 * secrets and data keys), master.key and the root credentials: it is
 * private to the server's user. New deployments are created that way (mode
 * 0700 folders and 0600 files where each is made, and `anvil` runs under
 * umask 077); this tightens deployments made before.
 *
 * What is changed without asking, and what is only warned about: the data
 * folder's own mode (0700 closes everything below it to other users) and
 * the files Anvil knows hold secrets (0600). Anything else under the folder
 * is the operator's: loose entries at its top level are named in a warning
 * with the command that fixes them, never changed, and the blob tree is not
 * walked (it may hold millions of files, and the 0700 folder already closes
 * it off).
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Logger } from 'pino';

import { masterKeyFileOf } from '../config/advice.js';
import type { Config } from '../config/config.js';
import { databaseFileOf } from '../meta/database-url.js';

/** The files holding secrets (or naming them), by path. */
function secretFiles(config: Config): string[] {
  const files = ['master.key', 'master.key.previous', 'root-credentials.json'].map((f) => path.join(config.dataDir, f));
  const keyFile = masterKeyFileOf(config);
  if (keyFile) files.push(keyFile, `${keyFile}.previous`);
  const db = databaseFileOf(config.databaseUrl);
  if (db !== undefined && db !== ':memory:') files.push(db, `${db}-wal`, `${db}-shm`);
  return [...new Set(files)];
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

export interface PermissionReport {
  /** Paths whose mode was tightened (the data folder, secret files). */
  tightened: string[];
  /** Other entries at the top of the data folder that other users could read (left as they are). */
  loose: string[];
}

/** Tightens the data folder and the secret files, and warns about anything else loose at its top level. */
export function securePermissions(config: Config, log?: Logger): PermissionReport {
  const report: PermissionReport = { tightened: [], loose: [] };
  const tighten = (file: string, mode: number, what: string) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      // Not there (yet): nothing to tighten.
      return;
    }
    if ((st.mode & 0o077) === 0) return;
    try {
      fs.chmodSync(file, mode);
      report.tightened.push(file);
      log?.warn({ path: file, was: octal(st.mode), now: octal(mode) }, `${what} was readable by other users: tightened`);
    } catch (err) {
      log?.warn({ path: file, mode: octal(st.mode), err }, `${what} is readable by other users and could not be tightened`);
    }
  };
  tighten(config.dataDir, 0o700, 'the data folder');
  const secrets = secretFiles(config);
  for (const f of secrets) tighten(f, 0o600, 'a file holding secrets');

  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(config.dataDir, { withFileTypes: true });
  } catch {
    // No data folder (a database elsewhere, nothing created yet): nothing to look at.
  }
  for (const e of entries) {
    const p = path.join(config.dataDir, e.name);
    if (secrets.includes(p)) continue;
    try {
      if (fs.lstatSync(p).mode & 0o077) report.loose.push(e.name);
    } catch {
      // Removed meanwhile (a temp file): nothing to report.
    }
  }
  if (report.loose.length) {
    const closed = entries.length > 0 && (fs.statSync(config.dataDir).mode & 0o077) === 0;
    log?.warn(
      { dataDir: config.dataDir, entries: report.loose },
      `entries in the data folder are readable by other users${closed ? ' (the folder itself is 0700, which closes them off)' : ''}; ` +
        `to tighten them too: chmod -R go-rwx ${config.dataDir}`,
    );
  }
  return report;
}
