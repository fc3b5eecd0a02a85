/**
 * Test-only PostgreSQL helpers.
 *
 * - startThrowawayPostgres(): boots a private, fast (fsync=off) cluster from the
 *   Debian `postgresql` package binaries in a temp dir on 127.0.0.1:<random port>.
 * - createTestDatabase(adminUrl): creates a uniquely named database for one test
 *   file / suite and returns its URL plus a drop() function.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import pg from 'pg';

const execFileAsync = promisify(execFile);

export interface ThrowawayPostgres {
  url: string;
  stop(): Promise<void>;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

const PG_LIB_DIR = '/usr/lib/postgresql';

/** Newest /usr/lib/postgresql/<ver>/bin containing initdb and pg_ctl, or null. */
async function findPgBinDir(): Promise<string | null> {
  let versions: string[];
  try {
    versions = await readdir(PG_LIB_DIR);
  } catch {
    return null;
  }
  versions.sort((a, b) => parseFloat(b) - parseFloat(a) || b.localeCompare(a));
  for (const v of versions) {
    const bin = join(PG_LIB_DIR, v, 'bin');
    try {
      await stat(join(bin, 'initdb'));
      await stat(join(bin, 'pg_ctl'));
      return bin;
    } catch {
      // try the next version
    }
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitForConnections(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (err) {
      lastErr = err;
      await client.end().catch(() => undefined);
      await sleep(100);
    }
  }
  throw new Error(`PostgreSQL at ${url} did not accept connections: ${String(lastErr)}`);
}

/**
 * Start a throwaway PostgreSQL cluster. Returns null when no PostgreSQL server
 * binaries are installed. Throws if they are installed but the cluster fails to start.
 */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres | null> {
  const bin = await findPgBinDir();
  if (!bin) return null;
  const initdb = join(bin, 'initdb');
  const pgCtl = join(bin, 'pg_ctl');

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const baseDir = await mkdtemp(join(tmpdir(), 'anvil-pg-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'postgres.log');

  // initdb/postgres refuse to run as root: run them as the `postgres` OS user.
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const run = async (cmd: string, args: string[], timeout = 120_000): Promise<void> => {
    const [c, a] = wrap(cmd, args);
    await execFileAsync(c, a, { cwd: baseDir, timeout, env: { ...process.env, LC_ALL: 'C' } });
  };

  let started = false;
  let exitHook: (() => void) | undefined;
  const cleanup = async (): Promise<void> => {
    if (exitHook) process.off('exit', exitHook);
    if (started) {
      started = false;
      await run(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w'], 60_000).catch(() => undefined);
    }
    await rm(baseDir, { recursive: true, force: true });
  };

  try {
    if (isRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      await chown(baseDir, uid, gid);
    }
    await run(initdb, ['-D', dataDir, '--auth=trust', '-U', 'postgres', '--encoding=UTF8', '--locale=C', '--no-sync']);

    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const opts = [
        `-p ${port}`,
        '-c listen_addresses=127.0.0.1',
        `-k ${baseDir}`,
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=300',
      ].join(' ');
      try {
        await run(pgCtl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', opts]);
        started = true;
        exitHook = () => {
          // Best effort if the process dies without calling stop().
          try {
            const [c, a] = wrap(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate']);
            execFileSync(c, a, { stdio: 'ignore', cwd: '/' });
          } catch {
            // ignore
          }
          rmSync(baseDir, { recursive: true, force: true });
        };
        process.on('exit', exitHook);
        const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
        await waitForConnections(url, 30_000);
        return { url, stop: cleanup };
      } catch (err) {
        lastErr = err;
        if (started) break; // started but not reachable: give up
        // likely a port race: retry with another port
      }
    }
    throw lastErr;
  } catch (err) {
    let log = '';
    try {
      log = execFileSync('tail', ['-n', '30', logFile]).toString();
    } catch {
      // no log
    }
    await cleanup().catch(() => undefined);
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`failed to start throwaway PostgreSQL (${bin}): ${msg}${log ? `\n--- server log ---\n${log}` : ''}`, { cause: err });
  }
}

/** Connect a short-lived client to `url`, run `fn`, always close. */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Create a fresh, uniquely named UTF8 database (`anvil_test_<random>`) on the
 * server behind `adminUrl`; the returned URL uses the same credentials.
 */
export async function createTestDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `anvil_test_${randomBytes(8).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  let dropped = false;
  return {
    url,
    async drop(): Promise<void> {
      if (dropped) return;
      dropped = true;
      await withClient(adminUrl, async (c) => {
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        // The terminated backends may take a moment to exit; retry briefly.
        for (let attempt = 0; ; attempt++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS "${name}"`);
            return;
          } catch (err) {
            if ((err as { code?: string }).code !== '55006' || attempt >= 50) throw err;
            await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
            await sleep(100);
          }
        }
      });
    },
  };
}
