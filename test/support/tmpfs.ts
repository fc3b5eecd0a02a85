/**
 * A tiny tmpfs to fill up: the only honest way to get ENOSPC from the real
 * kernel under a real server. Mounting needs root (CI runs as root). Without
 * it the suites that need one fail loudly under CI=true and are skipped,
 * with the reason printed, elsewhere (as global-setup.ts does for PostgreSQL).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Unmounts (lazily if still busy) and removes the mount point; safe to call twice. */
  remove(): void;
}

export function mountTmpfs(sizeBytes: number): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    fs.rmdirSync(dir);
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot mount a tmpfs at ${dir}: ${stderr || (err as Error).message}`, { cause: err });
  }
  let mounted = true;
  return {
    dir,
    remove() {
      if (mounted) {
        try {
          execFileSync('umount', [dir], { stdio: 'pipe' });
        } catch {
          execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
        }
        mounted = false;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why tmpfs mounts are not possible here, or null when they are (probed once by mounting one). */
export function tmpfsUnavailable(): string | null {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return `mounting a tmpfs needs root (uid ${process.getuid?.()})`;
  try {
    mountTmpfs(1 << 20).remove();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Throws under CI=true (a disk-full test that silently does not run proves
 * nothing); elsewhere prints the reason loudly and returns true: skip.
 */
export function skipWithoutTmpfs(suite: string): boolean {
  const reason = tmpfsUnavailable();
  if (reason === null) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${suite} cannot run: ${reason}. Run the tests as root.`);
  const bar = '!'.repeat(78);
  process.stderr.write(
    [
      '',
      bar,
      `!!  WARNING: ${suite} is SKIPPED.`,
      `!!  Reason: ${reason}`,
      '!!  Run the tests as root to include it (with CI=true this is a hard failure).',
      bar,
      '',
      '',
    ].join('\n'),
  );
  return true;
}

/**
 * Fills the file system under dir with one file until the kernel refuses
 * (ENOSPC): big writes first, then page-sized ones for the last pages.
 */
export function fillDisk(file: string): number {
  const fd = fs.openSync(file, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}
