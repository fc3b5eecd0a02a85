/**
 * Objects: store, read, delete and list the latest version of keys.
 * Bodies are staged (streamed, hashed, fsynced) before one short metadata
 * transaction makes them visible; no I/O happens inside a transaction.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { ManifestEntry, ObjectVersionTable, DataSchema } from '../meta/schema.js';
import { LATEST, NOT_DELETED, withTransaction } from '../meta/engine.js';
import { errors } from '../s3/errors.js';
import { type ChecksumAlgorithm, type Digests, type StagedFile, BlobGoneError, UnfoldAndRetry, collectGarbage, manifestOf, prepareBlob, RefChanges, type PreparedBlob } from '../blobs/index.js';
import { blobRowNaming } from '../meta/blobs/rows.js';
import type { Bucket } from './buckets.js';
import { sealDataKeyForCustomer, type SseCustomerKey } from '../crypto/sse-c.js';
import { generateDataKey } from '../crypto/framed.js';
import type { CoreContext } from './context.js';

type Trx = Kysely<DataSchema> | Transaction<DataSchema>;

export const MAX_KEY_BYTES = 1024;

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
  /** SSE-C: encrypt with a data key sealed to this customer key (no deduplication). */
  customerKey?: SseCustomerKey;
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
  // PostgreSQL cannot store NUL in text; refuse it the same way on every engine.
  if (key.includes('\0')) throw errors.invalidArgument('Object key must not contain a NUL character', 'key', '');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw errors.keyTooLong();
}

/** A version row as written (seq comes from the bucket's counter). */
type NewVersionRow = Omit<Selectable<ObjectVersionTable>, 'id' | 'seq'>;
/** What a write needs to know of the version it replaces. */
type CurrentVersion = Pick<Selectable<ObjectVersionTable>, 'id' | 'seq' | 'manifest' | 'size' | 'tenant_id' | 'etag'>;

function countDelta(old: CurrentVersion | undefined, size: number): { objects: number; bytes: number } {
  return old ? { objects: 0, bytes: size - Number(old.size) } : { objects: 1, bytes: size };
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
   * commits (commitStaged) or abandons (abandonStaged) it. Where intents are
   * kept (recordsIntents), one is recorded before the body's first file is
   * created, so the reconciler can tell this write's files from orphans if
   * the process dies midway: before the temp file of a large body, or, for a
   * body small enough to stay in memory, by prepareBlob just before the blob
   * file is written (with the dedup lookup, in one statement).
   */
  async stageBody(tenantId: string, body: AsyncIterable<Buffer>, digest: PutOptions['digest'], maxSize: number, customerKey?: SseCustomerKey) {
    const id = newFileId();
    let recorded = false;
    const recordIntent = async () => {
      await this.metadataWrite(() =>
        this.ctx.meta.data
          .insertInto('write_intents')
          .values({ id, node_id: this.ctx.nodeId, tenant_id: tenantId, created_at: Date.now() })
          .execute(),
      );
      recorded = true;
    };
    try {
      // SSE-C bodies are always encrypted (with their own key) and hashed as stored (their address).
      const dataKey = customerKey ? generateDataKey() : this.ctx.replicas.newDataKey();
      return await this.ctx.blobs.stage(body, digest, maxSize, id, this.recordsIntents ? recordIntent : undefined, dataKey, customerKey !== undefined);
    } catch (err) {
      if (recorded) await this.dropIntent(id);
      throw err;
    }
  }

  /**
   * Runs a metadata write: a full disk under the database (SQLITE_FULL,
   * PostgreSQL disk_full) fails it with 507 InsufficientStorage, logged once
   * per episode (storage/disk-space.ts); other errors pass unchanged.
   */
  metadataWrite<T>(write: () => Promise<T>): Promise<T> {
    return this.ctx.blobs.space.metadataWrite(write);
  }

  /** Gives up a staged body that was refused (bad digest, precondition): its file and its intent go. */
  async abandonStaged(staged: StagedFile): Promise<void> {
    await this.ctx.blobs.discard(staged);
    await this.dropIntent(staged.id);
  }

  private async dropIntent(id: string): Promise<void> {
    if (this.recordsIntents) await this.ctx.meta.data.deleteFrom('write_intents').where('id', '=', id).execute();
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
    bucket: Bucket,
    staged: StagedFile,
    hash: string,
    write: (trx: Trx, manifest: ManifestEntry[], refs: RefChanges) => Promise<T>,
    customerKey?: SseCustomerKey,
  ): Promise<T> {
    const tenantId = bucket.tenant_id;
    const replication = this.replicationFor(bucket);
    // An SSE-C blob is addressed by the hash of its stored bytes (unique to this upload: never shared).
    const sealed = customerKey && staged.size > 0 ? sealDataKeyForCustomer(staged.dataKey!, customerKey) : undefined;
    if (sealed) hash = staged.storedHash!;
    let blob: PreparedBlob;
    try {
      // (An SSE-C address is unique, so the dedup lookup finds nothing; it still records the intent.)
      blob = await prepareBlob(this.ctx, tenantId, hash, staged, replication, false, sealed);
    } catch (err) {
      await this.abandonStaged(staged).catch(() => undefined); // the intent keeps any promoted file findable
      // (Replica writes answer 507 themselves; what is left to translate is the intent's insert.)
      throw this.ctx.blobs.space.refused(this.ctx.blobs.space.metadata, err);
    }
    let noFold = false;
    for (let attempt = 0; ; attempt++) {
      let refs = new RefChanges();
      let result: T;
      try {
        result = await this.metadataWrite(() => withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
          refs = new RefChanges();
          refs.noFold = noFold;
          // The write is committed with its metadata: its files are no longer in doubt. The intent
          // goes in this transaction: writeLatest folds its deletion into a statement of its own.
          if (this.recordsIntents) refs.intentId = staged.id;
          refs.referencePrepared(blob);
          const out = await write(trx, manifestOf(blob), refs);
          if (refs.intentId) await trx.deleteFrom('write_intents').where('id', '=', refs.intentId).execute();
          await refs.apply(trx, this.ctx.replicas);
          return out;
        }));
      } catch (err) {
        if (err instanceof UnfoldAndRetry && attempt < 3) {
          noFold = true;
          continue;
        }
        if (err instanceof BlobGoneError && attempt < 3 && blob.kind === 'existing') {
          // The identical blob was collected between our lookup and our transaction: store our own copy.
          const again = blob.staged;
          try {
            blob = await prepareBlob(this.ctx, tenantId, hash, again, replication, true, sealed);
          } catch (e) {
            await this.abandonStaged(again).catch(() => undefined);
            throw e;
          }
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
      if (refs.redundantFileId && blob.kind === 'new') {
        await this.ctx.replicas.remove({ tenantId: blob.tenantId, hash: blob.hash, fileId: refs.redundantFileId }, blob.backends);
      }
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
        if (!(await blobRowNaming(this.ctx.meta.data, blob.tenantId, blob.hash, blob.fileId))) await this.ctx.replicas.remove(blob, blob.backends);
      }
      await this.dropIntent(staged.id);
    } catch {
      // Whatever remains is found by the start-up reconciliation (the intent names it).
    }
  }

  /** Replicas each new blob of this bucket gets. */
  replicationFor(bucket: Bucket): number {
    return bucket.replication ?? this.ctx.replicas.defaultFactor;
  }

  async put(bucket: Bucket, key: string, body: AsyncIterable<Buffer>, opts: PutOptions): Promise<ObjectVersion> {
    validateKey(key);
    if (opts.condition) {
      // Fail fast before receiving the body; the transaction checks again, atomically.
      const current = await this.latestRow(this.ctx.meta.data, bucket, key).catch(() => undefined);
      checkWriteCondition(key, opts.condition, current);
    }
    const { staged, digests } = await this.stageBody(bucket.tenant_id, body, opts.digest, this.ctx.maxObjectSize, opts.customerKey);
    try {
      opts.verify?.(digests);
    } catch (err) {
      await this.abandonStaged(staged);
      throw err;
    }
    const checksums = opts.storeChecksums?.(digests) ?? {};
    const etag = digests.md5.toString('hex');
    return this.commitStaged(bucket, staged, digests.blake3, (trx, manifest, refs) =>
      this.writeLatest(trx, bucket, key, refs, {
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
    const row: NewVersionRow = {
      bucket_id: bucket.id,
      tenant_id: bucket.tenant_id,
      key,
      version_id: 'null',
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
    // The key's current latest version. Under the bucket lock (SQLite's BEGIN IMMEDIATE, or a
    // seq the caller took) this is authoritative; on PostgreSQL without the lock it is a guess
    // that the locking statement below validates.
    let old = await this.currentLatest(trx, bucket, key, refs);
    checkWriteCondition(key, v.condition, old);
    let seq: number;
    if (v.seq !== undefined) {
      seq = v.seq;
      await this.moveCounts(trx, bucket, countDelta(old, v.size));
      await this.putRow(trx, row, seq, old);
    } else if (this.ctx.meta.kind === 'postgres') {
      const taken = await this.lockAndPut(trx, bucket, row, old, countDelta(old, v.size), refs);
      seq = taken.seq;
      if (!taken.written) {
        // Another writer replaced the key between our read and the lock. We hold the lock
        // now, so the row read next is the truth: redo with it and correct the counts.
        const guessed = old;
        old = await this.currentLatest(trx, bucket, key);
        checkWriteCondition(key, v.condition, old);
        // Releasing old's blobs later must not lock a row that sorts before the one already locked.
        if (old && refs.wouldBreakOrder(old.tenant_id, JSON.parse(old.manifest))) throw new UnfoldAndRetry();
        const was = countDelta(guessed, v.size);
        const is = countDelta(old, v.size);
        await this.moveCounts(trx, bucket, { objects: is.objects - was.objects, bytes: is.bytes - was.bytes });
        await this.putRow(trx, row, seq, old);
      }
    } else {
      // SQLite: BEGIN IMMEDIATE already excludes every other writer.
      seq = await this.nextSeq(trx, bucket, countDelta(old, v.size));
      await this.putRow(trx, row, seq, old);
    }
    if (old) refs.release(old.tenant_id, JSON.parse(old.manifest));
    return rowToVersion({ ...row, seq });
  }

  /** The key's latest version; on PostgreSQL, deletes refs' pending write intent in the same round trip. */
  private async currentLatest(trx: Trx, bucket: Bucket, key: string, refs?: RefChanges): Promise<CurrentVersion | undefined> {
    let db: Trx = trx;
    const intent = refs?.intentId;
    if (intent && this.ctx.meta.kind === 'postgres') {
      refs.intentId = undefined;
      // Only this write touches its intent row: deleting it takes no lock anyone waits for.
      db = trx.with('gone', (q) => q.deleteFrom('write_intents').where('id', '=', intent)) as unknown as Trx;
    }
    return db
      .selectFrom('object_versions')
      .select(['id', 'seq', 'manifest', 'size', 'tenant_id', 'etag'])
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', LATEST)
      .executeTakeFirst();
  }

  /**
   * Under the bucket lock: makes row the key's latest version, replacing old
   * in place (S3 without versioning keeps one version per key) or inserting it.
   */
  private async putRow(trx: Trx, row: NewVersionRow, seq: number, old: CurrentVersion | undefined): Promise<void> {
    if (!old) {
      await trx.insertInto('object_versions').values({ ...row, seq }).execute();
      return;
    }
    // Key, bucket and latest flag stay as they are (not rewriting them spares the index updates).
    const { bucket_id: _b, key: _k, is_latest: _l, ...changed } = row;
    const res = await trx
      .updateTable('object_versions')
      .set({ ...changed, seq })
      .where('id', '=', old.id)
      .where('seq', '=', old.seq)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new Error(`latest version of ${row.key} changed under the bucket lock`);
  }

  private async moveCounts(trx: Trx, bucket: Bucket, d: { objects: number; bytes: number }): Promise<void> {
    if (d.objects === 0 && d.bytes === 0) return;
    await trx
      .updateTable('bucket_state')
      .set((eb) => ({ object_count: eb('object_count', '+', d.objects), byte_count: eb('byte_count', '+', d.bytes) }))
      .where('bucket_id', '=', bucket.id)
      .execute();
  }

  /**
   * PostgreSQL: one statement takes the bucket lock and the next sequence
   * number, moves the counts, and writes the version if the key's latest
   * version is still `old` (an in-place UPDATE matching old's id and seq,
   * or an INSERT that does nothing if a latest version appeared). The
   * version CTE reads the bucket CTE, so the bucket row is locked before
   * the object row (lock order: bucket first). Data-modifying CTEs see
   * concurrent commits through the usual re-check of updated rows and the
   * unique index, not through the statement's snapshot, so a version
   * replaced or inserted meanwhile makes `written` 0; the caller then redoes
   * the write under the lock it now holds. For a new key, its blob
   * reference is applied by the same statement (see RefChanges.soleReference).
   * So a new key's PUT holds the bucket lock for this statement and the
   * COMMIT only, instead of seven round trips: the lock serialises the PUTs
   * of one bucket, so its hold time bounds their rate.
   */
  private async lockAndPut(
    trx: Trx,
    bucket: Bucket,
    row: NewVersionRow,
    old: CurrentVersion | undefined,
    d: { objects: number; bytes: number },
    refs: RefChanges,
  ): Promise<{ seq: number; written: boolean }> {
    const s = sql`UPDATE bucket_state SET last_seq = last_seq + 1, object_count = object_count + ${d.objects}, byte_count = byte_count + ${d.bytes}
      WHERE bucket_id = ${bucket.id} RETURNING last_seq`;
    const cols = sql`size = ${row.size}, etag = ${row.etag}, content_type = ${row.content_type}, headers = ${row.headers},
      user_meta = ${row.user_meta}, checksums = ${row.checksums}, manifest = ${row.manifest}, part_sizes = ${row.part_sizes},
      created_at = ${row.created_at}, tags = ${row.tags}, acl = ${row.acl}, tenant_id = ${row.tenant_id},
      version_id = ${row.version_id}, is_delete_marker = ${row.is_delete_marker}`;
    const v = old
      ? sql`UPDATE object_versions SET seq = s.last_seq, ${cols} FROM s
          WHERE object_versions.id = ${old.id} AND object_versions.seq = ${old.seq} AND object_versions.is_latest = 1 RETURNING 1`
      : sql`INSERT INTO object_versions (bucket_id, tenant_id, key, version_id, seq, is_latest, is_delete_marker, size, etag,
            content_type, headers, user_meta, checksums, manifest, part_sizes, created_at, tags, acl)
          SELECT ${row.bucket_id}, ${row.tenant_id}, ${row.key}, ${row.version_id}, s.last_seq, 1, 0, ${row.size}::bigint, ${row.etag},
            ${row.content_type}, ${row.headers}, ${row.user_meta}, ${row.checksums}, ${row.manifest}, ${row.part_sizes},
            ${row.created_at}::bigint, ${row.tags}, ${row.acl} FROM s
          ON CONFLICT (bucket_id, key) WHERE is_latest = 1 DO NOTHING RETURNING 1`;
    // A new key's only blob reference joins the statement too (after the bucket row: it reads s).
    // With an old version there is a release as well, applied later in hash order by RefChanges.
    const sole = old || refs.noFold ? undefined : refs.soleReference();
    const b = !sole
      ? undefined
      : sole.newBlob
        ? sql`INSERT INTO blobs (tenant_id, hash, file_id, size, ref_count, created_at, enc_key, enc_master_key_id, replication)
            SELECT ${sole.tenantId}, ${sole.hash}, ${sole.newBlob.fileId}, ${sole.newBlob.size}::bigint, 1, ${Date.now()}::bigint,
              ${sole.newBlob.encKey}::text, ${sole.newBlob.encMasterKeyId}::text, ${sole.newBlob.replication}::int FROM s
            ON CONFLICT (tenant_id, hash) DO UPDATE SET ref_count = blobs.ref_count + 1,
              replication = GREATEST(blobs.replication, EXCLUDED.replication) RETURNING file_id`
        : sql`UPDATE blobs SET ref_count = blobs.ref_count + 1, replication = GREATEST(blobs.replication, ${sole.replication ?? 1}::int) FROM s
            WHERE blobs.tenant_id = ${sole.tenantId} AND blobs.hash = ${sole.hash} RETURNING blobs.file_id`;
    const res = b
      ? await sql<{ seq: string | number | null; written: string | number; file_id: string | null }>`WITH s AS (${s}), v AS (${v}), b AS (${b})
          SELECT (SELECT last_seq FROM s) AS seq, (SELECT count(*) FROM v) AS written, (SELECT file_id FROM b) AS file_id`.execute(trx)
      : await sql<{ seq: string | number | null; written: string | number; file_id?: null }>`WITH s AS (${s}), v AS (${v})
          SELECT (SELECT last_seq FROM s) AS seq, (SELECT count(*) FROM v) AS written`.execute(trx);
    const out = res.rows[0];
    if (out?.seq === null || out?.seq === undefined) throw errors.noSuchBucket(bucket.name);
    if (b) refs.soleReferenceApplied(out.file_id ?? undefined);
    return { seq: Number(out.seq), written: Number(out.written) === 1 };
  }

  /**
   * Takes the bucket's next sequence number (and moves the object and byte
   * counts by `counts`). The row update also locks the bucket's state on
   * PostgreSQL, which serialises the latest-version flip of concurrent
   * writers; a missing row means the bucket was deleted.
   */
  async nextSeq(trx: Trx, bucket: Bucket, counts?: { objects: number; bytes: number }): Promise<number> {
    const row = await trx
      .updateTable('bucket_state')
      .set((eb) =>
        counts
          ? {
              last_seq: eb('last_seq', '+', 1),
              object_count: eb('object_count', '+', counts.objects),
              byte_count: eb('byte_count', '+', counts.bytes),
            }
          : { last_seq: eb('last_seq', '+', 1) },
      )
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
      .where('is_latest', '=', LATEST)
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
    let noFold = false;
    for (let attempt = 0; ; attempt++) {
      try {
        let refs = new RefChanges();
        const result = await this.metadataWrite(() => withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
          refs = new RefChanges();
          refs.noFold = noFold;
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
        }));
        await collectGarbage(this.ctx, refs.released);
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

  private async latestRow(trx: Trx, bucket: Bucket, key: string): Promise<ObjectVersion> {
    const row = await trx
      .selectFrom('object_versions')
      .selectAll()
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', LATEST)
      .where('is_delete_marker', '=', NOT_DELETED)
      .executeTakeFirst();
    if (!row) throw errors.noSuchKey(key);
    return rowToVersion(row);
  }

  /** Replaces the tag set of the latest version in place (tagging creates no new version in S3). */
  async setTags(bucket: Bucket, key: string, tags: Record<string, string>): Promise<void> {
    validateKey(key);
    const res = await this.ctx.meta.data
      .updateTable('object_versions')
      .set({ tags: JSON.stringify(tags) })
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', LATEST)
      .where('is_delete_marker', '=', NOT_DELETED)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw errors.noSuchKey(key);
  }

  /** Sets the canned ACL of the latest version in place (as S3's PutObjectAcl does). */
  async setAcl(bucket: Bucket, key: string, acl: CannedAcl): Promise<void> {
    validateKey(key);
    const res = await this.ctx.meta.data
      .updateTable('object_versions')
      .set({ acl })
      .where('bucket_id', '=', bucket.id)
      .where('key', '=', key)
      .where('is_latest', '=', LATEST)
      .where('is_delete_marker', '=', NOT_DELETED)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw errors.noSuchKey(key);
  }

  async head(bucket: Bucket, key: string): Promise<ObjectVersion> {
    validateKey(key);
    return this.latestRow(this.ctx.meta.data, bucket, key);
  }

  /**
   * Opens the bytes [start, end] of a version. Every file is opened before
   * the first byte is sent; if one vanished (the object was overwritten and
   * its blob collected since we read the row) this returns null and the
   * caller re-reads the metadata.
   */
  async openBody(v: ObjectVersion, start: number, end: number, customerKey?: SseCustomerKey): Promise<Readable | null> {
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
    const replicas = this.ctx.replicas;
    let blobs = await replicas.lookup(this.ctx.meta.data, v.tenantId, hashes);
    if (pieces.some((p) => !blobs.has(p.hash))) return null;
    // Any row of a given hash holds the right bytes: if the one we looked up was collected
    // (the object was overwritten while we stream it), read whichever blob holds it now.
    const open = async (i: number): Promise<Readable | null> => {
      const { hash, from, to } = pieces[i];
      const stream = await replicas.open(blobs.get(hash)!, from, to, customerKey);
      if (stream || i === 0) return stream;
      blobs = new Map([...blobs, ...(await replicas.lookup(this.ctx.meta.data, v.tenantId, [hash]))]);
      return blobs.has(hash) ? replicas.open(blobs.get(hash)!, from, to, customerKey) : null;
    };
    // Each piece's bytes are checked by Replicas.open as they stream (a piece that is a whole
    // plaintext blob against its hash); a failed check errors the stream before its last chunk.
    // Only the first piece is opened before answering (no replica of it means the object
    // changed: the caller re-reads it); the others one at a time as the stream reaches them,
    // so an object of thousands of parts never holds thousands of open replicas.
    const first = await open(0);
    if (!first) return null;
    if (pieces.length === 1) return first;
    let pending: Readable | undefined = first;
    async function* concat() {
      try {
        for (let i = 0; i < pieces.length; i++) {
          const stream = i === 0 ? first! : await open(i);
          pending = undefined;
          if (!stream) throw new Error(`blob ${pieces[i].hash} vanished while the object was being read`);
          yield* stream;
        }
      } finally {
        pending?.destroy();
      }
    }
    const body = Readable.from(concat(), { objectMode: false });
    // Destroyed before the first read, the generator never runs its finally.
    body.once('close', () => pending?.destroy());
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
    await this.metadataWrite(() => withTransaction(this.ctx.meta.kind, this.ctx.meta.data, async (trx) => {
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
    }));
    await collectGarbage(this.ctx, refs.released);
  }
}

/**
 * A unique id for a write (intent, temp file, blob file suffix): a random
 * per-process prefix and a counter, unique across processes and restarts
 * without a random draw per write.
 */
const FILE_ID_PREFIX = crypto.randomBytes(9).toString('base64url');
let fileCounter = 0;
function newFileId(): string {
  return `${FILE_ID_PREFIX}${(fileCounter++).toString(36)}`;
}

export function newUploadId(): string {
  return crypto.randomBytes(24).toString('base64url');
}
