/**
 * Why one file of ~420 lines: it is one driver behind one interface (put,
 * get, delete, list, sweep, stat), and its durability steps (temp file,
 * fsync, rename, fsync of the folder) read best in one place.
 *
 * The `fs` backend: a folder on a local (or mounted) file system.
 *
 *   <root>/anvil-backend.json   marker naming the backend (guards against an unmounted disk
 *                               or two backends swapped in the config)
 *   <root>/tmp/<uuid>           bodies being written
 *   <root>/blobs/<locator>      durable objects
 *
 * The layout is the one src/blobs/staging/store.ts uses, so the default
 * backend at <data_dir> sees the blobs an existing install already has
 * (locator = `<tenant>/<h2>/<h2>/<hash>.<fileId>`), and temp files stay flat
 * files in <root>/tmp as the current start-up reconciler expects.
 *
 * Durability follows the blob store: stream into a temp file on the same
 * file system, fsync it, rename it into place, fsync the directory and the
 * parent of every directory the rename needed to create.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';

import {
  type Backend,
  BackendError,
  BackendFull,
  type BackendHealth,
  BackendNotFound,
  BackendUnavailable,
  bodyChunks,
  type ByteRange,
  checkLocator,
  checkPrefix,
  checkRange,
  isValidLocator,
  type ListedObject,
  type PutOptions,
  type UsageSink,
} from './backend.js';

export interface FsBackendOptions {
  name: string;
  /** The backend's folder (absolute). */
  root: string;
  usage?: UsageSink;
  /** health() gives up after this long (a hung mount must not hang the checker). Default 5 s. */
  healthTimeoutMs?: number;
}

export interface FsInitOptions {
  /**
   * The metadata says this backend already holds blobs: refuse to start on a
   * folder without the marker instead of creating it (an unmounted disk looks
   * like an empty mount point).
   */
  requireExisting?: boolean;
}

/** Write batches of this size with one writev, rather than one syscall per socket chunk. */
const WRITE_BATCH = 1 << 20;
export const MARKER_FILE = 'anvil-backend.json';

export class FsBackend implements Backend {
  readonly kind = 'fs' as const;
  readonly name: string;
  readonly root: string;
  readonly tmpDir: string;
  readonly objectDir: string;
  readonly markerPath: string;
  private readonly usage?: UsageSink;
  private readonly healthTimeoutMs: number;

  constructor(opts: FsBackendOptions) {
    if (!path.isAbsolute(opts.root)) throw new Error(`fs backend ${opts.name}: path must be absolute`);
    this.name = opts.name;
    this.root = opts.root;
    this.tmpDir = path.join(opts.root, 'tmp');
    this.objectDir = path.join(opts.root, 'blobs');
    this.markerPath = path.join(opts.root, MARKER_FILE);
    this.usage = opts.usage;
    this.healthTimeoutMs = opts.healthTimeoutMs ?? 5000;
  }

  /** Creates the folders and the marker (see FsInitOptions), or checks that the marker names this backend. */
  async init(opts: FsInitOptions = {}): Promise<void> {
    const marker = await fsp.readFile(this.markerPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new BackendUnavailable(this.name, `cannot read ${this.markerPath}`, err);
    });
    if (marker === undefined) {
      if (opts.requireExisting) {
        throw new BackendUnavailable(
          this.name,
          `${this.markerPath} is missing: is the disk mounted? (the metadata says this backend holds blobs)`,
        );
      }
      await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
      const tmp = path.join(this.root, `.${MARKER_FILE}.${crypto.randomUUID()}`);
      await fsp.writeFile(tmp, JSON.stringify({ backend: this.name, created: new Date().toISOString() }) + '\n', {
        flush: true,
        mode: 0o600,
      });
      await fsp.rename(tmp, this.markerPath);
      await fsyncDir(this.root);
    } else {
      let owner: unknown;
      try {
        owner = (JSON.parse(marker) as { backend?: unknown }).backend;
      } catch {
        // A marker that is not JSON names no owner: treated like a foreign folder below.
        owner = undefined;
      }
      if (owner !== this.name) {
        throw new BackendUnavailable(
          this.name,
          `${this.markerPath} belongs to backend ${JSON.stringify(owner)}; if the backend was renamed on purpose, edit the marker`,
        );
      }
    }
    await fsp.mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.objectDir, { recursive: true, mode: 0o700 });
  }

  objectPath(locator: string): string {
    return path.join(this.objectDir, ...locator.split('/'));
  }

  async put(locator: string, body: AsyncIterable<Uint8Array>, opts: PutOptions = {}): Promise<{ size: number }> {
    checkLocator(this.name, locator);
    const tmpPath = path.join(this.tmpDir, crypto.randomUUID());
    const fh = await this.io('create a temp file', fsp.open(tmpPath, 'wx', 0o600));
    let open = true;
    let size = 0;
    try {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      // Errors of the body itself (client went away, caller aborted) pass through unchanged.
      for await (const chunk of bodyChunks(body, opts.signal)) {
        size += chunk.length;
        if (opts.size !== undefined && size > opts.size) throw this.sizeMismatch(opts.size, size, true);
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= WRITE_BATCH) {
          await this.io('write', fh.writev(batch));
          batch = [];
          batchBytes = 0;
        }
      }
      if (batch.length) await this.io('write', fh.writev(batch));
      if (opts.size !== undefined && size !== opts.size) throw this.sizeMismatch(opts.size, size, false);
      await this.io('fsync', fh.sync());
      open = false;
      await this.io('close', fh.close());
      opts.signal?.throwIfAborted();
      await this.promote(tmpPath, this.objectPath(locator));
    } catch (err) {
      // The put's error is the one to report; a temp file left behind is swept (sweep()).
      if (open) await fh.close().catch(() => undefined);
      await fsp.rm(tmpPath, { force: true }).catch(() => undefined);
      throw err;
    }
    this.usage?.(this.name, { requests: 1, ingressBytes: size, egressBytes: 0 });
    return { size };
  }

  /** Renames the fsynced temp file into place and makes the rename durable. */
  private async promote(tmpPath: string, finalPath: string): Promise<void> {
    const dir = path.dirname(finalPath);
    // A locator cannot be both a file and a folder here (on s3 it can): that is the caller's
    // mistake, not the disk failing, so it must not count against the backend's health.
    const clash = (err: unknown) => ['ENOTDIR', 'EEXIST', 'EISDIR', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '');
    const invalid = (err: unknown) =>
      new BackendError(
        this.name,
        'InvalidLocator',
        `${path.relative(this.objectDir, finalPath)} clashes with an existing object or folder`,
        { cause: err },
      );
    let firstCreated: string | undefined;
    try {
      firstCreated = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      await fsp.rename(tmpPath, finalPath);
    } catch (err) {
      throw clash(err) ? invalid(err) : this.ioError('rename into place', err);
    }
    try {
      await fsyncDir(dir);
      if (firstCreated) {
        // New fan-out directories: each one's entry in its parent must be durable too.
        for (let d = dir; d !== path.dirname(firstCreated); d = path.dirname(d)) await fsyncDir(path.dirname(d));
      }
    } catch (err) {
      // Not known durable: take it back so the put fails cleanly.
      await fsp.rm(finalPath, { force: true }).catch(() => undefined); // the fsync's error is the one to report
      throw this.ioError('fsync directory', err);
    }
  }

  async get(locator: string, range?: ByteRange, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    checkLocator(this.name, locator);
    checkRange(this.name, range);
    opts.signal?.throwIfAborted();
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.objectPath(locator), 'r');
    } catch (err) {
      throw await this.missing(locator, err);
    }
    let start = 0;
    let end: number;
    try {
      const { size } = await fh.stat();
      end = size - 1;
      if (range) {
        if (range.start >= size)
          throw new BackendError(this.name, 'InvalidRange', `range starts at ${range.start}, past the end of ${size} bytes`);
        start = range.start;
        end = Math.min(range.end, size - 1);
      }
    } catch (err) {
      await fh.close().catch(() => undefined); // the stat's error is the one to report
      throw err instanceof BackendError ? err : this.ioError('stat', err);
    }
    this.usage?.(this.name, { requests: 1, ingressBytes: 0, egressBytes: end - start + 1 });
    if (end < start) {
      // An empty object: createReadStream has no way to say "zero bytes".
      await fh.close().catch(() => undefined); // nothing was read: a failed close loses nothing
      return Readable.from([]);
    }
    const stream = fh.createReadStream({ start, end, autoClose: true, highWaterMark: 1 << 20 });
    if (opts.signal) addAbortSignal(opts.signal, stream);
    return stream;
  }

  /** Small reads: open, positional reads, close (no stat, no stream). */
  async read(locator: string, range: ByteRange): Promise<Buffer> {
    checkLocator(this.name, locator);
    checkRange(this.name, range);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.objectPath(locator), 'r');
    } catch (err) {
      throw await this.missing(locator, err);
    }
    try {
      const want = range.end - range.start + 1;
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, range.start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got === 0 && want > 0)
        throw new BackendError(this.name, 'InvalidRange', `range starts at ${range.start}, past the end of the object`);
      this.usage?.(this.name, { requests: 1, ingressBytes: 0, egressBytes: got });
      return got === want ? buf : buf.subarray(0, got);
    } catch (err) {
      throw err instanceof BackendError ? err : this.ioError('read', err);
    } finally {
      await fh.close().catch(() => undefined); // read-only handle: a failed close loses nothing
    }
  }

  async delete(locator: string): Promise<void> {
    checkLocator(this.name, locator);
    await this.checkMarker();
    try {
      await fsp.rm(this.objectPath(locator), { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw this.ioError('delete', err);
    }
    this.usage?.(this.name, { requests: 1, ingressBytes: 0, egressBytes: 0 });
  }

  async stat(locator: string): Promise<{ size: number } | null> {
    checkLocator(this.name, locator);
    this.usage?.(this.name, { requests: 1, ingressBytes: 0, egressBytes: 0 });
    try {
      const st = await fsp.stat(this.objectPath(locator));
      return st.isFile() ? { size: st.size } : null;
    } catch (err) {
      const e = await this.missing(locator, err);
      if (e instanceof BackendNotFound) return null;
      throw e;
    }
  }

  async *list(prefix = ''): AsyncIterable<ListedObject> {
    checkPrefix(this.name, prefix);
    await this.checkMarker();
    this.usage?.(this.name, { requests: 1, ingressBytes: 0, egressBytes: 0 });
    const slash = prefix.lastIndexOf('/');
    yield* this.walk(slash >= 0 ? prefix.slice(0, slash) : '', prefix);
  }

  /**
   * Depth-first, each folder's entries sorted with folders compared as
   * `name/`: that is exactly the byte order of the full locators.
   */
  private async *walk(rel: string, prefix: string): AsyncIterable<ListedObject> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(rel ? path.join(this.objectDir, ...rel.split('/')) : this.objectDir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.ioError('list', err);
    }
    const items = entries
      .filter((e) => (e.isDirectory() || e.isFile()) && isValidLocator(e.name))
      .map((e) => ({ dir: e.isDirectory(), name: e.name, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const item of items) {
      const locator = rel ? `${rel}/${item.name}` : item.name;
      if (item.dir) {
        const asDir = `${locator}/`;
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) yield* this.walk(locator, prefix);
      } else if (locator.startsWith(prefix)) {
        let size: number;
        try {
          size = (await fsp.stat(this.objectPath(locator))).size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
          throw this.ioError('stat', err);
        }
        yield { locator, size };
      }
    }
  }

  async health(): Promise<BackendHealth> {
    const started = performance.now();
    const check = async (): Promise<BackendHealth> => {
      await this.checkMarker();
      const probe = path.join(this.tmpDir, `.health-${crypto.randomUUID()}`);
      let detail: string | undefined;
      try {
        await fsp.writeFile(probe, 'ok', { flush: true, mode: 0o600 });
      } catch (err) {
        // A full disk is not a sick one: it still serves reads, and writes are refused cleanly
        // (BackendFull, 507). Marked unhealthy, placement would pass it over until the next check,
        // so the first PUT after space is freed would still be refused.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
        detail = 'no space left';
      } finally {
        await fsp.rm(probe, { force: true });
      }
      const st = await fsp.statfs(this.root);
      return {
        ok: true,
        detail,
        latencyMs: performance.now() - started,
        capacity: { freeBytes: st.bavail * st.bsize, totalBytes: st.blocks * st.bsize },
      };
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<BackendHealth>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, detail: `no answer within ${this.healthTimeoutMs} ms`, latencyMs: performance.now() - started }),
        this.healthTimeoutMs,
      );
    });
    try {
      return await Promise.race([
        check().catch((err: unknown) => ({
          ok: false,
          detail: err instanceof Error ? err.message : String(err),
          latencyMs: performance.now() - started,
        })),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async sweep(olderThanMs: number): Promise<number> {
    const before = Date.now() - olderThanMs;
    let removed = 0;
    const names = await fsp.readdir(this.tmpDir).catch(() => [] as string[]); // no tmp folder: nothing to sweep
    for (const name of names) {
      const p = path.join(this.tmpDir, name);
      const st = await fsp.stat(p).catch(() => undefined); // gone meanwhile: nothing to sweep
      if (!st?.isFile() || st.mtimeMs >= before) continue;
      await fsp.rm(p, { force: true });
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {}

  /** ENOENT means "no such object" only while the marker shows the backend's folder is really there. */
  private async missing(locator: string, err: unknown): Promise<BackendError> {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return this.ioError('open', err);
    try {
      await this.checkMarker();
    } catch (gone) {
      return gone as BackendError;
    }
    return new BackendNotFound(this.name, locator);
  }

  private async checkMarker(): Promise<void> {
    try {
      await fsp.access(this.markerPath);
    } catch (err) {
      throw new BackendUnavailable(this.name, `backend folder ${this.root} has no ${MARKER_FILE} (not mounted?)`, err);
    }
  }

  private async io<T>(what: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw this.ioError(what, err);
    }
  }

  private ioError(what: string, err: unknown): BackendError {
    if (err instanceof BackendError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return new BackendFull(this.name, `${what}: no space left`, err);
    return new BackendUnavailable(this.name, what, err);
  }

  private sizeMismatch(declared: number, seen: number, more: boolean): BackendError {
    return new BackendError(this.name, 'SizeMismatch', `body ${more ? 'exceeds' : 'is'} ${seen} bytes, declared ${declared}`);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
