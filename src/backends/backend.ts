/**
 * A storage backend: a place where immutable blobs live, addressed by an
 * opaque `locator` the caller chooses (the blob layer uses
 * `<tenant>/<h2>/<h2>/<hash>.<fileId>`). Backends know nothing of tenants,
 * hashes, objects or metadata; placement, replication, verification and
 * accounting sit above them.
 *
 * Error contract (every implementation):
 * - BackendNotFound: the backend answered and the object is not there.
 *   Never raised when the backend itself is missing (unmounted disk, deleted
 *   bucket): that is BackendUnavailable, so a caller never concludes "replica
 *   lost" from a backend that is merely gone.
 * - BackendUnavailable: the backend could not serve the call (network,
 *   timeout, 5xx, I/O error, bad credentials, missing bucket). This is what a
 *   circuit breaker counts (see isBackendFailure) and what makes a read fail
 *   over to the next replica.
 * - BackendFull: the backend refused bytes for lack of space (ENOSPC, 507).
 *   It answered, so it is not a breaker failure; placement should treat it as full.
 * - BackendError (code InvalidLocator, InvalidRange, SizeMismatch, TooLarge): the
 *   caller asked for something wrong; no breaker failure either.
 * - A caller's abort rejects with `signal.reason`, unchanged.
 */
import { Readable } from 'node:stream';

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; clipped to the object's last byte like an HTTP Range. */
  end: number;
}

export interface PutOptions {
  /** The exact size when known: the put fails with SizeMismatch (leaving nothing) if the body differs. */
  size?: number;
  signal?: AbortSignal;
}

export interface ListedObject {
  locator: string;
  size: number;
}

export interface BackendHealth {
  ok: boolean;
  detail?: string;
  /** How long the check took. */
  latencyMs: number;
  /** Physical space where the backend can tell (fs: statfs of its folder). */
  capacity?: { freeBytes: number; totalBytes: number };
}

export interface Backend {
  readonly name: string;
  readonly kind: 'fs' | 's3';
  /**
   * Stores the whole body under `locator` and resolves only once the bytes are
   * durable (fs: file and every new directory fsynced; s3: PUT or
   * CompleteMultipartUpload acknowledged). Atomic: no reader ever sees a
   * partial object, and a failed or aborted put leaves nothing visible (fs:
   * temp file removed; s3: multipart upload aborted). An existing object at
   * the same locator is replaced atomically (callers use unique locators).
   */
  put(locator: string, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<{ size: number }>;
  /**
   * Bytes [start, end] (the whole object when range is omitted). Resolves once
   * the first response is in (fs: file open; s3: response headers), so a
   * failover can try the next replica on rejection. Errors after that surface
   * on the stream. Aborting `signal` destroys the stream.
   */
  get(locator: string, range?: ByteRange, opts?: { signal?: AbortSignal }): Promise<Readable>;
  /**
   * Optional fast path for small reads: bytes [start, end] (clipped like
   * get) read whole into memory, with the same errors as get. Backends
   * without it are read through get.
   */
  read?(locator: string, range: ByteRange): Promise<Buffer>;
  /** Idempotent: deleting an absent object succeeds. */
  delete(locator: string): Promise<void>;
  /** Size of the object, or null when absent. */
  stat(locator: string): Promise<{ size: number } | null>;
  /**
   * Every object whose locator starts with `prefix` (a plain string prefix,
   * not a folder), in ascending byte order of locator on every backend, so
   * reconciliation can merge-join it with a sorted metadata listing. Names
   * that are not valid locators are skipped, never reported (and so never deleted).
   */
  list(prefix?: string): AsyncIterable<ListedObject>;
  /** A cheap end-to-end check (fs: write+fsync+remove a probe file; s3: HeadBucket). Never throws. */
  health(): Promise<BackendHealth>;
  /**
   * Removes leftovers of interrupted puts older than `olderThanMs` (fs: temp
   * files; s3: incomplete multipart uploads under the prefix). Returns how
   * many were removed. Run at start-up and periodically.
   */
  sweep(olderThanMs: number): Promise<number>;
  close(): Promise<void>;
}

/** What one operation cost, reported to the owner's counters (monthly limits). */
export interface BackendUsage {
  /** API requests made (s3: every HTTP call; fs: one per operation). */
  requests: number;
  /** Bytes sent into the backend. */
  ingressBytes: number;
  /** Bytes requested out of the backend (a range's length; counted when the read starts). */
  egressBytes: number;
}

export type UsageSink = (backend: string, usage: BackendUsage) => void;

export type BackendErrorCode = 'NotFound' | 'Unavailable' | 'Full' | 'InvalidLocator' | 'InvalidRange' | 'SizeMismatch' | 'TooLarge';

export class BackendError extends Error {
  constructor(
    readonly backend: string,
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${backend}: ${message}`, options);
    this.name = 'BackendError';
  }
}

export class BackendNotFound extends BackendError {
  constructor(
    backend: string,
    readonly locator: string,
  ) {
    super(backend, 'NotFound', `no object at ${locator}`);
    this.name = 'BackendNotFound';
  }
}

export class BackendUnavailable extends BackendError {
  constructor(
    backend: string,
    message: string,
    cause?: unknown,
    /** Raised by a circuit breaker without calling the backend. */
    readonly circuitOpen = false,
  ) {
    super(backend, 'Unavailable', cause instanceof Error ? `${message}: ${cause.message}` : message, { cause });
    this.name = 'BackendUnavailable';
  }
}

export class BackendFull extends BackendError {
  constructor(backend: string, message: string, cause?: unknown) {
    super(backend, 'Full', message, { cause });
    this.name = 'BackendFull';
  }
}

/** Whether an error means the backend itself is failing (what a circuit breaker counts). */
export function isBackendFailure(err: unknown): boolean {
  return err instanceof BackendUnavailable && !err.circuitOpen;
}

/**
 * Locators are relative paths of safe segments, identical on every backend
 * (a locator valid on fs is a valid key suffix on s3): letters, digits and
 * `. _ - = + ~`, segments separated by single `/`, no `.` or `..` segment.
 */
const LOCATOR = /^[A-Za-z0-9._=+~-]+(\/[A-Za-z0-9._=+~-]+)*$/;
const PREFIX = /^([A-Za-z0-9._=+~-]+\/)*[A-Za-z0-9._=+~-]*$/;

export function isValidLocator(locator: string): boolean {
  return locator.length <= 900 && LOCATOR.test(locator) && !locator.split('/').some((s) => s === '.' || s === '..');
}

export function checkLocator(backend: string, locator: string): void {
  if (!isValidLocator(locator)) throw new BackendError(backend, 'InvalidLocator', `invalid locator ${JSON.stringify(locator)}`);
}

export function checkPrefix(backend: string, prefix: string): void {
  if (prefix.length > 900 || !PREFIX.test(prefix) || prefix.split('/').some((s) => s === '..')) {
    throw new BackendError(backend, 'InvalidLocator', `invalid list prefix ${JSON.stringify(prefix)}`);
  }
}

export function checkRange(backend: string, range: ByteRange | undefined): void {
  if (!range) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new BackendError(backend, 'InvalidRange', `invalid range ${start}-${end}`);
  }
}

/** The error to reject with when the caller's signal fired. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Iterates a body as Buffers and stops promptly when `signal` aborts, even if
 * the source is stalled: the pending read is abandoned and the source
 * destroyed. Rejects with the signal's reason.
 */
export async function* bodyChunks(body: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Buffer> {
  if (signal?.aborted) throw abortReason(signal);
  const it = body[Symbol.asyncIterator]();
  let done = false;
  let onAbort: (() => void) | undefined;
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        onAbort = () => reject(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      })
    : undefined;
  aborted?.catch(() => undefined); // raced below; never an unhandled rejection meanwhile
  try {
    for (;;) {
      const r = aborted ? await Promise.race([it.next(), aborted]) : await it.next();
      if (r.done) {
        done = true;
        return;
      }
      const v = r.value;
      yield Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  } finally {
    if (onAbort) signal!.removeEventListener('abort', onAbort);
    if (!done) {
      // A Readable's iterator cannot be returned while a read is pending; destroy it instead.
      if (body instanceof Readable) body.destroy();
      else void Promise.resolve(it.return?.()).catch(() => undefined); // releasing the body; the put's own outcome stands
    }
  }
}
