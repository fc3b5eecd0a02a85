/**
 * Shared helpers for the interop suites: locating the Debian-packaged clients
 * (skipping loudly outside CI, failing with CI=true), hashing files and whole
 * directory trees, and running a client process with its output attached to
 * the error when it fails.
 */
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** True when every check passes; otherwise warns loudly (or throws with CI=true) and returns false. */
export function requireTools(suite: string, checks: Array<{ what: string; ok: () => boolean }>, install: string): boolean {
  const missing = checks.filter((c) => !safe(c.ok)).map((c) => c.what);
  if (missing.length === 0) return true;
  const msg = `${suite} interop tests need ${missing.join(', ')} (${install})`;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`\n!!!! SKIPPED: ${msg}\n`);
  return false;
}

function safe(fn: () => boolean): boolean {
  try {
    return fn();
  } catch {
    return false;
  }
}

export const fileExists = (p: string) => () => fs.existsSync(p);

/** True when `python -c code` exits 0 (e.g. `import boto3`). */
export const pythonCan = (python: string, code: string) => () =>
  fs.existsSync(python) && spawnSync(python, ['-c', code], { stdio: 'ignore', timeout: 30_000 }).status === 0;

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export function md5File(file: string): string {
  return crypto.createHash('md5').update(fs.readFileSync(file)).digest('hex');
}

/** Relative path → sha256 of every regular file under root (sorted by path). */
export function treeDigest(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const files = (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((p) => fs.statSync(path.join(root, p)).isFile())
    .map((p) => p.split(path.sep).join('/'))
    .sort();
  for (const rel of files) out[rel] = sha256File(path.join(root, rel));
  return out;
}

/** Writes `size` random bytes to file, 1 MiB at a time. */
export function randomFile(file: string, size: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  for (let left = size; left > 0; left -= 1 << 20) fs.writeSync(fd, crypto.randomBytes(Math.min(left, 1 << 20)));
  fs.closeSync(fd);
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a client; on a non-zero exit rejects with the command line, exit code,
 * stdout and stderr in the message (so a failing test shows the client's own error).
 */
export function run(file: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; timeout?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: opts.env, cwd: opts.cwd, maxBuffer: 1 << 26, timeout: opts.timeout ?? 120_000 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException & { code?: unknown }).code;
        reject(
          new Error(
            `${[file, ...args].map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n` +
              `exited with ${String(code ?? err.message)}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
          ),
        );
      } else resolve({ stdout, stderr });
    });
  });
}

/** A copy of process.env without settings that would point clients at AWS or at other credentials. */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, ...extra };
  for (const k of Object.keys(env)) {
    if (/^AWS_/.test(k) && !(k in extra)) delete env[k];
  }
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  return env;
}
