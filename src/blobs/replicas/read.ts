/**
 * Reading a blob back from whichever replica answers.
 *
 * Encrypted blobs: reads decrypt only the frames a range needs, and a frame
 * that fails authentication is never sent: the read goes on from the same
 * byte on the next replica.
 *
 * Plaintext blobs (encryption off) are checked against their address: a
 * read of a whole blob is BLAKE3-hashed as it streams and its last chunk
 * sent only if the hash matches (blobs/verify.ts); a small blob is read
 * whole and checked before a byte is sent, even for a range of it. A
 * replica that ends short is that replica's failure, like a bad frame.
 * Only ranges of plaintext blobs over WHOLE_READ go unchecked (README).
 *
 * Replicas found missing or corrupt on the way are marked for repair (the
 * scrub rewrites them from a good one).
 */
import { pipeline, Readable } from 'node:stream';

import type { Logger } from 'pino';

import {
  type Backend,
  type BackendDecl,
  BackendError,
  BackendNotFound,
  type BackendState,
  BackendUnavailable,
  type ByteRange,
  type GuardedBackend,
  openBreaker,
  openReplica,
  readOrder,
  readReplica,
  type ReplicaRef,
} from '../../backends/index.js';
import { createDecryptStream, decryptBuffer, FramedCryptoError, frameRangeFor } from '../../crypto/framed.js';
import type { SseCustomerKey } from '../../crypto/sse-c.js';
import { fail } from '../../errors.js';
import { LOCATION_BAD, LOCATION_OK, locatorOf, SSE_C_KEY_ID, type StoredBlob } from '../address.js';
import type { DataKeys } from '../data-keys.js';
import { BlobCorruptError, checkWholeBlob, WholeBlobCheck } from '../verify.js';

/** Reads up to this size are read whole, checked, and only then sent (a bad replica fails over before the headers). */
const WHOLE_READ = 256 * 1024;

/** What the read path needs of the replica set (Replicas). */
export interface ReadSide {
  readonly backends: Map<string, GuardedBackend>;
  readonly decls: Map<string, BackendDecl>;
  readonly localName: string | undefined;
  readonly keys: DataKeys;
  /** No progress from a replica for this long (first response, or next chunk) moves a read to the next one. */
  readonly stallMs: number;
  /** Also check encrypted blobs' plaintext against their address on whole reads. */
  readonly verifyReads: boolean;
  readonly log?: Logger;
  states(): BackendState[];
  markLocations(blob: { tenantId: string; hash: string }, backends: string[], state: number): Promise<void>;
}

type Failure = { backend: string; error: unknown };

export class ReplicaReader {
  constructor(private readonly r: ReadSide) {}

  /**
   * Plaintext [start, end] (inclusive) of a blob, from the first replica that
   * serves it; a replica that fails midway (unreadable, or a frame that does
   * not authenticate) is replaced by the next from the same byte on. Returns
   * null when no replica has the blob (it was collected: re-read metadata).
   */
  async open(blob: StoredBlob, start: number, end: number, customer?: SseCustomerKey): Promise<Readable | null> {
    const key = this.r.keys.open(blob, customer);
    const plan = this.readPlan(blob, end - start + 1);
    if (plan.length === 0) {
      this.r.log?.error({ tenantId: blob.tenantId, hash: blob.hash, locations: blob.locations }, 'no readable replica');
      throw fail.unavailable();
    }
    const checked = this.checksHash(blob, key);
    // A small plaintext blob is read whole even for a range of it, so that range is checked too.
    if (!key && checked && blob.size <= WHOLE_READ) return this.openWhole(blob, plan, key, start, end, true);
    if (end - start + 1 <= WHOLE_READ) return this.openWhole(blob, plan, key, start, end, checked && start === 0 && end === blob.size - 1);
    const check = checked && start === 0 && end === blob.size - 1 ? new WholeBlobCheck(blob.hash, blob.size) : undefined;
    const stallMs = this.r.stallMs;
    const opts = { attemptTimeoutMs: stallMs, rangeWithinBlob: true };
    let first;
    try {
      first = await openReplica(plan, cipherRange(blob, key, start, end), opts);
    } catch (err) {
      return this.readFailed(blob, err);
    }
    void this.noteFailures(blob, first.failures);
    // The generator below is a function of its own (no arrow generators), so it needs `this` under a name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    let current = first;
    async function* run(): AsyncGenerator<Buffer> {
      let pos = start;
      let sent = 0;
      // Replicas whose bytes went into this read (any of them may be the corrupt one).
      const served = new Set<string>();
      try {
        for (;;) {
          // A replica that stops sending (or breaks off) fails here within the stall timeout.
          const source = readReplica(current.replica, current.stream, stallMs);
          const name = current.replica.backend.name;
          // The pipeline's own callback has nothing to add: its errors surface in the loop below.
          const plain = key
            ? pipeline(source, createDecryptStream(key, { plainSize: blob.size, plainStart: pos, plainEnd: end }), () => undefined)
            : source;
          try {
            for await (const chunk of plain as AsyncIterable<Buffer>) {
              if (pos + chunk.length > end + 1) throw new BackendError(name, 'SizeMismatch', 'replica sent more bytes than asked for');
              served.add(name);
              check?.update(chunk); // throws before the chunk that completes a corrupt blob is sent
              pos += chunk.length;
              sent += chunk.length;
              yield chunk;
            }
            // A replica that ends early is short (truncated): its failure, never a response that just stops.
            if (pos <= end) throw new BackendError(name, 'SizeMismatch', `replica ended after ${pos - start} of ${end - start + 1} bytes`);
            return;
          } catch (err) {
            if (err instanceof BlobCorruptError) {
              // Which replica's bytes were wrong is unknown when several served: all are rechecked.
              // Marked before the response fails, so the client's retry reads another replica first.
              await self.noteFailures(
                blob,
                [...served].map((backend) => ({ backend, error: err })),
              );
              // Bytes already sent cannot be taken back: the response must fail.
              if (sent > 0) throw err;
              check!.reset();
              pos = start;
              served.clear();
            } else void self.noteFailures(blob, [{ backend: name, error: err }]);
            const failedAt = plan.findIndex((p) => p.backend === current.replica.backend);
            const rest = plan.slice(failedAt + 1);
            if (rest.length === 0 || pos > end) throw err;
            self.r.log?.warn(
              { err, backend: name, tenantId: blob.tenantId, hash: blob.hash, at: pos },
              'replica read failed midway; reading on from the next replica',
            );
            current.stream.destroy();
            current = await openReplica(rest, cipherRange(blob, key, pos, end), opts);
            void self.noteFailures(blob, current.failures);
          }
        }
      } finally {
        current.stream.destroy();
      }
    }
    return Readable.from(run(), { objectMode: false });
  }

  /**
   * Replicas in the order to try them: good before suspect, the local one
   * first, healthy backends before others, then in the order the config
   * declares them (so which replica serves a read does not depend on the
   * order the database returned the locations in).
   */
  readPlan(blob: StoredBlob, bytes: number): ReplicaRef[] {
    const locator = locatorOf(blob);
    const declared = [...this.r.decls.keys()];
    const rank = (l: { backend: string; state: number }) => (l.state === LOCATION_OK ? 0 : 2) + (l.backend === this.r.localName ? 0 : 1);
    const names = [...blob.locations]
      .sort((a, b) => rank(a) - rank(b) || declared.indexOf(a.backend) - declared.indexOf(b.backend))
      .map((l) => l.backend);
    const { order } = readOrder(names, this.r.states(), { bytes, overLimit: 'last' });
    return order.map((name) => ({ backend: this.r.backends.get(name)!, locator }));
  }

  /**
   * Whether reads of this blob check its bytes against its BLAKE3 address:
   * always for plaintext blobs, for encrypted ones with verifyReads. Never
   * for SSE-C blobs: their address is the hash of the stored ciphertext,
   * and decryption has authenticated every frame.
   */
  private checksHash(blob: StoredBlob, key: Buffer | undefined): boolean {
    if (blob.encMasterKeyId === SSE_C_KEY_ID) return false;
    return !key || this.r.verifyReads;
  }

  /**
   * A small read: fetched from one replica and checked (decrypted, and with
   * `checkHash` the whole blob hashed) before a byte is sent, so a bad
   * replica is passed over before the response starts. With checkHash the
   * whole blob is fetched and [start, end] cut from it.
   */
  private async openWhole(
    blob: StoredBlob,
    plan: ReplicaRef[],
    key: Buffer | undefined,
    start: number,
    end: number,
    checkHash: boolean,
  ): Promise<Readable | null> {
    const stallMs = this.r.stallMs;
    const failures: Failure[] = [];
    const [from, to] = checkHash ? [0, blob.size - 1] : [start, end];
    for (let i = 0; i < plan.length; i++) {
      try {
        const range = cipherRange(blob, key, from, to);
        let stored: Buffer;
        const direct = plan[i].backend.read;
        if (direct) stored = await withTimeout(direct(plan[i].locator, range), stallMs, plan[i].backend);
        else {
          const opened = await openReplica([plan[i]], range, { attemptTimeoutMs: stallMs, rangeWithinBlob: true });
          const chunks: Buffer[] = [];
          for await (const c of readReplica(opened.replica, opened.stream, stallMs)) chunks.push(c);
          stored = Buffer.concat(chunks);
        }
        if (stored.length !== range.end - range.start + 1)
          throw new BackendError(plan[i].backend.name, 'SizeMismatch', 'replica shorter than its blob');
        let out: Buffer;
        if (!key) out = stored;
        else if (range.start === 0 && from === 0 && to === blob.size - 1) out = decryptBuffer(key, stored, blob.size);
        else out = await decryptRange(key, blob.size, from, to, stored);
        if (checkHash) {
          checkWholeBlob(blob.hash, out);
          out = out.subarray(start, end + 1);
        }
        void this.noteFailures(blob, failures);
        return Readable.from([out], { objectMode: false });
      } catch (err) {
        failures.push({ backend: plan[i].backend.name, error: err });
      }
    }
    void this.noteFailures(blob, failures);
    return this.readFailed(blob, failures.length ? aggregate(failures) : new Error('no replica'));
  }

  private readFailed(blob: StoredBlob, err: unknown): null {
    const all = err instanceof AggregateError ? err.errors : [err];
    if (all.length > 0 && all.every((e) => e instanceof BackendNotFound)) return null;
    if (err instanceof BackendNotFound) return null;
    this.r.log?.error({ err, tenantId: blob.tenantId, hash: blob.hash }, 'no replica of a blob could be read');
    throw fail.unavailable();
  }

  /**
   * Replicas found missing or corrupt are marked for repair (the scrub
   * rewrites them from a good one); an unavailable backend is only the
   * breaker's business: its replicas are not lost. Never rejects: a mark
   * that cannot be written is logged, and the scrub finds the replica anyway.
   */
  private noteFailures(blob: StoredBlob, failures: Failure[]): Promise<void> {
    const bad = failures.filter((f) => f.error instanceof BackendNotFound || f.error instanceof FramedCryptoError || isCorrupt(f.error));
    if (bad.length === 0) return Promise.resolve();
    const backends = bad.map((b) => b.backend);
    this.r.log?.error({ tenantId: blob.tenantId, hash: blob.hash, backends }, 'replica missing or corrupt; marked for repair');
    return this.r.markLocations(blob, backends, LOCATION_BAD).catch((err: unknown) => {
      this.r.log?.warn(
        { err, tenantId: blob.tenantId, hash: blob.hash, backends },
        'marking replicas for repair failed (the scrub finds them)',
      );
    });
  }
}

function cipherRange(blob: StoredBlob, key: Buffer | undefined, start: number, end: number): ByteRange {
  if (!key) return { start, end };
  const r = frameRangeFor(start, end, blob.size);
  return { start: r.cipherStart, end: r.cipherEnd };
}

/** A read that must answer within ms (a hung mount must not hold a request forever); one that does not opens the backend's breaker. */
async function withTimeout<T>(p: Promise<T>, ms: number, backend: Backend): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      openBreaker(backend);
      reject(new BackendUnavailable(backend.name, `no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isCorrupt(err: unknown): boolean {
  if (err instanceof BlobCorruptError) return true;
  // Replicas are only asked for bytes within their blob: a range refused is a replica too short.
  return err instanceof BackendError && (err.code === 'SizeMismatch' || err.code === 'InvalidRange');
}

function aggregate(failures: Array<{ error: unknown }>): unknown {
  return failures.length === 1 ? failures[0].error : new AggregateError(failures.map((f) => f.error));
}

/** Decrypts the stored bytes frameRangeFor(start, end) named into plaintext [start, end]. */
async function decryptRange(key: Buffer, plainSize: number, start: number, end: number, stored: Buffer): Promise<Buffer> {
  const dec = createDecryptStream(key, { plainSize, plainStart: start, plainEnd: end });
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of dec) out.push(c as Buffer);
  })();
  dec.end(stored);
  await done;
  return Buffer.concat(out);
}
