/**
 * `anvil admin` never creates a deployment: in the wrong folder (or against
 * an empty database) every command exits 1 with a clear message and leaves
 * nothing behind — no data folder, no database file, no schema, no master
 * key. In the right one it says on stderr which deployment it opened.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, expect, it } from 'vitest';

import { databaseUrlFor, describeEachEngine, useAnvil } from '../support/anvil.js';
import { BIN } from '../support/cli-server.js';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function admin(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ANVIL_')) delete env[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'admin', ...args], { env: { ...env, ...opts.env }, cwd: opts.cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function publicTables(url: string): Promise<string[]> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    return r.rows.map((x) => x.table_name);
  } finally {
    await c.end();
  }
}

/** A database URL as messages show it: its password (if any) masked. */
function masked(url: string): string {
  if (!url.startsWith('postgres')) return url;
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

const COMMANDS = [
  ['tenant', 'list'],
  ['tenant', 'create', 'ghost'],
  ['bucket', 'list'],
  ['tasks', 'list'],
  ['rotate-master-key', '--generate'],
];

describeEachEngine('anvil admin never creates a deployment', (engine) => {
  const t = useAnvil(engine);
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  const emptyFolder = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-no-create-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  it('in a folder without a deployment (the default ./data): exit 1, a message saying what to do, nothing created', async () => {
    const cwd = emptyFolder();
    for (const cmd of COMMANDS) {
      const r = await admin(cmd, { cwd });
      expect(r.code, cmd.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr, cmd.join(' ')).toMatch(/no Anvil deployment|no master key file/);
      if (cmd[0] !== 'rotate-master-key') {
        expect(r.stderr).toContain(`no Anvil deployment in ${path.join(fs.realpathSync(cwd), 'data')}: master.key is missing`);
        expect(r.stderr).toContain('start `anvil server` there first, or pass --data-dir / --database-url');
      }
      expect(fs.readdirSync(cwd), cmd.join(' ')).toEqual([]);
    }
  });

  it('with the master key given: a missing database or data folder is still no deployment, and nothing is made in either', async () => {
    const parent = emptyFolder();
    const dataDir = path.join(parent, 'data');
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(() => db.drop());
    const env = { ANVIL_DATA_DIR: dataDir, ANVIL_DATABASE_URL: db.url, ANVIL_MASTER_KEY: 'ef'.repeat(32) };
    for (const cmd of COMMANDS.slice(0, 4)) {
      const r = await admin(cmd, { env });
      expect(r.code, cmd.join(' ')).toBe(1);
      if (engine === 'sqlite')
        expect(r.stderr).toContain(`no Anvil deployment at ${path.join(dataDir, 'anvil.db')}: the SQLite file does not exist`);
      else expect(r.stderr).toContain(`no Anvil deployment in the database ${masked(db.url)}: start \`anvil server\` on it first`);
      expect(fs.readdirSync(parent)).toEqual([]);
      if (engine === 'postgres') expect(await publicTables(db.url)).toEqual([]);
    }
    // The right database, the wrong data folder (the blobs are part of the deployment too).
    const wrongFolder = path.join(parent, 'elsewhere');
    const r = await admin(['tenant', 'list'], {
      env: { ANVIL_DATA_DIR: wrongFolder, ANVIL_DATABASE_URL: t.config.databaseUrl, ANVIL_MASTER_KEY: 'ef'.repeat(32) },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no Anvil deployment in ${wrongFolder}: the data folder does not exist`);
    expect(fs.existsSync(wrongFolder)).toBe(false);
  });

  it('in the right folder: stderr names the data folder, the database and the engine; stdout stays the answer', async () => {
    const r = await admin(['tenant', 'list', '--json'], { env: { ANVIL_DATA_DIR: t.dataDir, ANVIL_DATABASE_URL: t.config.databaseUrl } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((x: { name: string }) => x.name)).toContain('root');
    expect(r.stderr).toContain(`Anvil deployment: data folder ${t.dataDir}, database ${masked(t.config.databaseUrl)} (${engine})`);
  });
});
