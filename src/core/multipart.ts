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
import crypto from 'node:crypto';
import type { ManifestEntry } from '../meta/schema.js';
import type { CannedAcl } from './objects.js';
import { withTransaction } from '../meta/engine.js';
import { CHECKSUM_ALGORITHMS, checksumOf, type ChecksumAlgorithm, collectGarbage, RefChanges } from '../blobs/index.js';
import { errors, S3Error } from '../s3/errors.js';
import type { Bucket } from './buckets.js';
import type { CoreContext } from './context.js';
import {
  newUploadId,
  validateKey,
  type ObjectAttributes,
  type ObjectService,
  type ObjectVersion,
  type PutOptions,
  type WriteCondition,
} from './objects.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MAX_PART_NUMBER = 10000;

export interface Upload {
  uploadId: string;
  bucketId: string;
  key: string;
  attributes: ObjectAttributes;
  /** Checksum algorithm chosen at creation: every part carries it and the object gets a composite one. */
  checksumAlgorithm?: ChecksumAlgorithm;
  createdAt: Date;
}

/** What a Complete answers: the object's ETag, checksums and stored headers (for the SSE response headers). */
export interface CompletedUpload {
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  headers: Record<string, string>;
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
  new S3Error(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    404,
  );

const isNoSuchUpload = (err: unknown) => err instanceof S3Error && err.code === 'NoSuchUpload';

/** A part's ETag as the client may send it: quoted or not, with stray white space. */
const bareEtag = (etag: string) => etag.trim().replace(/^"|"$/g, '');

/** Identifies a part list by its part numbers and ETags (what a retry must repeat). */
function digestOfParts(parts: ReadonlyArray<{ partNumber: number; etag: string }>): string {
  const canonical = JSON.stringify(parts.map((p) => [p.partNumber, bareEtag(p.etag)]));
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

export class MultipartService {
  constructor(
    private readonly ctx: CoreContext,
    private readonly objects: ObjectService,
    private readonly opts: MultipartOptions = { retryWindowMs: 15 * 60_000 },
  ) {}

  async create(bucket: Bucket, key: string, attributes: ObjectAttributes, checksumAlgorithm?: string): Promise<string> {
    validateKey(key);
    if (checksumAlgorithm !== undefined && !(CHECKSUM_ALGORITHMS as readonly string[]).includes(checksumAlgorithm)) {
      throw errors.invalidRequest(`Checksum algorithm ${checksumAlgorithm} is not supported`);
    }
    const uploadId = newUploadId();
    // Under the bucket lock, so an upload can never be created in a bucket being deleted.
    await this.objects.metadataWrite(() => withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
      await this.objects.nextSeq(trx, bucket);
      await trx
      .insertInto('multipart_uploads')
      .values({
        upload_id: uploadId,
        bucket_id: bucket.id,
        tenant_id: bucket.tenant_id,
        key,
        content_type: attributes.contentType,
        headers: JSON.stringify(attributes.headers),
        user_meta: JSON.stringify(attributes.userMeta),
        checksum_algorithm: checksumAlgorithm ?? null,
        created_at: Date.now(),
        tags: JSON.stringify(attributes.tags),
        acl: attributes.acl,
      })
      .execute();
    }));
    return uploadId;
  }

  async get(bucket: Bucket, key: string, uploadId: string): Promise<Upload> {
    const row = await this.ctx.meta.data
      .selectFrom('multipart_uploads')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .executeTakeFirst();
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
    };
  }

  async uploadPart(
    bucket: Bucket,
    key: string,
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Buffer>,
    opts: Pick<PutOptions, 'digest' | 'verify' | 'storeChecksums' | 'customerKey'>,
  ): Promise<{ etag: string; checksums: Record<string, string> }> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', String(partNumber));
    }
    const upload = await this.get(bucket, key, uploadId);
    const digest = { ...opts.digest, checksums: [...(opts.digest.checksums ?? [])] };
    if (upload.checksumAlgorithm && !digest.checksums.includes(upload.checksumAlgorithm)) digest.checksums.push(upload.checksumAlgorithm);
    const { staged, digests } = await this.objects.stageBody(bucket.tenant_id, body, digest, MAX_PART_SIZE, opts.customerKey);
    try {
      opts.verify?.(digests);
    } catch (err) {
      await this.objects.abandonStaged(staged);
      throw err;
    }
    const checksums = (opts.storeChecksums?.(digests) ?? {}) as Record<string, string>;
    if (upload.checksumAlgorithm) checksums[upload.checksumAlgorithm] = digests.checksums[upload.checksumAlgorithm]!;
    const etag = digests.md5.toString('hex');
    return this.objects.commitStaged(bucket, staged, digests.blake3, async (trx, manifest, refs) => {
      // The upload may have been completed or aborted while the part streamed in. Its row
      // stays locked until we commit, so a concurrent Complete or Abort waits for this part.
      let lock = trx.selectFrom('multipart_uploads').select('tenant_id').where('upload_id', '=', uploadId);
      if (this.ctx.meta.kind === 'postgres') lock = lock.forUpdate();
      if (!(await lock.executeTakeFirst())) throw noSuchUpload();
      const old = await trx
        .selectFrom('multipart_parts')
        .select(['blob_hash', 'size'])
        .where('upload_id', '=', uploadId)
        .where('part_number', '=', partNumber)
        .executeTakeFirst();
      if (old) {
        if (old.blob_hash) refs.release(bucket.tenant_id, [[old.blob_hash, Number(old.size)]]);
        await trx.deleteFrom('multipart_parts').where('upload_id', '=', uploadId).where('part_number', '=', partNumber).execute();
      }
      await trx
        .insertInto('multipart_parts')
        .values({
          upload_id: uploadId,
          part_number: partNumber,
          blob_hash: manifest.length ? manifest[0][0] : null,
          size: digests.size,
          etag,
          checksums: JSON.stringify(checksums),
          created_at: Date.now(),
        })
        .execute();
      return { etag, checksums };
    }, opts.customerKey);
  }

  /**
   * In-progress uploads of a bucket in (key, initiation time, id) order,
   * after the (keyMarker, uploadIdMarker) position. Returns at most `limit`
   * rows; uploads are few compared with objects, so rolling them up into
   * common prefixes is left to the caller.
   */
  async listUploads(bucket: Bucket, q: { prefix: string; keyMarker: string; uploadIdMarker: string; limit: number }) {
    let query = this.ctx.meta.data
      .selectFrom('multipart_uploads')
      .select(['upload_id', 'key', 'created_at'])
      .where('bucket_id', '=', bucket.id);
    if (q.prefix) query = query.where('key', '>=', q.prefix);
    // S3: with an upload-id-marker, uploads of the marker key initiated after that upload are included.
    const marker = q.keyMarker && q.uploadIdMarker
      ? await this.ctx.meta.data
          .selectFrom('multipart_uploads')
          .select(['created_at', 'upload_id'])
          .where('upload_id', '=', q.uploadIdMarker)
          .where('bucket_id', '=', bucket.id)
          .where('key', '=', q.keyMarker)
          .executeTakeFirst()
      : undefined;
    if (marker) {
      const at = Number(marker.created_at);
      query = query.where((eb) =>
        eb.or([
          eb('key', '>', q.keyMarker),
          eb.and([
            eb('key', '=', q.keyMarker),
            eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('upload_id', '>', marker.upload_id)])]),
          ]),
        ]),
      );
    } else if (q.keyMarker) {
      query = query.where('key', '>', q.keyMarker);
    }
    const rows = await query.orderBy('key').orderBy('created_at').orderBy('upload_id').limit(q.limit).execute();
    return rows
      .filter((r) => r.key.startsWith(q.prefix))
      .map((r) => ({ uploadId: r.upload_id, key: r.key, initiated: new Date(Number(r.created_at)) }));
  }

  async listParts(uploadId: string): Promise<PartInfo[]> {
    const rows = await this.ctx.meta.data
      .selectFrom('multipart_parts')
      .select(['part_number', 'size', 'etag', 'created_at'])
      .where('upload_id', '=', uploadId)
      .orderBy('part_number')
      .execute();
    return rows.map((p) => ({ partNumber: p.part_number, size: Number(p.size), etag: p.etag, lastModified: new Date(Number(p.created_at)) }));
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
    requested: Array<{ partNumber: number; etag: string; checksums?: Partial<Record<ChecksumAlgorithm, string>> }>,
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
      throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.', 400);
    }
    let committed: { version: ObjectVersion; refs: RefChanges };
    try {
      committed = await this.commitCompletion(bucket, key, uploadId, upload, requested, partsDigest, condition);
    } catch (err) {
      // A concurrent Complete of this upload committed first: its answer is ours if the lists match.
      if (isNoSuchUpload(err)) return this.answerAgain(bucket, key, uploadId, partsDigest);
      throw err;
    }
    await collectGarbage(this.ctx, committed.refs.released);
    return committed.version;
  }

  /** The answer a completed upload gave, if this is a retry of that Complete within the window. */
  private async answerAgain(bucket: Bucket, key: string, uploadId: string, partsDigest: string): Promise<CompletedUpload> {
    const done = await this.completion(bucket, key, uploadId);
    if (!done || done.parts_digest !== partsDigest) throw noSuchUpload();
    return { etag: done.etag, checksums: JSON.parse(done.checksums), headers: JSON.parse(done.headers) };
  }

  /** The record of an upload of this bucket and key completed within the retry window. */
  private async completion(bucket: Bucket, key: string, uploadId: string) {
    if (this.opts.retryWindowMs <= 0) return undefined;
    const row = await this.ctx.meta.data
      .selectFrom('multipart_completions')
      .selectAll()
      .where('upload_id', '=', uploadId)
      // Past the window a record is dead even before the pruning removes it.
      .where('completed_at', '>=', Date.now() - this.opts.retryWindowMs)
      .executeTakeFirst();
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
      const res = await this.ctx.meta.data
        .deleteFrom('multipart_completions')
        .where('upload_id', 'in', (eb) =>
          eb.selectFrom('multipart_completions').select('upload_id').where('completed_at', '<', cutoff).orderBy('completed_at').limit(batch),
        )
        .executeTakeFirst();
      const n = Number(res.numDeletedRows);
      removed += n;
      if (n < batch) return removed;
    }
  }

  private async commitCompletion(
    bucket: Bucket,
    key: string,
    uploadId: string,
    upload: Upload,
    requested: Array<{ partNumber: number; etag: string; checksums?: Partial<Record<ChecksumAlgorithm, string>> }>,
    partsDigest: string,
    condition: WriteCondition | undefined,
  ): Promise<{ version: ObjectVersion; refs: RefChanges }> {
    return this.objects.metadataWrite(() => withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
      const refs = new RefChanges();
      // Lock order: bucket, then the upload row (deleting it first makes a concurrent
      // Complete, Abort or UploadPart of this upload wait, then find it gone), then blobs.
      const seq = await this.objects.nextSeq(trx, bucket);
      const claimed = await trx.deleteFrom('multipart_uploads').where('upload_id', '=', uploadId).returning('upload_id').executeTakeFirst();
      if (!claimed) throw noSuchUpload();
      const rows = await trx.selectFrom('multipart_parts').selectAll().where('upload_id', '=', uploadId).execute();
      const byNumber = new Map(rows.map((p) => [p.part_number, p]));
      const manifest: ManifestEntry[] = [];
      const partSizes: number[] = [];
      const md5s: Buffer[] = [];
      const partChecksums: Buffer[] = [];
      let size = 0;
      // S3 checks the order of the whole list before looking at any part.
      requested.forEach((want, i) => {
        if (i > 0 && want.partNumber <= requested[i - 1].partNumber) {
          throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', 400);
        }
      });
      requested.forEach((want, i) => {
        const part = byNumber.get(want.partNumber);
        if (!part || part.etag !== bareEtag(want.etag)) {
          throw new S3Error(
            'InvalidPart',
            'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part\'s entity tag.',
            400,
            { UploadId: uploadId, PartNumber: want.partNumber, ETag: want.etag },
          );
        }
        const partSize = Number(part.size);
        if (i < requested.length - 1 && partSize < MIN_PART_SIZE) {
          throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', 400, {
            ProposedSize: partSize,
            MinSizeAllowed: MIN_PART_SIZE,
            PartNumber: want.partNumber,
            ETag: part.etag,
          });
        }
        const partSums = JSON.parse(part.checksums) as Partial<Record<ChecksumAlgorithm, string>>;
        for (const [alg, given] of Object.entries(want.checksums ?? {})) {
          if (given && partSums[alg as ChecksumAlgorithm] !== undefined && partSums[alg as ChecksumAlgorithm] !== given) {
            throw new S3Error('InvalidPart', `The ${alg.toUpperCase()} checksum of part ${want.partNumber} does not match the uploaded part.`, 400);
          }
        }
        if (upload.checksumAlgorithm) partChecksums.push(Buffer.from(partSums[upload.checksumAlgorithm] ?? '', 'base64'));
        if (part.blob_hash) manifest.push([part.blob_hash, partSize]);
        partSizes.push(partSize);
        md5s.push(Buffer.from(part.etag, 'hex'));
        size += partSize;
      });
      const etag = `${crypto.createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${requested.length}`;
      // Parts named in the list hand their references to the object; the rest are released.
      const used = new Set(requested.map((p) => p.partNumber));
      const unused: ManifestEntry[] = rows
        .filter((p) => !used.has(p.part_number) && p.blob_hash)
        .map((p) => [p.blob_hash!, Number(p.size)]);
      const out = await this.objects.writeLatest(trx, bucket, key, refs, {
        size,
        etag,
        attributes: upload.attributes,
        // S3's composite checksum: the checksum of the parts' checksums, suffixed with the part count.
        checksums: upload.checksumAlgorithm
          ? { [upload.checksumAlgorithm]: `${checksumOf(upload.checksumAlgorithm, Buffer.concat(partChecksums))}-${requested.length}` }
          : {},
        manifest,
        partSizes,
        condition,
        seq,
      });
      refs.release(bucket.tenant_id, unused);
      await trx.deleteFrom('multipart_parts').where('upload_id', '=', uploadId).execute();
      if (this.opts.retryWindowMs > 0) {
        // In the transaction that makes the object: a retry either finds the upload or this record.
        await trx
          .insertInto('multipart_completions')
          .values({
            upload_id: uploadId,
            bucket_id: bucket.id,
            key,
            parts_digest: partsDigest,
            etag: out.etag,
            checksums: JSON.stringify(out.checksums),
            headers: JSON.stringify(out.headers),
            completed_at: Date.now(),
          })
          .execute();
      }
      await refs.apply(trx);
      return { version: out, refs };
    }));
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
    const stale = await this.ctx.meta.data
      .selectFrom('multipart_uploads')
      .select('upload_id')
      .where('created_at', '<', cutoff)
      .orderBy('created_at')
      .limit(limit)
      .execute();
    let aborted = 0;
    for (const u of stale) {
      try {
        await this.abortUpload(u.upload_id);
        aborted++;
      } catch (err) {
        if (!(err instanceof S3Error && err.code === 'NoSuchUpload')) throw err; // completed meanwhile
      }
    }
    return aborted;
  }

  private async abortUpload(uploadId: string): Promise<void> {
    let refs = new RefChanges();
    await withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
      refs = new RefChanges();
      const claimed = await trx
        .deleteFrom('multipart_uploads')
        .where('upload_id', '=', uploadId)
        .returning(['upload_id', 'tenant_id'])
        .executeTakeFirst();
      if (!claimed) throw noSuchUpload();
      const rows = await trx.selectFrom('multipart_parts').select(['blob_hash', 'size']).where('upload_id', '=', uploadId).execute();
      refs.release(claimed.tenant_id, rows.filter((p) => p.blob_hash).map((p) => [p.blob_hash!, Number(p.size)]));
      await trx.deleteFrom('multipart_parts').where('upload_id', '=', uploadId).execute();
      await refs.apply(trx);
    });
    await collectGarbage(this.ctx, refs.released);
  }
}
