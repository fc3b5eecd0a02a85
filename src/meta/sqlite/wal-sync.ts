/**
 * The group fsync of one SQLite file's WAL: what lets a commit under
 * synchronous=NORMAL be acknowledged only once it is as durable as under FULL.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The group fsync of one SQLite file's WAL. Why a commit covered by it is as
 * durable as a synchronous=FULL commit:
 *
 * - FULL differs from NORMAL in WAL mode by one thing: at COMMIT it syncs
 *   the -wal file (sqlite3WalFrames: WAL_SYNC_FLAGS). We sync the same file
 *   (fsync acts on the inode, whichever descriptor), later but before the
 *   write is acknowledged. SQLite writes frames with pwrite (never mmap), so
 *   a sync that starts after COMMIT returned covers them; fdatasync also
 *   flushes the file size when the WAL grew. (better-sqlite3 is built
 *   without HAVE_FDATASYNC, so SQLite itself calls fsync; fdatasync suffices
 *   for data plus size.)
 * - WAL recovery replays the longest valid prefix of frames (salted, chained
 *   checksums), so durable state is always a prefix of the commit order: a
 *   commit covered by a sync implies every earlier commit is too.
 * - Checkpoints under NORMAL still sync: the WAL before its frames are
 *   copied, then the database file before nBackfill advances
 *   (CKPT_SYNC_FLAGS). The WAL is restarted (rewritten from offset 0 with new
 *   salts) only once every frame was backfilled into the synced database
 *   file, and the new header is synced before frames follow it. So frames
 *   overwritten by a restart are already durable in the database file, and
 *   PRAGMA wal_checkpoint(TRUNCATE) (truncates, same inode) loses nothing.
 * - Same inode: SQLite deletes the -wal file only when the last connection
 *   closes (after checkpointing into the synced database file); ours stays
 *   open until close(), so the file we opened is the one SQLite appends to.
 *   Before each sync we check that it was not unlinked (nlink) and reopen
 *   the path if it ever were.
 * - The WAL's directory entry: SQLite fsyncs the directory on the first sync
 *   of a newly created WAL (UNIXFILE_DIRSYNC; under NORMAL that is the WAL
 *   header sync); we also fsync the directory once when we open the WAL.
 * - A failed fdatasync poisons the barrier: the kernel may have dropped the
 *   dirty pages, and a later sync could "succeed" without them, so no later
 *   write is acknowledged either (as PostgreSQL panics); a restart recovers
 *   from what is on disk.
 *
 * Coalescing: one fdatasync covers every commit that returned before it
 * started; callers arriving while one runs wait for the next, which starts
 * when the running one ends (a burst of N commits costs two fsyncs, not N).
 *
 * Visibility: a commit is visible to readers as soon as it returns, up to
 * one group fsync before its writer is told it is durable (as with early
 * lock release in other group-commit engines). Every write made after
 * reading it commits later, so it is durable only if the read state is; a
 * write that was never acknowledged may, after a power failure, be gone
 * although a reader saw it.
 */
export class WalSync {
  private fd: number | undefined;
  private inFlight: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  private poisoned: Error | undefined;
  /** fdatasyncs done (tests check the coalescing). */
  syncs = 0;

  constructor(private readonly walPath: string) {}

  /** Resolves once every commit that returned before this call is durable. */
  durable(): Promise<void> {
    if (this.poisoned) return Promise.reject(this.poisoned);
    if (this.pending) return this.pending;
    if (!this.inFlight) return this.start();
    this.pending = this.inFlight
      // Its failure is not lost: it set `poisoned`, which the next step rejects with.
      .catch(() => undefined)
      .then(() => {
        this.pending = undefined;
        return this.poisoned ? Promise.reject(this.poisoned) : this.start();
      });
    return this.pending;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.syncOnce().then(
      () => {
        if (this.inFlight === run) this.inFlight = undefined;
      },
      (err: Error) => {
        this.poisoned = new Error(`fdatasync of ${this.walPath} failed; no further writes are acknowledged: ${err.message}`);
        if (this.inFlight === run) this.inFlight = undefined;
        throw this.poisoned;
      },
    );
    this.inFlight = run;
    return run;
  }

  private async syncOnce(): Promise<void> {
    if (this.fd !== undefined && fs.fstatSync(this.fd).nlink === 0) {
      // Never expected (see "Same inode"): sync whatever file the path names now.
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
    if (this.fd === undefined) {
      // A commit has happened (that is why we sync), so the -wal file exists.
      this.fd = fs.openSync(this.walPath, 'r');
      await fsyncPath(path.dirname(this.walPath));
    }
    this.syncs++;
    await fdatasync(this.fd);
  }

  async close(): Promise<void> {
    // Closing only waits for them to end; a failed sync already rejected its own waiters.
    await this.inFlight?.catch(() => undefined);
    await this.pending?.catch(() => undefined);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

const fdatasync = promisify(fs.fdatasync);

async function fsyncPath(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
