/**
 * The background WAL checkpointer of an on-disk SQLite database: a worker
 * thread with its own connection, so the serving thread never does a
 * checkpoint's writes and fsyncs.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The background checkpointer runs at most this often, and only after commits. */
const CHECKPOINT_INTERVAL_MS = 250;
/**
 * WAL size (pages) past which the serving connection checkpoints itself: the
 * checkpointer stopped, or under unbroken writes never caught up with the
 * last frame (only then can the WAL restart from its beginning).
 */
export const CHECKPOINT_FALLBACK_PAGES = 10_000;

// The empty catch in tick(): a failed PASSIVE checkpoint (busy, or the file
// went away while closing) is retried on the next poke, and the serving
// connection checkpoints itself past CHECKPOINT_FALLBACK_PAGES anyway.
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
let timer;
let last = 0;
function tick() {
  timer = undefined;
  last = Date.now();
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* retried on the next poke; the serving connection checkpoints itself past the fallback size */ }
}
parentPort.on('message', (m) => {
  if (m === 'close') { if (timer) clearTimeout(timer); db.close(); process.exit(0); }
  else if (!timer) timer = setTimeout(tick, Math.max(0, last + workerData.interval - Date.now()));
});
`;

/**
 * Copies WAL frames into the database file from a worker thread with its own
 * connection, so the serving thread never does a checkpoint's writes and
 * fsyncs (with synchronous=NORMAL a checkpoint syncs the WAL, then the
 * database file; see WalSync). PASSIVE checkpoints never block writers. Told
 * of commits by the driver, it checkpoints at most every 250 ms.
 */
export class Checkpointer {
  private worker: Worker | undefined;
  private stopped = false;

  constructor(private readonly file: string) {}

  /** A write was committed. */
  poke(): void {
    if (this.stopped) return;
    if (!this.worker) {
      const req = createRequire(import.meta.url);
      this.worker = new Worker(CHECKPOINTER_SOURCE, {
        eval: true,
        workerData: { driver: req.resolve('better-sqlite3'), file: this.file, interval: CHECKPOINT_INTERVAL_MS },
      });
      this.worker.unref();
      // Checkpoints are an optimisation: without them the serving connection checkpoints itself.
      this.worker.on('error', () => undefined);
      this.worker.on('exit', () => (this.worker = undefined));
    }
    this.worker.postMessage('poke');
  }

  async close(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    if (!w) return;
    const exited = new Promise((resolve) => w.once('exit', resolve));
    // Referenced while closing: otherwise a process with nothing else to do would exit here
    // with this promise (and whatever awaits it, such as a CLI's error path) never settled.
    w.ref();
    w.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    await w.terminate();
  }
}
