/**
 * Multipart uploads. Every part is a blob like any other (staged, fsynced,
 * referenced by its part row); completing an upload writes no bytes again:
 * the object's manifest lists the parts' blobs and takes over their
 * references in the same transaction that deletes the upload.
 *
 * Completing is idempotent for a bounded time, as on S3: the same
 * transaction records the answer (multipart_completions), and a Complete of
 * an upload that is gone but was completed with the same part list within
 * the retry window gets that answer again, writing nothing. A client whose
 * first answer was lost would otherwise see NoSuchUpload for an object that
 * was made, and might upload it again over a newer one.
 */
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../blobs/index.js';
import { RefChanges } from '../blobs/index.js';
import type { SseCustomerKey } from '../crypto/sse-c.js';
import { AnvilError, fail, isAnvilError } from '../errors.js';
import type { Bucket } from '../meta/buckets/types.js';
import { withTransaction } from '../meta/engine.js';
import type { CannedAcl, ObjectAttributes, ObjectVersion, VersionLock } from '../meta/objects/types.js';
import {
  claimUpload,
  completionSince,
  deleteParts,
  insertCompletion,
  insertUpload,
  lockUpload,
  partBlobsOf,
  partsOf,
  pruneCompletionsBefore,
  replacePart,
  uploadRow,
  uploadsOlderThan,
  uploadsPage,
} from '../meta/objects/uploads.js';
import type { CoreContext } from './context.js';
import { assembleParts, digestOfParts, MAX_PART_NUMBER, MAX_PART_SIZE, type RequestedPart } from './multipart/parts.js';
import { commitStaged } from './objects/commit.js';
import { digestSpec, type ExpectedBody, verifyDigests } from './objects/digests.js';
import { newUploadId, validateKey, type WriteCondition } from './objects/keys.js';
import { nextSeq, writeLatest } from './objects/latest.js';
import { checkCommitted, checkIncomingPart, quotasFor, type WriteQuotas } from './objects/quota.js';
import { abandonStaged, metadataWrite, stageBody } from './objects/stage.js';

export { MAX_PART_NUMBER, MAX_PART_SIZE, MIN_PART_SIZE } from './multipart/parts.js';

export interface Upload {
  uploadId: string;
  bucketId: string;
  key: string;
  attributes: ObjectAttributes;
  /** Checksum algorithm chosen at creation: every part carries it and the object gets a composite one. */
  checksumAlgorithm?: ChecksumAlgorithm;
  createdAt: Date;
  /** Object Lock asked for at creation, applied to the version the upload makes. */
  lock?: VersionLock;
}

/** What a Complete answers: the object's ETag, checksums and stored headers (for the SSE response headers). */
export interface CompletedUpload {
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  headers: Record<string, string>;
  /** The version the upload made ('null' on unversioned buckets). */
  versionId: string;
}

export interface MultipartOptions {
  /** How long after completion a retried Complete with the same part list is answered again (0: never). */
  retryWindowMs: number;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: Date;
}

const noSuchUpload = () =>
  new AnvilError(
    'NotFound',
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  );

const isNoSuchUpload = (err: unknown) => isAnvilError(err, undefined, 'NoSuchUpload');

export class MultipartService {
  constructor(
    private readonly ctx: CoreContext,
    private readonly opts: MultipartOptions = { retryWindowMs: 15 * 60_000 },
  ) {}

  async create(bucket: Bucket, key: string, attributes: ObjectAttributes, checksumAlgorithm?: string, lock?: VersionLock): Promise<string> {
    validateKey(key);
    if (checksumAlgorithm !== undefined && !(CHECKSUM_ALGORITHMS as readonly string[]).includes(checksumAlgorithm)) {
      throw fail.invalid('InvalidRequest', `Checksum algorithm ${checksumAlgorithm} is not supported`);
    }
    const uploadId = newUploadId();
    // Under the bucket lock, so an upload can never be created in a bucket being deleted.
    await metadataWrite(this.ctx, () =>
      withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
        await nextSeq(trx, bucket);
        await insertUpload(trx, {
          uploadId,
          bucketId: bucket.id,
          tenantId: bucket.tenant_id,
          key,
          attributes,
          checksumAlgorithm: checksumAlgorithm ?? null,
          lock,
        });
      }),
    );
    return uploadId;
  }

  async get(bucket: Bucket, key: string, uploadId: string): Promise<Upload> {
    const row = await uploadRow(this.ctx.meta.data, uploadId);
    if (!row || row.bucket_id !== bucket.id || row.key !== key) throw noSuchUpload();
    return {
      uploadId,
      bucketId: row.bucket_id,
      key: row.key,
      attributes: {
        contentType: row.content_type,
        headers: JSON.parse(row.headers),
        userMeta: JSON.parse(row.user_meta),
        tags: JSON.parse(row.tags),
        acl: row.acl as CannedAcl,
      },
      checksumAlgorithm: (row.checksum_algorithm ?? undefined) as ChecksumAlgorithm | undefined,
      createdAt: new Date(Number(row.created_at)),
      lock: row.lock ? (JSON.parse(row.lock) as VersionLock) : undefined,
    };
  }

  /**
   * Stores a part: stage → verify → commit, as a PUT does (core/objects/write.ts),
   * the commit writing a part row instead of a version.
   */
  async uploadPart(
    bucket: Bucket,
    key: string,
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Buffer>,
    opts: { expect?: ExpectedBody; customerKey?: SseCustomerKey },
  ): Promise<{ etag: string; size: number; checksums: Record<string, string> }> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw fail.invalid('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
        ArgumentName: 'partNumber',
        ArgumentValue: String(partNumber),
      });
    }
    const upload = await this.get(bucket, key, uploadId);
    // Parts of uploads in progress count against the quotas (what they store is stored).
    const quotas = await quotasFor(this.ctx, bucket);
    await checkIncomingPart(this.ctx, bucket, quotas, { uploadId, partNumber, length: opts.expect?.length });
    const digest = digestSpec(opts.expect);
    const algorithms = digest.checksums ?? [];
    if (upload.checksumAlgorithm && !algorithms.includes(upload.checksumAlgorithm)) algorithms.push(upload.checksumAlgorithm);
    const { staged, digests } = await stageBody(
      this.ctx,
      bucket.tenant_id,
      body,
      { ...digest, checksums: algorithms },
      MAX_PART_SIZE,
      opts.customerKey,
    );
    let checksums: Record<string, string>;
    try {
      checksums = verifyDigests(digests, opts.expect) as Record<string, string>;
    } catch (err) {
      await abandonStaged(this.ctx, staged);
      throw err;
    }
    const etag = digests.md5.toString('hex');
    return commitStaged(
      this.ctx,
      bucket,
      staged,
      digests.blake3,
      async (trx, manifest, refs) => {
        // Under a quota: the bucket lock first (lock order: bucket, upload), so the check sees all before.
        if (quotas) await nextSeq(trx, bucket);
        // The upload may have been completed or aborted while the part streamed in. Its row
        // stays locked until we commit, so a concurrent Complete or Abort waits for this part.
        if (!(await lockUpload(trx, uploadId))) throw noSuchUpload();
        const replaced = await replacePart(trx, {
          uploadId,
          partNumber,
          blobHash: manifest.length ? manifest[0][0] : null,
          size: digests.size,
          etag,
          checksums,
        });
        if (replaced) refs.release(bucket.tenant_id, [replaced]);
        return { etag, size: digests.size, checksums };
      },
      opts.customerKey,
      quotas,
    );
  }

  /**
   * In-progress uploads of a bucket in (key, initiation time, id) order,
   * after the (keyMarker, uploadIdMarker) position. Returns at most `limit`
   * rows; uploads are few compared with objects, so rolling them up into
   * common prefixes is left to the caller.
   */
  async listUploads(bucket: Bucket, q: { prefix: string; keyMarker: string; uploadIdMarker: string; limit: number }) {
    const rows = await uploadsPage(this.ctx.meta.data, bucket.id, q);
    return rows
      .filter((r) => r.key.startsWith(q.prefix))
      .map((r) => ({ uploadId: r.upload_id, key: r.key, initiated: new Date(Number(r.created_at)) }));
  }

  async listParts(uploadId: string): Promise<PartInfo[]> {
    const rows = await partsOf(this.ctx.meta.data, uploadId);
    return rows.map((p) => ({
      partNumber: p.part_number,
      size: Number(p.size),
      etag: p.etag,
      lastModified: new Date(Number(p.created_at)),
    }));
  }

  /**
   * Completes an upload from the client's part list (ascending part numbers,
   * matching ETags, every part but the last at least 5 MiB). An upload
   * already completed with the same list within the retry window answers
   * as it did then, whatever happened to the object since, and without
   * checking `condition` again (S3 answers such a retry 200 even with
   * If-None-Match: * and the object now there).
   */
  async complete(
    bucket: Bucket,
    key: string,
    uploadId: string,
    requested: RequestedPart[],
    condition?: WriteCondition,
  ): Promise<CompletedUpload> {
    const partsDigest = digestOfParts(requested);
    let upload: Upload;
    try {
      upload = await this.get(bucket, key, uploadId);
    } catch (err) {
      if (isNoSuchUpload(err)) return this.answerAgain(bucket, key, uploadId, partsDigest);
      throw err;
    }
    if (requested.length === 0) {
      throw fail.invalid('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    }
    let committed: { version: ObjectVersion; refs: RefChanges };
    const quotas = await quotasFor(this.ctx, bucket);
    try {
      committed = await this.commitCompletion(bucket, key, uploadId, upload, requested, partsDigest, condition, quotas);
    } catch (err) {
      // A concurrent Complete of this upload committed first: its answer is ours if the lists match.
      if (isNoSuchUpload(err)) return this.answerAgain(bucket, key, uploadId, partsDigest);
      throw err;
    }
    await this.ctx.blobs.released(committed.refs);
    return committed.version;
  }

  /** The answer a completed upload gave, if this is a retry of that Complete within the window. */
  private async answerAgain(bucket: Bucket, key: string, uploadId: string, partsDigest: string): Promise<CompletedUpload> {
    const done = await this.completion(bucket, key, uploadId);
    if (!done || done.parts_digest !== partsDigest) throw noSuchUpload();
    return {
      etag: done.etag,
      checksums: JSON.parse(done.checksums),
      headers: JSON.parse(done.headers),
      versionId: done.version_id ?? 'null',
    };
  }

  /** The record of an upload of this bucket and key completed within the retry window. */
  private async completion(bucket: Bucket, key: string, uploadId: string) {
    if (this.opts.retryWindowMs <= 0) return undefined;
    // Past the window a record is dead even before the pruning removes it.
    const row = await completionSince(this.ctx.meta.data, uploadId, Date.now() - this.opts.retryWindowMs);
    return row && row.bucket_id === bucket.id && row.key === key ? row : undefined;
  }

  /**
   * Removes the completion records past the retry window, a batch at a time
   * (the table stays as small as the completions of one window). Returns how
   * many were removed.
   */
  async pruneCompletions(now = Date.now(), batch = 1000): Promise<number> {
    const cutoff = now - this.opts.retryWindowMs;
    let removed = 0;
    for (;;) {
      const n = await pruneCompletionsBefore(this.ctx.meta.data, cutoff, batch);
      removed += n;
      if (n < batch) return removed;
    }
  }

  private async commitCompletion(
    bucket: Bucket,
    key: string,
    uploadId: string,
    upload: Upload,
    requested: RequestedPart[],
    partsDigest: string,
    condition: WriteCondition | undefined,
    quotas: WriteQuotas | undefined,
  ): Promise<{ version: ObjectVersion; refs: RefChanges }> {
    return metadataWrite(this.ctx, () =>
      withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
        const refs = new RefChanges();
        // Lock order: bucket, then the upload row (deleting it first makes a concurrent
        // Complete, Abort or UploadPart of this upload wait, then find it gone), then blobs.
        const seq = await nextSeq(trx, bucket);
        if (!(await claimUpload(trx, uploadId))) throw noSuchUpload();
        const rows = await partsOf(trx, uploadId);
        const { content, unused } = assembleParts(uploadId, upload.checksumAlgorithm, requested, rows);
        const out = await writeLatest(trx, bucket, key, refs, {
          ...content,
          attributes: upload.attributes,
          condition,
          seq,
          lock: upload.lock,
          event: 's3:ObjectCreated:CompleteMultipartUpload',
        });
        refs.release(bucket.tenant_id, unused);
        await deleteParts(trx, uploadId);
        if (this.opts.retryWindowMs > 0) {
          // In the transaction that makes the object: a retry either finds the upload or this record.
          await insertCompletion(trx, {
            uploadId,
            bucketId: bucket.id,
            key,
            partsDigest,
            etag: out.etag,
            checksums: out.checksums,
            headers: out.headers,
            versionId: out.versionId,
          });
        }
        await refs.apply(trx);
        // The parts became the object; a quota lowered meanwhile may refuse it (an abort frees them).
        await checkCommitted(trx, bucket, quotas);
        return { version: out, refs };
      }),
    );
  }

  /**
   * Aborts an upload. Aborting one completed within the retry window does
   * nothing and succeeds, as S3 answers 204 to it for a while (the object
   * stays); after that, or for an id never seen, NoSuchUpload.
   */
  async abort(bucket: Bucket, key: string, uploadId: string): Promise<void> {
    try {
      await this.get(bucket, key, uploadId);
      await this.abortUpload(uploadId);
    } catch (err) {
      if (isNoSuchUpload(err) && (await this.completion(bucket, key, uploadId))) return;
      throw err;
    }
  }

  /**
   * Aborts uploads initiated before `cutoff` (abandoned by their clients), a
   * batch at a time; their parts are released. Returns how many were aborted.
   */
  async abortOlderThan(cutoff: number, limit = 100): Promise<number> {
    const stale = await uploadsOlderThan(this.ctx.meta.data, cutoff, limit);
    let aborted = 0;
    for (const uploadId of stale) {
      try {
        await this.abortUpload(uploadId);
        aborted++;
      } catch (err) {
        if (!isNoSuchUpload(err)) throw err; // completed meanwhile
      }
    }
    return aborted;
  }

  private async abortUpload(uploadId: string): Promise<void> {
    let refs = new RefChanges();
    await withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
      refs = new RefChanges();
      const claimed = await claimUpload(trx, uploadId);
      if (!claimed) throw noSuchUpload();
      refs.release(claimed.tenantId, await partBlobsOf(trx, uploadId));
      await deleteParts(trx, uploadId);
      await refs.apply(trx);
    });
    await this.ctx.blobs.released(refs);
  }
}
