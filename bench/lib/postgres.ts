/**
 * PostgreSQL for the bench: $ANVIL_BENCH_DATABASE_URL (a server where the
 * user may CREATE DATABASE; a fresh database is made and dropped), else a
 * throwaway cluster from the Debian `postgresql` binaries. Unlike the test
 * helper's cluster, this one keeps the default durability (fsync=on,
 * synchronous_commit=on) so it compares fairly with Anvil on SQLite, which
 * acknowledges a write only once the WAL is fdatasynced past it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import pg from 'pg';

import { createTestDatabase } from '../../test/support/postgres.js';
import { freePort } from './procs.js';

const execFileAsync = promisify(execFile);

export interface BenchPostgres {
  /** URL of a fresh database for one Anvil instance. */
  url: string;
  /** Where it came from, for the report. */
  source: string;
  /** PID of the postmaster, when we started it (for server CPU accounting). */
  postmasterPid?: number;
  stop(): Promise<void>;
}

function pgBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).sort((a, b) => parseFloat(b) - parseFloat(a));
  for (const v of versions) {
    const bin = join(base, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return null;
}

/** Installs the Debian PostgreSQL server when it is missing (fresh machines). */
export async function ensurePostgresInstalled(log: (s: string) => void): Promise<boolean> {
  if (pgBinDir()) return true;
  if (process.getuid?.() !== 0) return false;
  log('installing PostgreSQL from Debian packages (apt-get install postgresql)…');
  try {
    await execFileAsync('apt-get', ['update', '-qq'], { timeout: 300_000 });
    await execFileAsync('apt-get', ['install', '-y', '-qq', 'postgresql'], {
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    log(`could not install PostgreSQL: ${String(err)}`);
  }
  return pgBinDir() !== null;
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startBenchPostgres(log: (s: string) => void): Promise<BenchPostgres | null> {
  const envUrl = process.env.ANVIL_BENCH_DATABASE_URL?.trim();
  if (envUrl) {
    const db = await createTestDatabase(envUrl);
    return { url: db.url, source: 'ANVIL_BENCH_DATABASE_URL', stop: db.drop };
  }
  if (!(await ensurePostgresInstalled(log))) return null;
  const bin = pgBinDir()!;
  const isRoot = process.getuid?.() === 0;
  const base = await mkdtemp(join(tmpdir(), 'anvil-bench-pg-'));
  const data = join(base, 'data');
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const run = async (cmd: string, args: string[]): Promise<void> => {
    const [c, a] = wrap(cmd, args);
    await execFileAsync(c, a, { cwd: base, timeout: 120_000, env: { ...process.env, LC_ALL: 'C' } });
  };
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    await chown(base, uid, gid);
  }
  await run(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const opts = [`-p ${port}`, '-c listen_addresses=127.0.0.1', `-k ${base}`, '-c max_connections=300', '-c shared_buffers=256MB'].join(' ');
  await run(join(bin, 'pg_ctl'), ['start', '-D', data, '-l', join(base, 'postgres.log'), '-w', '-t', '60', '-o', opts]);
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitReady(admin, 30_000);
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE anvil_bench TEMPLATE template0 ENCODING 'UTF8'`);
  await c.end();
  let postmasterPid: number | undefined;
  try {
    const pidLine = execFileSync('head', ['-n', '1', join(data, 'postmaster.pid')])
      .toString()
      .trim();
    postmasterPid = Number(pidLine) || undefined;
  } catch {
    // accounting only
  }
  const stopAll = async (): Promise<void> => {
    await run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w']).catch(() => undefined);
    // Diagnostics (slow statements, auto_explain plans): keep the server log where asked.
    const keepLog = process.env.ANVIL_BENCH_PG_LOG;
    if (keepLog) await copyFile(join(base, 'postgres.log'), keepLog).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  };
  const exitHook = (): void => {
    try {
      const [cmd, a] = wrap(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate']);
      execFileSync(cmd, a, { stdio: 'ignore', cwd: '/' });
    } catch {
      // best effort
    }
  };
  process.on('exit', exitHook);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/anvil_bench`,
    source: `throwaway cluster (${bin}, fsync=on)`,
    postmasterPid,
    async stop() {
      process.off('exit', exitHook);
      await stopAll();
    },
  };
}
