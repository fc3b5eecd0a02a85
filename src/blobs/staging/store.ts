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
import fsp from 'node:fs/promises';
import path from 'node:path';

import { Blake3Hasher } from '@napi-rs/blake-hash';

import { cipherOffset, encryptBuffer, encryptedSize, FRAME_PLAINTEXT, sealFrames } from '../../crypto/framed.js';
import { fail } from '../../errors.js';
import { BodyDigester, type Digests } from './digest.js';
import { DiskSpace } from './disk-space.js';
import { type DigestSpec, type HashJob, hashPool } from './hash-pool.js';

export interface StagedFile {
  /** The write intent's id: names the temp file and, once promoted, the blob file's suffix. */
  id: string;
  tmpPath: string;
  size: number;
  /**
   * A small body held in memory instead of a temp file (see SMALL_BODY):
   * promote() writes it straight to its final, unique name; discard() has
   * nothing to remove.
   */
  data?: Buffer;
  /**
   * The blob's own data key when it is encrypted at rest: the temp file
   * already holds ciphertext (crypto/framed.ts), so no plaintext ever
   * reaches a disk; a body in memory is encrypted when it is written.
   */
  dataKey?: Buffer;
  /**
   * SSE-C bodies (stage's hashStored): the stored bytes' BLAKE3, which is
   * the blob's address (unique per upload: such blobs are never shared),
   * and, for a body held in memory, those exact bytes (encrypting again
   * would give other bytes: the nonces are random).
   */
  storedHash?: string;
  stored?: Buffer;
}

/** Bytes a staged body takes once stored (ciphertext when it is encrypted). */
export function storedSize(staged: StagedFile): number {
  return staged.dataKey ? encryptedSize(staged.size) : staged.size;
}

/** The stored form of a body held in memory (encrypted with its data key, if any). */
export function storedBytes(staged: StagedFile): Buffer {
  if (!staged.data) throw new Error('storedBytes: the body is in a temp file');
  if (staged.stored) return staged.stored;
  return staged.dataKey ? encryptBuffer(staged.dataKey, staged.data) : staged.data;
}

/** Large bodies are written and hashed in batches of this size, not one syscall per socket chunk. */
const BATCH = 1 << 20;
/**
 * The first batch is this small, so every later write starts 64 KiB past a
 * 1 MiB boundary. The page cache sizes its folios by the alignment of a
 * write's position: 1 MiB-aligned 1 MiB writes get 1 MiB folios, whose
 * allocation was 2-4x slower than the whole write with 64 KiB folios here
 * (Linux 6.18, ext4; a 64 MiB body took 200-400 ms instead of 60-190 ms).
 */
const FIRST_BATCH = 64 * 1024;
/** Batches of one body being written and hashed at once (memory per large upload: this many MiB). */
const MAX_INFLIGHT = 4;
/**
 * Bodies up to this size are kept in memory until their hash is known and
 * then written once, in place: no temp file, no rename, and so one journal
 * commit per blob instead of two (the rename after the file's fsync needs a
 * second one for the directory). A body identical to a stored blob is never
 * written at all.
 */
export const SMALL_BODY = 128 * 1024;

export class BlobStore {
  readonly tmpDir: string;
  readonly blobDir: string;

  constructor(
    readonly root: string,
    /** Turns a full disk into 507 InsufficientStorage and logs it once per episode. */
    readonly space: DiskSpace = new DiskSpace({ dataDir: root }),
  ) {
    this.tmpDir = path.join(root, 'tmp');
    this.blobDir = path.join(root, 'blobs');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.blobDir, { recursive: true, mode: 0o700 });
  }

  /** Ids of the staged (temp) files present; the reconciler decides which are dead. */
  async stagedIds(): Promise<string[]> {
    return fsp.readdir(this.tmpDir).catch(() => [] as string[]); // no tmp folder yet: nothing staged
  }

  blobPath(tenantId: string, hash: string, fileId: string): string {
    return path.join(this.blobDir, tenantId, hash.slice(0, 2), hash.slice(2, 4), `${hash}.${fileId}`);
  }

  /**
   * Receives body and computes its digests. A body of at most SMALL_BODY
   * bytes stays in memory (promote() writes it in place); a larger one
   * streams into a fsynced temp file through 1 MiB batches that are written
   * (positional writes, up to MAX_INFLIGHT at once) while a worker hashes
   * them (hash-pool.ts), so receiving, writing and hashing overlap.
   * Fails with EntityTooLarge past maxSize, with InsufficientStorage when the
   * data folder is full; the temp file is removed on any error.
   */
  async stage(
    body: AsyncIterable<Buffer>,
    spec: DigestSpec,
    maxSize: number,
    id: string,
    /** Runs before the temp file is created (a body kept in memory creates none here). */
    beforeFile?: () => Promise<void>,
    /** Encrypts the body at rest with this key (see StagedFile.dataKey). */
    dataKey?: Buffer,
    /** Also hash the stored (encrypted) bytes (see StagedFile.storedHash). */
    hashStored = false,
  ): Promise<{ staged: StagedFile; digests: Digests }> {
    const tmpPath = this.tmpPath(id);
    let head: Buffer[] = [];
    let size = 0;
    let large: LargeBody | undefined;
    try {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > maxSize) throw fail.entityTooLarge(maxSize);
        if (large) {
          await large.feed(chunk);
          continue;
        }
        head.push(chunk);
        if (size <= SMALL_BODY) continue;
        // Outgrew the in-memory size: from here on the body streams to a temp file.
        await beforeFile?.();
        large = new LargeBody(await fsp.open(tmpPath, 'w', 0o600), spec, dataKey, hashStored);
        for (const c of head) await large.feed(c);
        head = [];
      }
      if (!large) {
        const digester = new BodyDigester(spec);
        for (const c of head) digester.update(c);
        const data = head.length === 1 ? head[0] : Buffer.concat(head, size);
        const staged: StagedFile = { id, tmpPath, size, data, dataKey };
        if (hashStored) {
          staged.stored = storedBytes(staged);
          staged.storedHash = new Blake3Hasher().update(staged.stored).digest('hex');
        }
        return { staged, digests: digester.digest() };
      }
      const digests = await large.finish();
      this.space.wrote(this.space.dataFolder);
      return { staged: { id, tmpPath, size, dataKey, storedHash: large.storedHash() }, digests };
    } catch (err) {
      if (large) {
        await large.abort();
        await fsp.rm(tmpPath, { force: true });
      }
      // Errors of the body itself (client gone, bad framing, too large) pass through unchanged.
      throw this.space.refused(this.space.dataFolder, err);
    }
  }

  async discard(staged: StagedFile): Promise<void> {
    if (staged.data) return;
    await fsp.rm(staged.tmpPath, { force: true });
  }

  tmpPath(id: string): string {
    return path.join(this.tmpDir, id);
  }

  /**
   * Puts a staged body at its final, unique name durably and returns the
   * fileId: a temp file is renamed there; a small body held in memory is
   * written there directly (created exclusively, fdatasynced). Either way the
   * directory is fsynced before this returns, so the metadata committed next
   * never names a file that a power loss could take away. A crash before
   * that commit leaves a file no row names: the start-up reconciliation
   * removes it (on PostgreSQL the write intent recorded before the first
   * byte keeps other nodes' reconcilers off it meanwhile). A full disk
   * fails it with 507 InsufficientStorage and leaves no blob file.
   */
  async promote(staged: StagedFile, tenantId: string, hash: string, stored?: Buffer): Promise<string> {
    const fileId = staged.id;
    const finalPath = this.blobPath(tenantId, hash, fileId);
    const dir = path.dirname(finalPath);
    try {
      await this.ensureDir(dir);
      if (staged.data) await writeNewFile(finalPath, stored ?? storedBytes(staged));
      else await fsp.rename(staged.tmpPath, finalPath);
      try {
        await fsyncDir(dir);
      } catch (err) {
        // Not known durable: take it back, so that a failed promote leaves no blob file behind.
        await fsp.rm(finalPath, { force: true }).catch(() => undefined); // the fsync's error is the one to report
        throw err;
      }
    } catch (err) {
      throw this.space.refused(this.space.dataFolder, err);
    }
    this.space.wrote(this.space.dataFolder);
    return fileId;
  }

  /** Fan-out directories known to exist (they are never removed while the process runs). */
  private readonly knownDirs = new Set<string>();

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const firstCreated = await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    if (firstCreated) {
      // New fan-out directories: each one's entry in its parent must be durable too.
      for (let d = dir; d !== path.dirname(firstCreated); d = path.dirname(d)) await fsyncDir(path.dirname(d));
    }
    if (this.knownDirs.size > 100_000) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  async remove(tenantId: string, hash: string, fileId: string): Promise<void> {
    await fsp.rm(this.blobPath(tenantId, hash, fileId), { force: true });
  }

  /**
   * Every blob file on disk, as (tenant, hash, fileId), for the reconciler.
   * Names that do not look like ours are skipped, never deleted.
   */
  async *listFiles(): AsyncIterable<{ tenantId: string; hash: string; fileId: string; path: string }> {
    const tenants = await fsp.readdir(this.blobDir).catch(() => [] as string[]); // no blobs folder yet: no files
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
}

/** Creates path (it must not exist), writes data and makes the bytes and the size durable. */
async function writeNewFile(file: string, data: Buffer): Promise<void> {
  const fh = await fsp.open(file, 'wx', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => undefined); // the write's error is the one to report
    await fsp.rm(file, { force: true });
    throw err;
  }
  await fh.close();
}

/** Writes every buffer at position, in order (writev may write less than asked: it continues). */
async function writevAll(fh: fsp.FileHandle, parts: Buffer[], position: number): Promise<void> {
  let pending = parts;
  let at = position;
  while (pending.length > 0) {
    let { bytesWritten } = await fh.writev(pending, at);
    if (bytesWritten === 0) throw new Error('writev wrote nothing');
    at += bytesWritten;
    const rest: Buffer[] = [];
    for (const p of pending) {
      if (bytesWritten >= p.length) bytesWritten -= p.length;
      else {
        rest.push(bytesWritten > 0 ? p.subarray(bytesWritten) : p);
        bytesWritten = 0;
      }
    }
    pending = rest;
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

/**
 * A body streaming into its temp file: chunks are copied into batches; a
 * full batch is written at its offset and hashed at the same time (by a
 * pool worker from shared memory, or here when there is no pool), with at
 * most MAX_INFLIGHT batches outstanding before the body is read further.
 */
class LargeBody {
  private readonly job: HashJob | undefined;
  private readonly digester: BodyDigester | undefined;
  private readonly free: SharedArrayBuffer[] = [];
  private readonly inflight: Array<Promise<unknown>> = [];
  private batch: SharedArrayBuffer | undefined;
  private fill = 0;
  private offset = 0;
  private lastWrite: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly fh: fsp.FileHandle,
    spec: DigestSpec,
    private readonly dataKey?: Buffer,
    hashStored = false,
  ) {
    // Stored bytes are written in order (one write at a time), so hashing them as they are queued is in order too.
    if (hashStored) this.storedHasher = new Blake3Hasher();
    this.job = hashPool?.start(spec);
    if (!this.job) this.digester = new BodyDigester(spec);
  }

  async feed(chunk: Buffer): Promise<void> {
    let from = 0;
    while (from < chunk.length) {
      const limit = this.offset === 0 ? FIRST_BATCH : BATCH;
      // A full batch goes out only once more bytes arrive: until then it may hold the body's
      // end, whose last frame an encrypted blob seals differently (crypto/framed.ts).
      if (this.fill === limit) await this.dispatch(false);
      this.batch ??= this.free.pop() ?? new SharedArrayBuffer(BATCH);
      const room = (this.offset === 0 ? FIRST_BATCH : BATCH) - this.fill;
      const n = Math.min(chunk.length - from, room);
      chunk.copy(new Uint8Array(this.batch), this.fill, from, from + n);
      this.fill += n;
      from += n;
    }
  }

  /** Writes (encrypted, with a data key) and hashes the current batch; waits while too many are outstanding. */
  private async dispatch(last: boolean): Promise<void> {
    const buf = this.batch!;
    const len = this.fill;
    const view = Buffer.from(buf, 0, len);
    // Batches start at multiples of the frame size (FIRST_BATCH and BATCH are multiples of it).
    const frame = this.offset / FRAME_PLAINTEXT;
    // Sealed frames are written as they are (one writev), not joined into one buffer first.
    const out = this.dataKey ? sealFrames(this.dataKey, frame, view, last) : [view];
    if (this.storedHasher) for (const part of out) this.storedHasher.update(part);
    // One write at a time: concurrent writes to one file only contend for its inode lock
    // (the kernel spins on it); reading the body and hashing still overlap with the write.
    const offset = this.dataKey ? cipherOffset(frame) : this.offset;
    const write = (this.lastWrite = this.lastWrite.then(() => writevAll(this.fh, out, offset)));
    let hash: Promise<void>;
    if (this.job) hash = this.job.update(buf, len);
    else {
      this.digester!.update(view);
      hash = Promise.resolve();
    }
    this.offset += len;
    const both = Promise.all([write, hash]).then(() => void this.free.push(buf));
    both.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    this.inflight.push(both);
    this.batch = undefined;
    this.fill = 0;
    while (this.inflight.length >= MAX_INFLIGHT) await this.inflight.shift();
  }

  async finish(): Promise<Digests> {
    if (this.fill > 0) await this.dispatch(true);
    while (this.inflight.length) await this.inflight.shift();
    await this.fh.sync();
    await this.fh.close();
    return this.job ? this.job.digest() : this.digester!.digest();
  }

  private readonly storedHasher?: Blake3Hasher;

  storedHash(): string | undefined {
    return this.storedHasher?.digest('hex');
  }

  async abort(): Promise<void> {
    this.job?.abort();
    await Promise.allSettled(this.inflight);
    await this.fh.close().catch(() => undefined); // aborting already: the temp file is removed next
  }
}
