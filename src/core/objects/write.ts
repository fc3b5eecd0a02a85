/**
 * The write operations on keys. A PUT reads top to bottom: stage the body
 * (hash, encrypt) → verify what the client promised (abandon on failure) →
 * commit (one transaction that replaces the latest version). Copies and
 * deletes are metadata operations: one transaction each, no bytes moved.
 */
import { BlobGoneError, RefChanges, UnfoldAndRetry } from '../../blobs/index.js';
import type { SseCustomerKey } from '../../crypto/sse-c.js';
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import type { ObjectAttributes, ObjectVersion } from '../../meta/objects/types.js';
import { latestVersion, moveCounts } from '../../meta/objects/versions.js';
import type { CoreContext } from '../context.js';
import { commitStaged } from './commit.js';
import { digestSpec, type ExpectedBody, verifyDigests } from './digests.js';
import { checkWriteCondition, validateKey, type WriteCondition } from './keys.js';
import { nextSeq, removeLatest, writeLatest } from './latest.js';
import { abandonStaged, metadataWrite, stageBody } from './stage.js';

export interface PutOptions {
  attributes: ObjectAttributes;
  /** What the client promised about the body (checked once it is staged; nothing is kept if it fails). */
  expect?: ExpectedBody;
  condition?: WriteCondition;
  /** SSE-C: encrypt with a data key sealed to this customer key (no deduplication). */
  customerKey?: SseCustomerKey;
}

export async function putObject(
  ctx: CoreContext,
  bucket: Bucket,
  key: string,
  body: AsyncIterable<Buffer>,
  opts: PutOptions,
): Promise<ObjectVersion> {
  validateKey(key);
  if (opts.condition) {
    // Fail fast before receiving the body; the transaction checks again, atomically. (A failed
    // read here decides nothing: the check that counts runs in the transaction.)
    const current = await latestVersion(ctx.meta.data, bucket.id, key).catch(() => undefined);
    checkWriteCondition(key, opts.condition, current);
  }
  // 1. Stage: stream, hash and (maybe) encrypt the body into a file no row names yet.
  const { staged, digests } = await stageBody(ctx, bucket.tenant_id, body, digestSpec(opts.expect), ctx.maxObjectSize, opts.customerKey);
  // 2. Verify: the body is what the client promised, or it is given up.
  let checksums;
  try {
    checksums = verifyDigests(digests, opts.expect);
  } catch (err) {
    await abandonStaged(ctx, staged);
    throw err;
  }
  // 3. Commit: one transaction makes it the key's latest version.
  const etag = digests.md5.toString('hex');
  return commitStaged(
    ctx,
    bucket,
    staged,
    digests.blake3,
    (trx, manifest, refs) =>
      writeLatest(trx, bucket, key, refs, {
        size: digests.size,
        etag,
        attributes: opts.attributes,
        checksums,
        manifest,
        partSizes: [],
        condition: opts.condition,
      }),
    opts.customerKey,
  );
}

export interface CopyOptions {
  /** The copy's attributes, from the source's (MetadataDirective COPY) or the request's (REPLACE). */
  attributes: (source: ObjectVersion) => ObjectAttributes;
  /** Sees the source inside the transaction (copy-source conditions, encryption) and may refuse it. */
  check?: (source: ObjectVersion) => void;
}

/**
 * Copies the latest version of a key as a metadata operation: the new
 * version references the same blobs (no bytes are copied). `check` sees
 * the source inside the transaction (copy-source conditions) and may
 * throw; `attributes` replaces the source's (MetadataDirective REPLACE).
 */
export async function copyObject(
  ctx: CoreContext,
  src: Bucket,
  srcKey: string,
  dst: Bucket,
  dstKey: string,
  opts: CopyOptions,
): Promise<ObjectVersion> {
  validateKey(srcKey);
  validateKey(dstKey);
  if (src.tenant_id !== dst.tenant_id) throw fail.forbidden('AccessDenied', 'Access Denied');
  let noFold = false;
  for (let attempt = 0; ; attempt++) {
    try {
      let refs = new RefChanges();
      const result = await metadataWrite(ctx, () =>
        withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
          refs = new RefChanges();
          refs.noFold = noFold;
          const source = await latestVersion(trx, src.id, srcKey);
          if (!source) throw fail.noSuchKey(srcKey);
          opts.check?.(source);
          refs.reference(src.tenant_id, source.manifest);
          const version = await writeLatest(trx, dst, dstKey, refs, {
            size: source.size,
            etag: source.etag,
            attributes: opts.attributes(source),
            checksums: source.checksums,
            manifest: source.manifest,
            partSizes: source.partSizes,
          });
          await refs.apply(trx);
          return version;
        }),
      );
      await ctx.blobs.released(refs);
      return result;
    } catch (err) {
      // The source was replaced and its blobs collected between our read and our reference: read again.
      if (err instanceof BlobGoneError && attempt < 3) continue;
      if (err instanceof UnfoldAndRetry && attempt < 3) {
        noFold = true;
        continue;
      }
      throw err;
    }
  }
}

/**
 * Deletes several keys in one transaction (one durable commit for a whole
 * DeleteObjects batch); a missing key is no error (S3 semantics). Keys must
 * already be validated.
 */
export async function deleteObjects(ctx: CoreContext, bucket: Bucket, keys: string[]): Promise<void> {
  let refs = new RefChanges();
  await metadataWrite(ctx, () =>
    withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
      refs = new RefChanges();
      let count = 0;
      let bytes = 0;
      for (const key of keys) {
        await nextSeq(trx, bucket);
        const { oldSize, existed } = await removeLatest(trx, bucket, key, refs);
        if (existed) {
          count++;
          bytes += oldSize;
        }
      }
      if (count > 0) await moveCounts(trx, bucket.id, { objects: -count, bytes: -bytes });
      await refs.apply(trx);
    }),
  );
  await ctx.blobs.released(refs);
}
