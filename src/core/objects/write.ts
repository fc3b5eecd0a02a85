/**
 * The write operations on keys. A PUT reads top to bottom: stage the body
 * (hash, encrypt) → verify what the client promised (abandon on failure) →
 * commit (one transaction that replaces the latest version). Copies and
 * deletes are metadata operations: one transaction each, no bytes moved.
 */
import { BlobGoneError, RefChanges, UnfoldAndRetry } from '../../blobs/index.js';
import type { SseCustomerKey } from '../../crypto/sse-c.js';
import { type AnvilError, fail, isAnvilError } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import { type ObjectAttributes, type ObjectVersion, rowToVersion, type VersionLock } from '../../meta/objects/types.js';
import { latestVersion } from '../../meta/objects/versions.js';
import { visibleRow } from '../branches/read.js';
import type { CoreContext } from '../context.js';
import { EVENTS } from '../events/names.js';
import { commitStaged } from './commit.js';
import { digestSpec, type ExpectedBody, verifyDigests } from './digests.js';
import { checkWriteCondition, validateKey, type WriteCondition } from './keys.js';
import { type DeleteTarget, deleteTarget, nextSeq, writeLatest } from './latest.js';
import { checkCommitted, checkIncoming, type Incoming, quotasFor } from './quota.js';
import { abandonStaged, metadataWrite, stageBody } from './stage.js';
import { type DeleteOutcome, findVersion, invalidVersionId, isVersionIdSyntax, versioningOf } from './versioning.js';

export interface PutOptions {
  attributes: ObjectAttributes;
  /** What the client promised about the body (checked once it is staged; nothing is kept if it fails). */
  expect?: ExpectedBody;
  condition?: WriteCondition;
  /** SSE-C: encrypt with a data key sealed to this customer key (no deduplication). */
  customerKey?: SseCustomerKey;
  /** Object Lock the request asks for (the bucket's default retention applies otherwise). */
  lock?: VersionLock;
  /** The change sequence's event (default s3:ObjectCreated:Put; a browser form upload is s3:ObjectCreated:Post). */
  event?: typeof EVENTS.put | typeof EVENTS.post;
}

/** The key's live latest version, through a branch's ancestors when addressed by an alias. */
async function currentVersion(ctx: CoreContext, bucket: Bucket, key: string): Promise<ObjectVersion | undefined> {
  if (!bucket.view) return latestVersion(ctx.meta.data, bucket.id, key);
  const row = await visibleRow(ctx.meta.data, bucket.view, key);
  return row && Number(row.is_delete_marker) === 0 ? rowToVersion(row) : undefined;
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
    const current = await currentVersion(ctx, bucket, key).catch(() => undefined);
    checkWriteCondition(key, opts.condition, current);
  }
  // Storage quotas: refused before the body is read when its length says so; the commit checks again, exactly.
  const quotas = await quotasFor(ctx, bucket);
  const length = opts.expect?.length;
  if (length !== undefined) {
    await checkIncoming(ctx, bucket, quotas, { bytes: length, objects: 1 }, () => replacedBy(ctx, bucket, key, length));
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
        lock: opts.lock,
        event: opts.event,
      }),
    opts.customerKey,
    quotas,
  );
}

/**
 * What a PUT of `length` bytes adds once what it replaces is taken off: an
 * unversioned bucket replaces the key's one version; an Enabled one keeps
 * it. A Suspended bucket replaces the key's null version, wherever it is in
 * the history: undefined, no estimate (the commit decides).
 */
async function replacedBy(ctx: CoreContext, bucket: Bucket, key: string, length: number): Promise<Incoming | undefined> {
  const state = versioningOf(bucket);
  if (state === 'Enabled') return { bytes: length, objects: 1 };
  if (state === 'Suspended') return undefined;
  const current = await latestVersion(ctx.meta.data, bucket.id, key);
  return current ? { bytes: length - current.size, objects: 0 } : { bytes: length, objects: 1 };
}

export interface CopyOptions {
  /** The source version to copy (none: the source key's latest). */
  sourceVersionId?: string;
  /** The copy's attributes, from the source's (MetadataDirective COPY) or the request's (REPLACE). */
  attributes: (source: ObjectVersion) => ObjectAttributes;
  /** Sees the source inside the transaction (copy-source conditions, encryption) and may refuse it. */
  check?: (source: ObjectVersion) => void;
  /** Object Lock the request asks for the copy (the source's is not copied, as in S3). */
  lock?: VersionLock;
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
): Promise<ObjectVersion & { sourceVersionId: string }> {
  validateKey(srcKey);
  validateKey(dstKey);
  if (src.tenant_id !== dst.tenant_id) throw fail.forbidden('AccessDenied', 'Access Denied');
  // A copy moves no bytes but stores a version: the destination's quotas count it (checked in the transaction).
  const quotas = await quotasFor(ctx, dst);
  let noFold = false;
  for (let attempt = 0; ; attempt++) {
    try {
      let refs = new RefChanges();
      const result = await metadataWrite(ctx, () =>
        withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
          refs = new RefChanges();
          refs.noFold = noFold;
          const source = await findVersion(trx, src, srcKey, opts.sourceVersionId);
          if (source.isDeleteMarker) {
            // S3: a copy of a key whose latest is a marker finds no key; naming a marker is invalid.
            if (opts.sourceVersionId === undefined) throw fail.noSuchKey(srcKey);
            throw fail.invalid(
              'InvalidRequest',
              'The source of a copy request may not specifically refer to a delete marker by version id.',
            );
          }
          opts.check?.(source);
          refs.reference(src.tenant_id, source.manifest);
          const version = await writeLatest(trx, dst, dstKey, refs, {
            size: source.size,
            etag: source.etag,
            attributes: opts.attributes(source),
            checksums: source.checksums,
            manifest: source.manifest,
            partSizes: source.partSizes,
            lock: opts.lock,
            event: EVENTS.copy,
          });
          await refs.apply(trx);
          await checkCommitted(trx, dst, quotas);
          return { ...version, sourceVersionId: source.versionId };
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

/** What one target of a delete came to: done, or refused (Object Lock) with the error. */
export type DeleteResult = DeleteOutcome | { key: string; versionId?: string; error: AnvilError };

/**
 * Deletes several targets in one transaction (one durable commit for a
 * whole DeleteObjects batch); a missing key or version is no error (S3
 * semantics). A target that Object Lock protects is refused on its own and
 * the others go ahead. Keys must already be validated.
 */
export async function deleteObjects(
  ctx: CoreContext,
  bucket: Bucket,
  targets: DeleteTarget[],
  opts: { bypassGovernance?: boolean } = {},
): Promise<DeleteResult[]> {
  for (const t of targets) if (t.versionId !== undefined && !isVersionIdSyntax(t.versionId)) throw invalidVersionId(t.versionId);
  let refs = new RefChanges();
  const results = await metadataWrite(ctx, () =>
    withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
      refs = new RefChanges();
      const out: DeleteResult[] = [];
      for (const t of targets) {
        const seq = await nextSeq(trx, bucket);
        try {
          out.push(await deleteTarget(trx, bucket, t, refs, seq, opts.bypassGovernance ?? false));
        } catch (err) {
          // Refusals are decided before the target changes anything, so the batch goes on.
          if (!isAnvilError(err, 'Forbidden')) throw err;
          out.push({ key: t.key, versionId: t.versionId, error: err });
        }
      }
      await refs.apply(trx);
      return out;
    }),
  );
  await ctx.blobs.released(refs);
  return results;
}
