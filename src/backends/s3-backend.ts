/**
 * Why one file of ~420 lines: it is one driver behind one interface, and the
 * multipart write path (part cutting, abort on any failure, size check) must
 * be read as a whole to see that nothing is left behind.
 *
 * The `s3` backend: a bucket (and optional key prefix) on any S3-compatible
 * endpoint, through @aws-sdk/client-s3. Object key = prefix + locator.
 *
 * Writes: the body is cut into parts of `partSize` bytes as it streams. A body
 * that fits in one part (known small size, or an unknown size that turns out
 * small) goes as one PutObject from memory, which the SDK can retry and
 * checksum; anything larger is a multipart upload with at most `queueSize`
 * parts in flight (memory per put ≈ (queueSize + 1) × partSize), aborted on
 * any failure or caller abort so nothing stays behind (sweep() catches the
 * abort that could not reach a dead server). Hand-rolled rather than
 * @aws-sdk/lib-storage's Upload: this keeps the abort, size check, usage
 * accounting and error mapping in our hands, with one dependency fewer.
 *
 * Timeouts (all through the SDK's node:http handler, so they hold for every
 * call, including retries): connect, time to response headers (a PUT's
 * upload included; a GET's body streaming excluded) and socket inactivity
 * (also while a GET body streams). Total time of a failing call is bounded
 * by maxAttempts × (connect + request) plus the SDK's backoff.
 */
import type { Readable } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

import {
  abortReason,
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

export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

export interface S3BackendOptions {
  name: string;
  /** e.g. https://s3.example.com; omitted means AWS itself (region endpoint). */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Key prefix inside the bucket, e.g. `node1/` (default none). */
  prefix?: string;
  /** Path-style addressing (http://host/bucket/key), needed by most self-hosted servers. */
  forcePathStyle?: boolean;
  /** This backend's own key; omitted means the SDK's default chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Multipart part size and single-PUT threshold (default 8 MiB, at least 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once per put (default 2). */
  queueSize?: number;
  /** ListObjectsV2 page size, 1..1000 (default 1000). */
  listPageSize?: number;
  /** SDK attempts per call, retries included (default 3). */
  maxAttempts?: number;
  timeouts?: {
    /** TCP/TLS connect (default 5 s). */
    connectMs?: number;
    /** From sending a request to its response headers (default 60 s). */
    requestMs?: number;
    /** Socket inactivity, also while a body streams (default 30 s). */
    idleMs?: number;
    /** Whole health check (default 5 s). */
    healthMs?: number;
  };
  /**
   * CRC32 on every upload the SDK supports it for (default), or only where the
   * API requires one: some S3-compatible servers reject the newer checksum headers.
   */
  checksums?: 'when_supported' | 'when_required';
  usage?: UsageSink;
}

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

export class S3Backend implements Backend {
  readonly kind = 's3' as const;
  readonly name: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly listPageSize: number;
  private readonly healthMs: number;
  private readonly usage?: UsageSink;

  constructor(opts: S3BackendOptions) {
    this.name = opts.name;
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    if (this.prefix) checkPrefix(opts.name, this.prefix);
    this.partSize = opts.partSize ?? 8 * 1024 * 1024;
    if (this.partSize < MIN_PART_SIZE) throw new Error(`s3 backend ${opts.name}: part size must be at least 5 MiB`);
    this.queueSize = Math.max(1, opts.queueSize ?? 2);
    this.listPageSize = Math.min(1000, Math.max(1, opts.listPageSize ?? 1000));
    this.healthMs = opts.timeouts?.healthMs ?? 5000;
    this.usage = opts.usage;
    const checksums = opts.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.forcePathStyle ?? false,
      credentials: opts.credentials,
      maxAttempts: opts.maxAttempts ?? 3,
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
      requestHandler: {
        connectionTimeout: opts.timeouts?.connectMs ?? 5000,
        requestTimeout: opts.timeouts?.requestMs ?? 60_000,
        throwOnRequestTimeout: true,
        socketTimeout: opts.timeouts?.idleMs ?? 30_000,
      },
    });
  }

  key(locator: string): string {
    return this.prefix + locator;
  }

  async put(locator: string, body: AsyncIterable<Uint8Array>, opts: PutOptions = {}): Promise<{ size: number }> {
    checkLocator(this.name, locator);
    const chunks = bodyChunks(body, opts.signal);
    try {
      return await this.upload(locator, chunks, opts);
    } finally {
      // A put that failed before the body ended releases it (a Readable is destroyed).
      await chunks.return(undefined).catch(() => undefined); // the put's own outcome stands
    }
  }

  private async upload(locator: string, chunks: AsyncIterator<Buffer>, opts: PutOptions): Promise<{ size: number }> {
    const { signal } = opts;
    const Key = this.key(locator);
    // A known size picks a part size that keeps within S3's 10,000 parts.
    const partSize = opts.size !== undefined ? Math.max(this.partSize, Math.ceil(opts.size / MAX_PARTS)) : this.partSize;
    const reader = new PartReader(chunks, partSize);
    let size = 0;
    const take = async (): Promise<Buffer | null> => {
      const part = await reader.next();
      if (part) size += part.length;
      if (opts.size !== undefined && (size > opts.size || (reader.exhausted && size !== opts.size))) {
        throw new BackendError(this.name, 'SizeMismatch', `body is ${size}${reader.exhausted ? '' : '+'} bytes, declared ${opts.size}`);
      }
      return part;
    };

    const first = (await take()) ?? Buffer.alloc(0);
    if (reader.exhausted) {
      await this.call(
        'put',
        locator,
        signal,
        (abortSignal) =>
          this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: first, ContentLength: first.length }), { abortSignal }),
        { ingressBytes: first.length },
      );
      return { size };
    }

    const created = await this.call('put', locator, signal, (abortSignal) =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }), { abortSignal }),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new BackendUnavailable(this.name, 'CreateMultipartUpload returned no UploadId');
    const parts: CompletedPart[] = [];
    const inflight = new Set<Promise<void>>();
    // One failed part cancels the others at once rather than waiting for them to finish.
    const cancel = new AbortController();
    const partSignal = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
    try {
      let part: Buffer | null = first;
      for (let n = 1; part; n++) {
        if (n > MAX_PARTS) throw new BackendError(this.name, 'TooLarge', `more than ${MAX_PARTS} parts of ${partSize} bytes`);
        const body = part;
        const p = this.call(
          'put',
          locator,
          partSignal,
          (abortSignal) =>
            this.client.send(
              new UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber: n, Body: body, ContentLength: body.length }),
              { abortSignal },
            ),
          { ingressBytes: body.length },
        ).then((out) => {
          parts[n - 1] = { PartNumber: n, ETag: out.ETag };
        });
        inflight.add(p);
        p.then(
          () => inflight.delete(p),
          () => undefined,
        );
        // Backpressure: read no further while the queue is full; a failed part ends the put.
        while (inflight.size >= this.queueSize) await Promise.race(inflight);
        part = await take();
      }
      await Promise.all(inflight);
      await this.call('put', locator, signal, (abortSignal) =>
        this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), {
          abortSignal,
        }),
      );
      return { size };
    } catch (err) {
      cancel.abort();
      await Promise.allSettled(inflight);
      await this.abortUpload(Key, UploadId);
      throw signal?.aborted ? abortReason(signal) : err;
    }
  }

  /** Best effort, outside the caller's signal: a dead server leaves the upload to sweep(). */
  private async abortUpload(Key: string, UploadId: string): Promise<void> {
    await this.call(
      'abort upload',
      undefined,
      undefined,
      (abortSignal) => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }), { abortSignal }),
      { timeoutMs: this.healthMs },
      // Best effort: the put has already failed; an incomplete upload left on the remote bucket is never read.
    ).catch(() => undefined);
  }

  async get(locator: string, range?: ByteRange, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    checkLocator(this.name, locator);
    checkRange(this.name, range);
    const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
    const out = await this.call('get', locator, opts.signal, (abortSignal) =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(locator), Range }), { abortSignal }),
    );
    const body = out.Body as Readable | undefined;
    if (!body) throw new BackendUnavailable(this.name, `get ${locator}: no body`);
    if (range && !out.ContentRange) {
      body.destroy();
      throw new BackendUnavailable(this.name, `get ${locator}: the server ignored the Range header`);
    }
    this.usage?.(this.name, { requests: 0, ingressBytes: 0, egressBytes: out.ContentLength ?? 0 });
    return body;
  }

  async delete(locator: string): Promise<void> {
    checkLocator(this.name, locator);
    try {
      await this.call('delete', locator, undefined, (abortSignal) =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(locator) }), { abortSignal }),
      );
    } catch (err) {
      if (!(err instanceof BackendNotFound)) throw err; // some servers answer 404 for an absent key
    }
  }

  async stat(locator: string): Promise<{ size: number } | null> {
    checkLocator(this.name, locator);
    try {
      const out = await this.call('stat', locator, undefined, (abortSignal) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(locator) }), { abortSignal }),
      );
      return { size: out.ContentLength ?? 0 };
    } catch (err) {
      if (err instanceof BackendNotFound) return null;
      throw err;
    }
  }

  async *list(prefix = ''): AsyncIterable<ListedObject> {
    checkPrefix(this.name, prefix);
    let ContinuationToken: string | undefined;
    do {
      const token = ContinuationToken;
      const out = await this.call('list', undefined, undefined, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
          { abortSignal },
        ),
      );
      for (const o of out.Contents ?? []) {
        if (!o.Key?.startsWith(this.prefix)) continue;
        const locator = o.Key.slice(this.prefix.length);
        if (isValidLocator(locator)) yield { locator, size: o.Size ?? 0 };
      }
      if (out.IsTruncated && !out.NextContinuationToken)
        throw new BackendUnavailable(this.name, 'list: truncated page without a continuation token');
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async health(): Promise<BackendHealth> {
    const started = performance.now();
    try {
      await this.call(
        'health',
        undefined,
        undefined,
        (abortSignal) => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }),
        {
          timeoutMs: this.healthMs,
        },
      );
      return { ok: true, latencyMs: performance.now() - started };
    } catch (err) {
      return { ok: false, detail: err instanceof Error ? err.message : String(err), latencyMs: performance.now() - started };
    }
  }

  async sweep(olderThanMs: number): Promise<number> {
    const before = Date.now() - olderThanMs;
    let removed = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const markers = { KeyMarker, UploadIdMarker };
      const out = await this.call('sweep', undefined, undefined, (abortSignal) =>
        this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix || undefined, ...markers }), {
          abortSignal,
        }),
      );
      for (const u of out.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !isValidLocator(u.Key.slice(this.prefix.length))) continue;
        if (u.Initiated && u.Initiated.getTime() >= before) continue;
        const { Key, UploadId } = u;
        await this.call('sweep', undefined, undefined, (abortSignal) =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }), { abortSignal }),
        );
        removed++;
      }
      if (!out.IsTruncated || !out.NextKeyMarker) return removed;
      KeyMarker = out.NextKeyMarker;
      UploadIdMarker = out.NextUploadIdMarker;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * Sends one command, counting its HTTP attempts and mapping its errors. A
   * caller's abort rejects with the caller's reason; `timeoutMs` bounds the
   * whole call (retries included) and counts as the backend's failure.
   */
  private async call<T extends { $metadata: { attempts?: number } }>(
    op: string,
    locator: string | undefined,
    signal: AbortSignal | undefined,
    send: (abortSignal: AbortSignal | undefined) => Promise<T>,
    opts: { ingressBytes?: number; timeoutMs?: number } = {},
  ): Promise<T> {
    signal?.throwIfAborted();
    const timeout = opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined;
    const abortSignal = signal && timeout ? AbortSignal.any([signal, timeout]) : (signal ?? timeout);
    try {
      const out = await send(abortSignal);
      this.usage?.(this.name, { requests: out.$metadata.attempts ?? 1, ingressBytes: opts.ingressBytes ?? 0, egressBytes: 0 });
      return out;
    } catch (err) {
      this.usage?.(this.name, { requests: (err as SdkError).$metadata?.attempts ?? 1, ingressBytes: 0, egressBytes: 0 });
      if (signal?.aborted) throw abortReason(signal);
      if (timeout?.aborted) throw new BackendUnavailable(this.name, `${op}: no answer within ${opts.timeoutMs} ms`, err);
      throw this.mapError(op, locator, err);
    }
  }

  private mapError(op: string, locator: string | undefined, err: unknown): BackendError {
    if (err instanceof BackendError) return err;
    const e = err as SdkError;
    const status = e.$metadata?.httpStatusCode;
    const what = `${op}${locator ? ` ${locator}` : ''}`;
    // Only an answer about the key means "not found": NoSuchBucket and friends mean the backend is gone.
    if (locator !== undefined && (e.name === 'NoSuchKey' || (status === 404 && e.name === 'NotFound')))
      return new BackendNotFound(this.name, locator);
    if (e.name === 'InvalidRange' || status === 416)
      return new BackendError(this.name, 'InvalidRange', `${what}: range not satisfiable`, { cause: err });
    if (status === 507 || e.name === 'InsufficientStorage' || e.name === 'QuotaExceeded')
      return new BackendFull(this.name, `${what}: the remote is full`, err);
    if (e.name === 'EntityTooLarge') return new BackendError(this.name, 'TooLarge', `${what}: too large for the remote`, { cause: err });
    return new BackendUnavailable(this.name, `${what} failed${status ? ` (HTTP ${status} ${e.name ?? ''})` : ''}`, err);
  }
}

/** Cuts a stream of chunks into parts of exactly `partSize` bytes (the last one shorter). */
class PartReader {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private readonly partSize: number,
  ) {}

  /** True once the source has ended and every byte was handed out. */
  get exhausted(): boolean {
    return this.ended && this.carryBytes === 0;
  }

  async next(): Promise<Buffer | null> {
    // Read one chunk past a full part, so a body of exactly one part is known to be one part.
    while (!this.ended && this.carryBytes <= this.partSize) {
      const r = await this.source.next();
      if (r.done) this.ended = true;
      else if (r.value.length) {
        this.carry.push(r.value);
        this.carryBytes += r.value.length;
      }
    }
    if (this.carryBytes === 0) return null;
    const all = this.carry.length === 1 ? this.carry[0] : Buffer.concat(this.carry, this.carryBytes);
    if (all.length <= this.partSize) {
      this.carry = [];
      this.carryBytes = 0;
      return all;
    }
    const rest = Buffer.from(all.subarray(this.partSize)); // a copy: do not pin the whole part in memory
    this.carry = [rest];
    this.carryBytes = rest.length;
    return all.subarray(0, this.partSize);
  }
}
