/**
 * The local-folder blob store. A blob is immutable and addressed by its
 * BLAKE3 hash, scoped per tenant (dedup never crosses tenants):
 *
 *   <data>/blobs/<tenant>/<h[0:2]>/<h[2:4]>/<hash>.<fileId>
 *
 * Bodies stream into <data>/tmp, are fsynced, then renamed into place and the
 * directory fsynced, before any metadata points at them. The fileId suffix
 * gives every written file its own name, so deleting a released blob can
 * never remove a file that a concurrent upload of the same content has just
 * put in place: metadata (the blob row) names the exact file it owns.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BodyDigester } from './digest.js';
import { errors } from '../s3/errors.js';

export interface StagedFile {
  /** The write intent's id: names the temp file and, once promoted, the blob file's suffix. */
  id: string;
  tmpPath: string;
  size: number;
}

/** Write batches of this size with one writev, rather than one syscall per socket chunk. */
const WRITE_BATCH = 1 << 20;

export class BlobStore {
  readonly tmpDir: string;
  readonly blobDir: string;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    this.blobDir = path.join(root, 'blobs');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.tmpDir, { recursive: true });
    await fsp.mkdir(this.blobDir, { recursive: true });
  }

  /** Ids of the staged (temp) files present; the reconciler decides which are dead. */
  async stagedIds(): Promise<string[]> {
    return fsp.readdir(this.tmpDir).catch(() => [] as string[]);
  }

  blobPath(tenantId: string, hash: string, fileId: string): string {
    return path.join(this.blobDir, tenantId, hash.slice(0, 2), hash.slice(2, 4), `${hash}.${fileId}`);
  }

  /**
   * Streams body into a fsynced temp file, feeding every chunk to digester.
   * Fails with EntityTooLarge past maxSize; the temp file is removed on any error.
   */
  async stage(body: AsyncIterable<Buffer>, digester: BodyDigester, maxSize: number, id: string): Promise<StagedFile> {
    const tmpPath = this.tmpPath(id);
    const fh = await fsp.open(tmpPath, 'w', 0o644);
    let size = 0;
    try {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      for await (const chunk of body) {
        size += chunk.length;
        if (size > maxSize) throw errors.entityTooLarge(maxSize);
        digester.update(chunk);
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= WRITE_BATCH) {
          await fh.writev(batch);
          batch = [];
          batchBytes = 0;
        }
      }
      if (batch.length) await fh.writev(batch);
      await fh.sync();
      await fh.close();
      return { id, tmpPath, size };
    } catch (err) {
      await fh.close().catch(() => undefined);
      await fsp.rm(tmpPath, { force: true });
      throw err;
    }
  }

  async discard(staged: StagedFile): Promise<void> {
    await fsp.rm(staged.tmpPath, { force: true });
  }

  tmpPath(id: string): string {
    return path.join(this.tmpDir, id);
  }

  /** Renames a staged file to its final, unique name and makes the rename durable. Returns the fileId. */
  async promote(staged: StagedFile, tenantId: string, hash: string): Promise<string> {
    const fileId = staged.id;
    const finalPath = this.blobPath(tenantId, hash, fileId);
    const dir = path.dirname(finalPath);
    const firstCreated = await fsp.mkdir(dir, { recursive: true });
    await fsp.rename(staged.tmpPath, finalPath);
    await fsyncDir(dir);
    if (firstCreated) {
      // New fan-out directories: each one's entry in its parent must be durable too.
      for (let d = dir; d !== path.dirname(firstCreated); d = path.dirname(d)) await fsyncDir(path.dirname(d));
    }
    return fileId;
  }

  async remove(tenantId: string, hash: string, fileId: string): Promise<void> {
    await fsp.rm(this.blobPath(tenantId, hash, fileId), { force: true });
  }

  /**
   * Every blob file on disk, as (tenant, hash, fileId), for the reconciler.
   * Names that do not look like ours are skipped, never deleted.
   */
  async *listFiles(): AsyncIterable<{ tenantId: string; hash: string; fileId: string; path: string }> {
    const tenants = await fsp.readdir(this.blobDir).catch(() => [] as string[]);
    for (const tenantId of tenants) {
      const root = path.join(this.blobDir, tenantId);
      for (const entry of await fsp.readdir(root, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const m = /^([0-9a-f]{64})\.([A-Za-z0-9_-]+)$/.exec(entry.name);
        if (!m) continue;
        yield { tenantId, hash: m[1], fileId: m[2], path: path.join(entry.parentPath, entry.name) };
      }
    }
  }

  async exists(tenantId: string, hash: string, fileId: string): Promise<boolean> {
    return fsp.access(this.blobPath(tenantId, hash, fileId)).then(
      () => true,
      () => false,
    );
  }

  /** Opens a blob for reading; ENOENT propagates so the caller can re-read metadata. */
  async open(tenantId: string, hash: string, fileId: string): Promise<fsp.FileHandle> {
    return fsp.open(this.blobPath(tenantId, hash, fileId), 'r');
  }

  /** Streams [start, end] of an open blob; the handle is closed when the stream ends or is destroyed. */
  readStream(fh: fsp.FileHandle, start: number, endInclusive: number): Readable {
    return fh.createReadStream({ start, end: endInclusive, autoClose: true, highWaterMark: 256 * 1024 });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
