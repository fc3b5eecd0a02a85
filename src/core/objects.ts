/**
 * Objects: store, read, delete and list the latest version of keys.
 * Bodies are staged (streamed, hashed, fsynced) before one short metadata
 * transaction makes them visible; no I/O happens inside a transaction.
 */
import crypto from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ManifestEntry, ObjectVersionTable, RegionalSchema } from '../meta/schema.js';
import { withTransaction } from '../meta/engine.js';
import { errors } from '../s3/errors.js';
import { BodyDigester, type ChecksumAlgorithm, type Digests } from '../storage/digest.js';
import { VerifyingStream } from '../storage/verify.js';
import { blobRowNaming } from '../meta/regional/blob-rows.js';
import type { StagedFile } from '../storage/blob-store.js';
import type { Bucket } from './buckets.js';
import type { CoreContext } from './context.js';
import {
  BlobGoneError,
  collectGarbage,
  manifestOf,
  prepareBlob,
  RefChanges,
  type PreparedBlob,
} from './blob-refs.js';

type Trx = Kysely<RegionalSchema> | Transaction<RegionalSchema>;

export const MAX_KEY_BYTES = 1024;
/** Blob files a read opens before answering (see openBody). */
const EAGER_OPEN = 64;

export interface ObjectAttributes {
  contentType: string;
  /** Stored standard headers, lower-case names (cache-control, content-encoding, ...). */
  headers: Record<string, string>;
  /** User metadata without the x-amz-meta- prefix, lower-case names. */
  userMeta: Record<string, string>;
  /** Object tags (key -> value). */
  tags: Record<string, string>;
  /** Canned ACL: who besides the owner may read it. */
  acl: CannedAcl;
}

/** The canned ACLs Anvil stores; others are refused where they are requested. */
export type CannedAcl = 'private' | 'public-read';

export interface ObjectVersion extends ObjectAttributes {
  bucketId: string;
  tenantId: string;
  key: string;
  versionId: string;
  seq: number;
  size: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  manifest: ManifestEntry[];
  partSizes: number[];
  lastModified: Date;
}

export interface PutOptions {
  attributes: ObjectAttributes;
  /** Which digests beyond BLAKE3 and MD5 to compute. */
  digest: { sha256?: boolean; checksums?: ChecksumAlgorithm[] };
  /** Called after the body is staged and before commit; throw to refuse it (nothing is kept). */
  verify?: (d: Digests) => void;
  /** Checksums to store with the object (those the client supplied and we verified). */
  storeChecksums?: (d: Digests) => Partial<Record<ChecksumAlgorithm, string>>;
  condition?: WriteCondition;
}

/** Conditional-write predicates (If-Match / If-None-Match: *), checked inside the commit transaction. */
export interface WriteCondition {
  ifMatch?: string;
  ifNoneMatch?: '*';
}

function checkWriteCondition(key: string, cond: WriteCondition | undefined, current: { etag: string } | undefined): void {
  if (!cond) return;
  if (cond.ifNoneMatch === '*' && current) throw errors.preconditionFailed('If-None-Match');
  if (cond.ifMatch !== undefined) {
    if (!current) throw errors.noSuchKey(key);
    const wanted = cond.ifMatch.split(',').map((t) => t.trim().replace(/^"|"$/g, ''));
    if (!wanted.includes('*') && !wanted.includes(current.etag)) throw errors.preconditionFailed('If-Match');
  }
}

export function validateKey(key: string): void {
  if (key.length === 0) throw errors.invalidArgument('Key must not be empty', 'key', '');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw errors.keyTooLong();
}

function rowToVersion(row: Omit<Selectable<ObjectVersionTable>, 'id'>): ObjectVersion {
  return {
    bucketId: row.bucket_id,
    tenantId: row.tenant_id,
    key: row.key,
    versionId: row.version_id,
    seq: Number(row.seq),
    size: Number(row.size),
    etag: row.etag,
    contentType: row.content_type,
    headers: JSON.parse(row.headers),
    userMeta: JSON.parse(row.user_meta),
    checksums: JSON.parse(row.checksums),
    manifest: JSON.parse(row.manifest),
    partSizes: JSON.parse(row.part_sizes),
    lastModified: new Date(Number(row.created_at)),
    tags: JSON.parse(row.tags),
    acl: row.acl as CannedAcl,
  };
}

export class ObjectService {
  constructor(private readonly ctx: CoreContext) {}

  /**
   * Streams body into a staged blob and hands back its digests; the caller
   * commits (commitStaged) or abandons (abandonStaged) it. A write intent is
   * recorded before the first byte, so the reconciler can tell this write's
   * files from orphans if the process dies midway.
   */
  async stageBody(tenantId: string, body: AsyncIterable<Buffer>, digest: PutOptions['digest'], maxSize: number) {
    const id = crypto.randomBytes(12).toString('hex');
    if (this.recordsIntents) {
      await this.ctx.meta.regional
        .insertInto('write_intents')
        .values({ id, node_id: this.ctx.nodeId, tenant_id: tenantId, created_at: Date.now() })
        .execute();
    }
    const digester = new BodyDigester(digest);
    try {
      const staged = await this.ctx.blobs.stage(body, digester, maxSize, id);
      return { staged, digests: digester.digest() };
    } catch (err) {
      await this.dropIntent(id);
      throw err;
    }
  }

  /** Gives up a staged body that was refused (bad digest, precondition): its file and its intent go. */
  async abandonStaged(staged: StagedFile): Promise<void> {
    await this.ctx.blobs.discard(staged);
    await this.dropIntent(staged.id);
  }

  private async dropIntent(id: string): Promise<void> {
    if (this.recordsIntents) await this.ctx.meta.regional.deleteFrom('write_intents').where('id', '=', id).execute();
  }

  /**
   * Intents tell one node's writes in progress from another's dead ones in a
   * shared data folder (PostgreSQL clusters). On SQLite a single process owns
   * the folder, so every file no row names at start-up is an orphan anyway,
   * and an intent row would only add a synchronous commit to every write.
   */
  private get recordsIntents(): boolean {
    return this.ctx.meta.kind === 'postgres';
  }

  /**
   * Makes a staged body referenced by whatever `write` records in the same
   * transaction, handling dedup, the race with garbage collection, and
   * cleanup on failure. `write` takes its row locks in the fixed order
   * (bucket via nextSeq, then upload) and puts its reference changes into
   * `refs`, which are applied last, in hash order.
   */
  async commitStaged<T>(
    tenantId: string,
    staged: StagedFile,
    hash: string,
    write: (trx: Trx, manifest: ManifestEntry[], refs: RefChanges) => Promise<T>,
  ): Promise<T> {
    let blob: PreparedBlob;
    try {
      blob = await prepareBlob(this.ctx, tenantId, hash, staged);
    } catch (err) {
      await this.abandonStaged(staged).catch(() => undefined); // the intent keeps any promoted file findable
      throw err;
    }
    for (let attempt = 0; ; attempt++) {
      let refs = new RefChanges();
      let result: T;
      try {
        result = await withTransaction(this.ctx.meta.kind, this.ctx.meta.regional, async (trx) => {
          refs = new RefChanges();
          refs.referencePrepared(blob);
          const out = await write(trx, manifestOf(blob), refs);
          await refs.apply(trx);
          // The write is committed with its metadata: its files are no longer in doubt.
          if (this.recordsIntents) await trx.deleteFrom('write_intents').where('id', '=', staged.id).execute();
          return out;
        });
      } catch (err) {
        if (err instanceof BlobGoneError && attempt < 3 && blob.kind === 'existing') {
          // The identical blob was collected between our lookup and our transaction: store our own copy.
          blob = await prepareBlob(this.ctx, tenantId, hash, blob.staged, true);
          continue;
        }
        await this.cleanupFailedCommit(blob, staged);
        throw err;
      }
      // Committed: from here on nothing may fail the request.
      await this.afterCommit(blob, refs);
      return result;
    }
  }

  private async afterCommit(blob: PreparedBlob, refs: RefChanges): Promise<void> {
    try {
      if (blob.kind === 'existing') await this.ctx.blobs.discard(blob.staged);
      if (refs.redundantFileId && blob.kind === 'new') await this.ctx.blobs.remove(blob.tenantId, blob.hash, refs.redundantFileId);
    } catch {
      // A leftover file is an orphan the start-up reconciliation removes.
    }
    await collectGarbage(this.ctx, refs.released);
  }

  /**
   * After a failed commit, remove what we wrote, unless the commit did happen
   * after all (an error while committing is ambiguous): a blob row naming our
   * file means it is referenced and must stay.
   */
  private async cleanupFailedCommit(blob: PreparedBlob, staged: StagedFile): Promise<void> {
    try {
      if (blob.kind === 'existing') await this.ctx.blobs.discard(blob.staged);
      if (blob.kind === 'new') {
        if (!(await blobRowNaming(this.ctx.meta.regional, blob.tenantId, blob.hash, blob.fileId))) await this.ctx.blobs.remove(blob.tenantId, blob.hash, blob.fileId);
      }
      await this.dropIntent(staged.id);
    } catch {
      // Whatever remains is found by the start-up reconciliation (the intent names it).
    }
  }

  async put(bucket: Bucket, key: string, body: AsyncIterable<Buffer>, opts: PutOptions): Promise<ObjectVersion> {
    validateKey(key);
    if (opts.condition) {
      // Fail fast before receiving the body; the transaction checks again, atomically.
      const current = await this.latestRow(this.ctx.meta.regional, bucket, key).catch(() => undefined);
      checkWriteCondition(key, opts.condition, current);
    }
    const { staged, digests } = await this.stageBody(bucket.tenant_id, body, opts.digest, this.ctx.maxObjectSize);
    try {
      opts.verify?.(digests);
    } catch (err) {
      await this.abandonStaged(staged);
      throw err;
    }
    const checksums = opts.storeChecksums?.(digests) ?? {};
    const etag = digests.md5.toString('hex');
    return this.commitStaged(bucket.tenant_id, staged, digests.blake3, (trx, manifest, refs) =>
      this.writeLatest(trx, bucket, key, refs, {
        size: digests.size,
        etag,
        attributes: opts.attributes,
        checksums,
        manifest,
        partSizes: [],
        condition: opts.condition,
      }),
    );
  }

  /** Inside a transaction: replace the latest version of key (unversioned bucket semantics). */
  async writeLatest(
    trx: Trx,
    bucket: Bucket,
    key: string,
    refs: RefChanges,
    v: {
      size: number;
      etag: string;
      attributes: ObjectAttributes;
      checksums: Partial<Record<ChecksumAlgorithm, string>>;
      manifest: ManifestEntry[];
      partSizes: number[];
      condition?: WriteCondition;
      /** A sequence number the caller already took (and with it the bucket lock). */
      seq?: number;
    },
  ): Promise<ObjectVersion> {
    const seq = v.seq ?? (await this.nextSeq(trx, bucket));
    const { oldSize, existed } = await this.removeLatest(trx, bucket, key, refs, (current) =>
      checkWriteCondition(key, v.condition, current),
    );
    const row = {
      bucket_id: bucket.id,
      tenant_id: bucket.tenant_id,
      key,
      version_id: 'null',
      seq,
      is_latest: 1,
      is_delete_marker: 0,
      size: v.size,
      etag: v.etag,
      content_type: v.attributes.contentType,
      headers: JSON.stringify(v.attributes.headers),
      user_meta: JSON.stringify(v.attributes.userMeta),
      checksums: JSON.stringify(v.checksums),
      manifest: JSON.stringify(v.manifest),
      part_sizes: JSON.stringify(v.partSizes),
      created_at: Date.now(),
      tags: JSON.stringify(v.attributes.tags),
      acl: v.attributes.acl,
    };
    await trx.insertInto('object_versions').values(row).execute();
    await trx
      .updateTable('bucket_state')
      .set((eb) => ({
        object_count: eb('object_count', '+', existed ? 0 : 1),
        byte_count: eb('byte_count', '+', v.size - oldSize),
      }))
      .where('bucket_id', '=', bucket.id)
      .execute();
    return rowToVersion(row);
  }

  /**
   * Takes the bucket's next sequence number. The row update also locks the
   * bucket's state on PostgreSQL, which serialises the latest-version flip of
   * concurrent writers; a missing row means the bucket was deleted.
   */
  async nextSeq(trx: Trx, bucket: Bucket): Promise<number> {
    const row = await trx
      .updateTable('bucket_state')
      .set((eb) => ({ last_seq: eb('last_seq', '+', 1) }))
      .where('bucket_id', '=', bucket.id)
      .returning('last_seq')
      .executeTakeFirst();
    if (!row) throw errors.noSuchBucket(bucket.name);
    return Number(row.last_seq);
  }

  /**
   * Removes the latest version of key. Runs after nextSeq() has locked the
   * bucket, so `check` sees the state no concurrent writer can change.
   */
  private async removeLatest(
    trx: Trx,
    bucket: Bucket,
    key: string,
    refs: RefChanges,
    check?: (current: { etag: string } | undefined) => void,
  ) {
    const old = await trx
      .selectFrom('object_versions')
      .select(['id', 'manifest', 'size', 'tenant_id', 'etag'])
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', 1)
      .executeTakeFirst();
    check?.(old);
    if (!old) return { oldSize: 0, existed: false };
    await trx.deleteFrom('object_versions').where('id', '=', old.id).execute();
    refs.release(old.tenant_id, JSON.parse(old.manifest));
    return { oldSize: Number(old.size), existed: true };
  }

  /**
   * Copies the latest version of a key as a metadata operation: the new
   * version references the same blobs (no bytes are copied). `check` sees
   * the source inside the transaction (copy-source conditions) and may
   * throw; `attributes` replaces the source's (MetadataDirective REPLACE).
   */
  async copy(
    src: Bucket,
    srcKey: string,
    dst: Bucket,
    dstKey: string,
    opts: { attributes: (source: ObjectVersion) => ObjectAttributes; check?: (source: ObjectVersion) => void },
  ): Promise<ObjectVersion> {
    validateKey(srcKey);
    validateKey(dstKey);
    if (src.tenant_id !== dst.tenant_id) throw errors.accessDenied();
    for (let attempt = 0; ; attempt++) {
      try {
        let refs = new RefChanges();
        const result = await withTransaction(this.ctx.meta.kind, this.ctx.meta.regional, async (trx) => {
          refs = new RefChanges();
          const source = await this.latestRow(trx, src, srcKey);
          opts.check?.(source);
          refs.reference(src.tenant_id, source.manifest);
          const version = await this.writeLatest(trx, dst, dstKey, refs, {
            size: source.size,
            etag: source.etag,
            attributes: opts.attributes(source),
            checksums: source.checksums,
            manifest: source.manifest,
            partSizes: source.partSizes,
          });
          await refs.apply(trx);
          return version;
        });
        await collectGarbage(this.ctx, refs.released);
        return result;
      } catch (err) {
        // The source was replaced and its blobs collected between our read and our reference: read again.
        if (err instanceof BlobGoneError && attempt < 3) continue;
        throw err;
      }
    }
  }

  private async latestRow(trx: Trx, bucket: Bucket, key: string): Promise<ObjectVersion> {
    const row = await trx
      .selectFrom('object_versions')
      .selectAll()
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', 1)
      .where('is_delete_marker', '=', 0)
      .executeTakeFirst();
    if (!row) throw errors.noSuchKey(key);
    return rowToVersion(row);
  }

  /** Replaces the tag set of the latest version in place (tagging creates no new version in S3). */
  async setTags(bucket: Bucket, key: string, tags: Record<string, string>): Promise<void> {
    validateKey(key);
    const res = await this.ctx.meta.regional
      .updateTable('object_versions')
      .set({ tags: JSON.stringify(tags) })
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', 1)
      .where('is_delete_marker', '=', 0)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw errors.noSuchKey(key);
  }

  /** Sets the canned ACL of the latest version in place (as S3's PutObjectAcl does). */
  async setAcl(bucket: Bucket, key: string, acl: CannedAcl): Promise<void> {
    validateKey(key);
    const res = await this.ctx.meta.regional
      .updateTable('object_versions')
      .set({ acl })
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', 1)
      .where('is_delete_marker', '=', 0)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw errors.noSuchKey(key);
  }

  async head(bucket: Bucket, key: string): Promise<ObjectVersion> {
    validateKey(key);
    return this.latestRow(this.ctx.meta.regional, bucket, key);
  }

  /**
   * Opens the bytes [start, end] of a version. Every file is opened before
   * the first byte is sent; if one vanished (the object was overwritten and
   * its blob collected since we read the row) this returns null and the
   * caller re-reads the metadata.
   */
  async openBody(v: ObjectVersion, start: number, end: number): Promise<Readable | null> {
    const pieces: Array<{ hash: string; from: number; to: number }> = [];
    let offset = 0;
    for (const [hash, size] of v.manifest) {
      const pieceStart = offset;
      const pieceEnd = offset + size - 1;
      offset += size;
      if (pieceEnd < start || pieceStart > end) continue;
      pieces.push({ hash, from: Math.max(start, pieceStart) - pieceStart, to: Math.min(end, pieceEnd) - pieceStart });
    }
    if (pieces.length === 0) return Readable.from([]);
    const hashes = [...new Set(pieces.map((p) => p.hash))];
    const rows = await this.ctx.meta.regional
      .selectFrom('blobs')
      .select(['hash', 'file_id'])
      .where('tenant_id', '=', v.tenantId)
      .where('hash', 'in', hashes)
      .execute();
    const fileIds = new Map(rows.map((r) => [r.hash, r.file_id]));
    if (pieces.some((p) => !fileIds.has(p.hash))) return null;
    // Any file of a given hash holds the right bytes: if the one we looked up was collected
    // (the object was overwritten while we stream it), open whichever file holds it now.
    const open = async (i: number): Promise<FileHandle> => {
      const { hash } = pieces[i];
      try {
        return await this.ctx.blobs.open(v.tenantId, hash, fileIds.get(hash)!);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || i === 0) throw err;
        const row = await this.ctx.meta.regional
          .selectFrom('blobs')
          .select('file_id')
          .where('tenant_id', '=', v.tenantId)
          .where('hash', '=', hash)
          .executeTakeFirst();
        if (!row) throw err;
        return this.ctx.blobs.open(v.tenantId, hash, row.file_id);
      }
    };
    // Only the first file is opened before answering (a vanished file means the object
    // changed: the caller re-reads it); the others one at a time as the stream reaches
    // them, so an object of thousands of parts holds one descriptor, not thousands.
    // The first EAGER_OPEN files are opened before answering: an open file stays readable even
    // if the object is overwritten and its blob collected meanwhile (a vanished file here means
    // it changed already: the caller re-reads the metadata). Objects of more parts open the rest
    // as the stream reaches them, so thousands of parts never hold thousands of descriptors.
    const opened: Array<FileHandle | undefined> = [];
    try {
      for (let i = 0; i < Math.min(pieces.length, EAGER_OPEN); i++) opened.push(await open(i));
    } catch (err) {
      await Promise.all(opened.map((h) => h?.close().catch(() => undefined)));
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const blobs = this.ctx.blobs;
    // With verifyReads, every piece that is a whole blob is checked against its hash as it streams
    // (range reads of part of a blob cannot be, and are served as stored).
    const sizes = new Map(v.manifest);
    const read = (fh: FileHandle, i: number): Readable => {
      const p = pieces[i];
      const stream = blobs.readStream(fh, p.from, p.to);
      if (!this.ctx.verifyReads || p.from !== 0 || p.to !== sizes.get(p.hash)! - 1) return stream;
      return pipeline(stream, new VerifyingStream(p.hash), () => undefined);
    };
    if (pieces.length === 1) return read(opened[0]!, 0);
    const closeUnstreamed = () => Promise.all(opened.map((h) => h?.close().catch(() => undefined)));
    async function* concat() {
      try {
        for (let i = 0; i < pieces.length; i++) {
          const handle = opened[i] ?? (await open(i));
          opened[i] = undefined; // the stream owns it now and closes it when done
          yield* read(handle, i);
        }
      } finally {
        await closeUnstreamed();
      }
    }
    const body = Readable.from(concat(), { objectMode: false });
    // Destroyed before the first read, the generator never runs its finally: close the files here.
    body.once('close', () => void closeUnstreamed());
    return body;
  }

  /** Deletes the latest version of key; deleting a missing key succeeds (S3 semantics). */
  async delete(bucket: Bucket, key: string): Promise<void> {
    validateKey(key);
    await this.deleteMany(bucket, [key]);
  }

  /**
   * Deletes several keys in one transaction (one durable commit for a whole
   * DeleteObjects batch). Keys must already be validated.
   */
  async deleteMany(bucket: Bucket, keys: string[]): Promise<void> {
    let refs = new RefChanges();
    await withTransaction(this.ctx.meta.kind, this.ctx.meta.regional, async (trx) => {
      refs = new RefChanges();
      let count = 0;
      let bytes = 0;
      for (const key of keys) {
        await this.nextSeq(trx, bucket);
        const { oldSize, existed } = await this.removeLatest(trx, bucket, key, refs);
        if (existed) {
          count++;
          bytes += oldSize;
        }
      }
      if (count > 0) {
        await trx
          .updateTable('bucket_state')
          .set((eb) => ({ object_count: eb('object_count', '-', count), byte_count: eb('byte_count', '-', bytes) }))
          .where('bucket_id', '=', bucket.id)
          .execute();
      }
      await refs.apply(trx);
    });
    await collectGarbage(this.ctx, refs.released);
  }
}

export function newUploadId(): string {
  return crypto.randomBytes(24).toString('base64url');
}
