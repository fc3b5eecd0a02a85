/**
 * OS-level locks on the data folder (and on a SQLite metadata file): one
 * server per folder, taken before anything else touches the folder, and
 * released by the kernel when the holder dies (even by SIGKILL), so there is
 * never a stale lock to clean up.
 *
 * Mechanism: the lock file is an (empty) SQLite database opened with
 * better-sqlite3, `PRAGMA locking_mode=EXCLUSIVE`, a busy timeout of 0 and a
 * transaction held open for the life of the lock: `BEGIN EXCLUSIVE` for an
 * exclusive lock, a read transaction for a shared one. Why this and not the
 * alternatives:
 *
 * - SQLite's unix VFS takes POSIX fcntl() byte-range locks, which the kernel
 *   drops when the process exits. POSIX locks belong to the process, so on
 *   their own two opens in one process would not exclude each other, and
 *   closing any descriptor of the file drops all of them; SQLite's VFS
 *   handles both (its per-inode lock table arbitrates between connections
 *   in one process, and it defers closing descriptors while locks are held).
 *   Tests and embedders start several servers in one process, so that
 *   matters. It needs no new dependency (better-sqlite3 is the metadata
 *   driver), and it knows shared versus exclusive.
 * - flock() has the right semantics too, but Node has no binding for it: it
 *   would take a native add-on (fs-ext and the like: a compiled dependency
 *   with a small maintainer base) for what SQLite already does; on Linux,
 *   flock() on NFS is emulated with fcntl() locks anyway.
 * - Lock files created with O_EXCL, PID files, or lock directories
 *   (proper-lockfile) are not released by the kernel: a SIGKILLed server
 *   leaves them behind, and telling a stale one from a live one needs PID
 *   checks or mtime heartbeats that are wrong across hosts and PID reuse.
 * - An abstract unix socket named after the folder is per network namespace
 *   (containers) and per path spelling (bind mounts, symlinks), not per folder.
 *
 * Caveats (the same for any fcntl lock): nothing in this process may open
 * and close the lock file by other means (that would drop the lock), and
 * deleting the lock file while a server runs lets a second one lock a new
 * file. The lock file holds no data; who holds it is recorded beside it
 * (`<lock>.json`, written by the holder once it has every lock it needs) for
 * the message a refused start prints; a shared lock's record names the last
 * holder to start. On network file systems the lock is only as good as the file
 * system's fcntl locking.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import BetterSqlite3 from 'better-sqlite3';

export type LockMode = 'exclusive' | 'shared';

/** Who holds a lock, as its holder recorded it. */
export interface LockHolder {
  pid: number;
  host: string;
  /** The listen address, then the endpoint once the server listens. */
  listen: string;
  startedAt: string;
  nodeId?: string;
  mode: LockMode;
}

export class LockHeldError extends Error {
  constructor(
    readonly file: string,
    readonly holder: LockHolder | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'LockHeldError';
  }
}

export interface HeldLock {
  readonly file: string;
  /** Records who holds the lock (again, to update it: the endpoint is known only once listening). */
  record(holder: LockHolder): void;
  release(): void;
}

/** Open lock connections: referenced here so that garbage collection never closes one (and drops its lock). */
const open = new Set<BetterSqlite3.Database>();

export function holderFile(lockFile: string): string {
  return `${lockFile}.json`;
}

/** The recorded holder, if the record is there and readable. */
export function readHolder(lockFile: string): LockHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(holderFile(lockFile), 'utf8')) as LockHolder;
  } catch {
    return undefined; // no holder file, or one half-written: the holder is unknown, which callers handle
  }
}

/** "another Anvil server (pid …)", for a refusal message. */
export function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'another Anvil server (which has not recorded itself yet)';
  const who = `pid ${h.pid} on host ${h.host}, listening on ${h.listen}, started ${h.startedAt}${h.nodeId ? `, node id ${h.nodeId}` : ''}`;
  return h.mode === 'shared' ? `Anvil servers sharing it on PostgreSQL (the last to start: ${who})` : `another Anvil server (${who})`;
}

/**
 * Takes the lock at once or throws LockHeldError (never waits). `what` names
 * the locked thing in the message ("data folder /srv/anvil"), `advice` says
 * what to do about it.
 */
export function acquireLock(file: string, mode: LockMode, what: string, advice: string): HeldLock {
  // The lock is often the first thing made in a new data folder: private, like everything in it.
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  // timeout 0: a second taker must fail at once, not wait for the holder to go away.
  const db = new BetterSqlite3(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    if (mode === 'exclusive') db.exec('BEGIN EXCLUSIVE');
    else {
      // A read holds SQLite's SHARED lock; the open transaction (and the locking mode) keep it.
      db.exec('BEGIN');
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    }
  } catch (err) {
    db.close();
    if (String((err as { code?: string }).code).startsWith('SQLITE_BUSY')) {
      const holder = readHolder(file);
      throw new LockHeldError(file, holder, `${what} is in use by ${describeHolder(holder)}. ${advice} (lock file ${file})`);
    }
    throw err;
  }
  open.add(db);
  let recorded: string | undefined;
  return {
    file,
    record(holder) {
      // Written whole (temp file, rename): a refused start never reads half a record. Only
      // informative: a full disk must not keep a server from starting, so failures are ignored.
      const text = JSON.stringify(holder);
      const tmp = `${holderFile(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
      try {
        fs.writeFileSync(tmp, text + '\n', { mode: 0o600 });
        fs.renameSync(tmp, holderFile(file));
        recorded = text;
      } catch {
        // The holder record is advice for error messages only; the lock itself is held either way.
        fs.rmSync(tmp, { force: true });
      }
    },
    release() {
      if (!open.has(db)) return;
      // An exclusive holder's record goes with it. A shared lock's record names the last
      // holder to start, and stays: others may still hold the lock.
      if (mode === 'exclusive' && recorded) fs.rmSync(holderFile(file), { force: true });
      open.delete(db);
      db.close();
    },
  };
}

/** The holder record of this process (the listen address is updated once known). */
export function thisProcess(listen: string, startedAt: number, mode: LockMode, nodeId?: string): LockHolder {
  return { pid: process.pid, host: os.hostname(), listen, startedAt: new Date(startedAt).toISOString(), nodeId, mode };
}
