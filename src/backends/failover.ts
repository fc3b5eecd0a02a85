/**
 * Reading a blob from the first replica that answers, and noticing when the
 * one being read stops. Replicas are tried in the order given (see readOrder
 * in placement.ts); a replica that fails, does not answer within the read
 * timeout, or does not have the blob is passed over and reported, so the
 * caller can schedule a repair.
 *
 * One timeout covers both halves of a read ("no progress for N ms", default
 * DEFAULT_READ_STALL_MS): the time to a replica's first response, and then,
 * in readReplica, the wait for each next chunk of its body. It is a stall
 * timer, not a deadline: every chunk resets it, so a large read that keeps
 * moving never times out, and it runs only while the reader waits for the
 * backend, so a slow client downstream never makes a backend look stalled.
 * A backend that times out, or breaks off mid-stream, has its breaker
 * opened at once (GuardedBackend): the next read goes straight to another
 * replica instead of waiting out the same timeout again.
 *
 * The attempt timeout aborts the attempt with a BackendUnavailable as the
 * abort reason; the attempt is also raced, so a backend that ignores the
 * signal (a hung mount) cannot hold the read past the timeout.
 */
import type { Readable } from 'node:stream';

import { abortReason, type Backend, BackendError, BackendNotFound, BackendUnavailable, type ByteRange } from './backend.js';
import { GuardedBackend } from './guarded.js';

/** Default of the backends section's read_stall_timeout_ms. */
export const DEFAULT_READ_STALL_MS = 3000;

export interface ReplicaRef {
  backend: Backend;
  locator: string;
}

export interface ReadFailure {
  backend: string;
  locator: string;
  error: unknown;
}

export interface OpenReplicaOptions {
  signal?: AbortSignal;
  /** Time allowed for each replica's first response (default DEFAULT_READ_STALL_MS). */
  attemptTimeoutMs?: number;
  /**
   * The range lies within the blob's recorded size: a replica that refuses
   * it (InvalidRange) is shorter than it should be, so that is its own
   * failure (SizeMismatch: corrupt) and the next replica is tried.
   */
  rangeWithinBlob?: boolean;
}

export interface OpenedReplica {
  stream: Readable;
  replica: ReplicaRef;
  /** Replicas tried before the one that answered. */
  failures: ReadFailure[];
}

export async function openReplica(
  replicas: readonly ReplicaRef[],
  range: ByteRange | undefined,
  opts: OpenReplicaOptions = {},
): Promise<OpenedReplica> {
  const { signal } = opts;
  const timeoutMs = opts.attemptTimeoutMs ?? DEFAULT_READ_STALL_MS;
  const failures: ReadFailure[] = [];
  for (const replica of replicas) {
    signal?.throwIfAborted();
    const { backend, locator } = replica;
    const ac = new AbortController();
    const forward = () => ac.abort(abortReason(signal!));
    signal?.addEventListener('abort', forward, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new BackendUnavailable(backend.name, `get ${locator}: no response within ${timeoutMs} ms`);
        openBreaker(backend);
        ac.abort(err);
        reject(err);
      }, timeoutMs);
    });
    timedOut.catch(() => undefined); // raced below; never an unhandled rejection meanwhile
    const attempt = backend.get(locator, range, { signal: ac.signal });
    try {
      const stream = await Promise.race([attempt, timedOut]);
      clearTimeout(timer);
      stream.once('close', () => signal?.removeEventListener('abort', forward));
      return { stream, replica, failures };
    } catch (err) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
      // A late answer after the timeout is discarded.
      attempt.then(
        (s) => s.destroy(),
        () => undefined,
      );
      if (signal?.aborted) throw abortReason(signal);
      if (opts.rangeWithinBlob && err instanceof BackendError && err.code === 'InvalidRange') {
        failures.push({
          backend: backend.name,
          locator,
          error: new BackendError(backend.name, 'SizeMismatch', `replica shorter than its blob (${err.message})`, { cause: err }),
        });
        continue;
      }
      // The caller's mistake is the same on every replica.
      if (err instanceof BackendError && (err.code === 'InvalidRange' || err.code === 'InvalidLocator')) throw err;
      failures.push({ backend: backend.name, locator, error: err });
    }
  }
  if (failures.length > 0 && failures.every((f) => f.error instanceof BackendNotFound)) throw failures[0].error;
  const summary = failures.map((f) => `${f.backend}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ');
  throw new BackendUnavailable(
    failures.map((f) => f.backend).join(',') || '(none)',
    `no replica could be read${summary ? ` (${summary})` : ''}`,
    new AggregateError(
      failures.map((f) => f.error),
      'every replica failed',
    ),
  );
}

/** A backend that stopped answering is refused from now on, until its breaker's probe finds it back. */
export function openBreaker(backend: Backend): void {
  if (backend instanceof GuardedBackend) backend.breaker.openNow();
}

/**
 * The chunks of an opened replica's stream, failing with BackendUnavailable
 * (and opening the backend's breaker) when the backend stops: no chunk
 * within `stallMs` while one is awaited, or the stream failing on its own
 * (connection reset, cut off, I/O error). The stream is destroyed when the
 * iteration ends, however it ends. The stall timer is armed only while a
 * chunk is awaited (a consumer that stops pulling stops the clock).
 */
export async function* readReplica(replica: ReplicaRef, stream: Readable, stallMs: number = DEFAULT_READ_STALL_MS): AsyncGenerator<Buffer> {
  const { backend, locator } = replica;
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let waiting: ((err: BackendUnavailable) => void) | undefined;
  // One timer for the whole read, re-armed per wait (refresh), rather than one per chunk.
  const timer = setTimeout(() => waiting?.(new BackendUnavailable(backend.name, `get ${locator}: no data for ${stallMs} ms`)), stallMs);
  const next = () =>
    new Promise<IteratorResult<Buffer>>((resolve, reject) => {
      waiting = reject;
      timer.refresh();
      chunks.next().then(resolve, reject);
    }).finally(() => (waiting = undefined));
  try {
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = await next();
      } catch (err) {
        // A stream destroyed by its reader (no error of its own) is not the backend's doing.
        if (!(err instanceof BackendUnavailable) && !stream.errored) throw err;
        openBreaker(backend);
        throw err instanceof BackendUnavailable ? err : new BackendUnavailable(backend.name, `get ${locator}: the stream broke off`, err);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    clearTimeout(timer);
    stream.destroy();
  }
}
