/**
 * Hashing of large bodies on worker threads. MD5 (the ETag) runs near
 * 0.6 GB/s and BLAKE3 near 3 GB/s on one core; on the event loop they cap a
 * single upload at about 0.5 GB/s and delay every other request meanwhile.
 * Here each upload's digests are computed by one worker (MD5 and the other
 * digests are sequential within a stream), fed from shared memory: the
 * stager copies the body into 1 MiB SharedArrayBuffer batches that the
 * worker hashes while the same bytes are written to the staged file, so
 * receiving, writing and hashing overlap and no batch is copied twice.
 *
 * Small bodies never come here: a message round trip costs more than
 * hashing a few KiB in place (BlobStore hashes them with BodyDigester).
 *
 * The workers run plain JavaScript given as source (they must start the same
 * way from dist/ and from the TypeScript sources under test); the digest
 * logic mirrors BodyDigester and the tests compare the two.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

import type { ChecksumAlgorithm, Digests } from './digest.js';

export interface DigestSpec {
  sha256?: boolean;
  checksums?: Iterable<ChecksumAlgorithm>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { Blake3Hasher } = require(workerData.blake);
const { Crc32c } = require(workerData.crc32c);
const jobs = new Map();
function u32be(n) { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b.toString('base64'); }
parentPort.on('message', (m) => {
  if (m.t === 'start') {
    const sums = new Set(m.checksums);
    jobs.set(m.id, {
      size: 0, sums, blake3: new Blake3Hasher(), md5: crypto.createHash('md5'),
      sha256: m.sha256 || sums.has('sha256') ? crypto.createHash('sha256') : undefined,
      sha1: sums.has('sha1') ? crypto.createHash('sha1') : undefined,
      crc32: sums.has('crc32') ? 0 : undefined,
      crc32c: sums.has('crc32c') ? new Crc32c() : undefined,
    });
  } else if (m.t === 'data') {
    const j = jobs.get(m.id);
    if (j) {
      const chunk = Buffer.from(m.buf, 0, m.len);
      j.size += chunk.length;
      j.blake3.update(chunk);
      j.md5.update(chunk);
      if (j.sha256) j.sha256.update(chunk);
      if (j.sha1) j.sha1.update(chunk);
      if (j.crc32 !== undefined) j.crc32 = zlib.crc32(chunk, j.crc32);
      if (j.crc32c) j.crc32c.update(chunk);
    }
    parentPort.postMessage({ t: 'ack', id: m.id, n: m.n });
  } else if (m.t === 'end') {
    const j = jobs.get(m.id);
    jobs.delete(m.id);
    const sha256 = j.sha256 ? j.sha256.digest() : undefined;
    const checksums = {};
    if (j.sums.has('sha256') && sha256) checksums.sha256 = sha256.toString('base64');
    if (j.sha1) checksums.sha1 = j.sha1.digest('base64');
    if (j.crc32 !== undefined) checksums.crc32 = u32be(j.crc32);
    if (j.crc32c) checksums.crc32c = u32be(j.crc32c.digest());
    parentPort.postMessage({ t: 'done', id: m.id, d: { size: j.size, blake3: j.blake3.digest('hex'), md5: j.md5.digest(), sha256, checksums } });
  } else if (m.t === 'drop') {
    jobs.delete(m.id);
  }
});
`;

type Pending = { resolve: () => void; reject: (err: Error) => void };

interface Slot {
  worker: Worker;
  /** Jobs running on this worker: their acks and final digests. */
  jobs: Map<number, { acks: Map<number, Pending>; done?: { resolve: (d: Digests) => void; reject: (err: Error) => void } }>;
}

/** One upload's hashing on a worker: feed batches in order, then ask for the digests. */
export interface HashJob {
  /** Hashes buf[0, len) (shared memory: it must not change until the promise settles). */
  update(buf: SharedArrayBuffer, len: number): Promise<void>;
  digest(): Promise<Digests>;
  /** Gives up the job (the body failed); its state in the worker is dropped. */
  abort(): void;
}

export class HashPool {
  private readonly slots: Slot[] = [];
  private nextJob = 1;

  constructor(private readonly size: number) {}

  start(spec: DigestSpec): HashJob {
    const slot = this.pick();
    const id = this.nextJob++;
    const state: Slot['jobs'] extends Map<number, infer V> ? V : never = { acks: new Map() };
    slot.jobs.set(id, state);
    slot.worker.postMessage({ t: 'start', id, sha256: !!spec.sha256, checksums: [...(spec.checksums ?? [])] });
    let n = 0;
    return {
      update: (buf, len) =>
        new Promise<void>((resolve, reject) => {
          const seq = n++;
          state.acks.set(seq, { resolve, reject });
          slot.worker.postMessage({ t: 'data', id, buf, len, n: seq });
        }),
      digest: () =>
        new Promise<Digests>((resolve, reject) => {
          state.done = { resolve, reject };
          slot.worker.postMessage({ t: 'end', id });
        }),
      abort: () => {
        if (!slot.jobs.delete(id)) return;
        // Outstanding batches settle now (their buffers are not reused after an abort).
        for (const p of state.acks.values()) p.reject(new Error('hash job aborted'));
        state.acks.clear();
        slot.worker.postMessage({ t: 'drop', id });
      },
    };
  }

  /** The worker with the fewest jobs; workers start on first use. */
  private pick(): Slot {
    if (this.slots.length < this.size && this.slots.every((s) => s.jobs.size > 0)) this.slots.push(this.spawn());
    return this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
  }

  private spawn(): Slot {
    const req = createRequire(import.meta.url);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { blake: req.resolve('@napi-rs/blake-hash'), crc32c: req.resolve('@aws-crypto/crc32c') },
    });
    worker.unref();
    const slot: Slot = { worker, jobs: new Map() };
    worker.on('message', (m: { t: string; id: number; n?: number; d?: WorkerDigests }) => {
      const job = slot.jobs.get(m.id);
      if (!job) return;
      if (m.t === 'ack') {
        const p = job.acks.get(m.n!);
        job.acks.delete(m.n!);
        p?.resolve();
      } else if (m.t === 'done') {
        slot.jobs.delete(m.id);
        const d = m.d!;
        job.done?.resolve({
          size: d.size,
          blake3: d.blake3,
          md5: Buffer.from(d.md5.buffer, d.md5.byteOffset, d.md5.byteLength),
          sha256: d.sha256 ? Buffer.from(d.sha256.buffer, d.sha256.byteOffset, d.sha256.byteLength) : undefined,
          checksums: d.checksums,
        });
      }
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const job of slot.jobs.values()) {
        for (const p of job.acks.values()) p.reject(err);
        job.done?.reject(err);
      }
      slot.jobs.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)));
    return slot;
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}

interface WorkerDigests {
  size: number;
  blake3: string;
  md5: Uint8Array;
  sha256?: Uint8Array;
  checksums: Digests['checksums'];
}

/**
 * The process's pool: one worker per core but one (the event loop keeps a
 * core busy with the network and the writes), at least one, at most four;
 * ANVIL_HASH_THREADS overrides (0 hashes on the event loop).
 */
export const hashPool: HashPool | null = (() => {
  const configured = process.env.ANVIL_HASH_THREADS;
  const n = configured !== undefined ? Number(configured) : Math.max(1, Math.min(4, os.availableParallelism() - 1));
  return Number.isInteger(n) && n > 0 ? new HashPool(n) : null;
})();
