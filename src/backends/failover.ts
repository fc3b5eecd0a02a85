/**
 * Reading a blob from the first replica that answers. Replicas are tried in
 * the order given (see readOrder in placement.ts); a replica that fails,
 * times out before its first response, or does not have the blob is passed
 * over and reported, so the caller can schedule a repair.
 *
 * The attempt timeout aborts the attempt with a BackendUnavailable as the
 * abort reason, so a GuardedBackend counts it as the backend's failure; the
 * attempt is also raced, so a backend that ignores the signal (a hung
 * mount) cannot hold the read past the timeout.
 */
import type { Readable } from 'node:stream';
import { BackendError, BackendNotFound, BackendUnavailable, abortReason, type Backend, type ByteRange } from './backend.js';

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
  /** Time allowed for each replica's first response (default 10 s). */
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

export async function openReplica(replicas: readonly ReplicaRef[], range: ByteRange | undefined, opts: OpenReplicaOptions = {}): Promise<OpenedReplica> {
  const { signal } = opts;
  const timeoutMs = opts.attemptTimeoutMs ?? 10_000;
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
        ac.abort(err);
        reject(err);
      }, timeoutMs);
    });
    timedOut.catch(() => undefined);
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
      attempt.then((s) => s.destroy(), () => undefined);
      if (signal?.aborted) throw abortReason(signal);
      if (opts.rangeWithinBlob && err instanceof BackendError && err.code === 'InvalidRange') {
        failures.push({ backend: backend.name, locator, error: new BackendError(backend.name, 'SizeMismatch', `replica shorter than its blob (${err.message})`, { cause: err }) });
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
    new AggregateError(failures.map((f) => f.error), 'every replica failed'),
  );
}
