/**
 * Objects: store, read, delete and list versions of keys. This is
 * the service the protocol layer calls; the work is done in core/objects/:
 *
 *   keys.ts        key rules, write conditions, ids
 *   stage.ts       1. stage a body (hash, encrypt) under a write intent
 *   digests.ts     2. verify what the client promised about it
 *   commit.ts      3. commit it in one transaction (dedup, GC races, cleanup)
 *   latest.ts      the latest-version bookkeeping inside that transaction
 *   write.ts       PUT, copy and delete, built from the steps above
 *   read.ts        HEAD and the body stream
 *   metadata.ts    tags and ACLs changed in place
 *   encryption.ts  every SSE-C / SSE-S3 decision
 *   versioning.ts  what writes and deletes do to a versioning bucket's history
 *   retention.ts   Object Lock: retention and legal hold of a version
 *   list-versions.ts  ListObjectVersions pages
 *
 * Bodies are staged (streamed, hashed, fsynced) before one short metadata
 * transaction makes them visible; no I/O happens inside a transaction. The
 * SQL lives in meta/objects/.
 */
import type { Readable } from 'node:stream';

import type { SseCustomerKey } from '../crypto/sse-c.js';
import type { Bucket } from '../meta/buckets/types.js';
import type { CannedAcl, ObjectVersion } from '../meta/objects/types.js';
import type { CoreContext } from './context.js';
import { validateKey } from './objects/keys.js';
import type { DeleteTarget } from './objects/latest.js';
import { listVersions, type VersionListQuery, type VersionListResult } from './objects/list-versions.js';
import { setObjectAcl, setObjectTags } from './objects/metadata.js';
import { headObject, openBody } from './objects/read.js';
import { type Retention, setLegalHold, setRetention } from './objects/retention.js';
import type { DeleteOutcome } from './objects/versioning.js';
import { copyObject, type CopyOptions, deleteObjects, type DeleteResult, putObject, type PutOptions } from './objects/write.js';

export type { CannedAcl, LockMode, ObjectAttributes, ObjectVersion, VersionLock } from '../meta/objects/types.js';
export type { ExpectedBody } from './objects/digests.js';
export { MAX_KEY_BYTES, newUploadId, validateKey, type WriteCondition } from './objects/keys.js';
export type { DeleteTarget } from './objects/latest.js';
export type { VersionEntry, VersionListQuery, VersionListResult } from './objects/list-versions.js';
export type { Retention } from './objects/retention.js';
export type { DeleteOutcome } from './objects/versioning.js';
export { isVersionIdSyntax, type Versioning, versioningOf } from './objects/versioning.js';
export type { CopyOptions, DeleteResult, PutOptions } from './objects/write.js';

export class ObjectService {
  constructor(private readonly ctx: CoreContext) {}

  /** Stores body as the latest version of key: stage → verify → commit (core/objects/write.ts). */
  put(bucket: Bucket, key: string, body: AsyncIterable<Buffer>, opts: PutOptions): Promise<ObjectVersion> {
    return putObject(this.ctx, bucket, key, body, opts);
  }

  /** Copies a version of srcKey (the latest unless named) to dstKey without copying bytes (see copyObject). */
  copy(src: Bucket, srcKey: string, dst: Bucket, dstKey: string, opts: CopyOptions): Promise<ObjectVersion & { sourceVersionId: string }> {
    return copyObject(this.ctx, src, srcKey, dst, dstKey, opts);
  }

  /** The latest version of key or the version named; it may be a delete marker (see headObject). */
  head(bucket: Bucket, key: string, versionId?: string): Promise<ObjectVersion> {
    return headObject(this.ctx, bucket, key, versionId);
  }

  /** The bytes [start, end] of a version; null if the object changed under us (read it again). */
  openBody(v: ObjectVersion, start: number, end: number, customerKey?: SseCustomerKey): Promise<Readable | null> {
    return openBody(this.ctx, v, start, end, customerKey);
  }

  /**
   * Deletes key (a versioning bucket gets a delete marker) or, with a
   * version id, that version for good; deleting what is missing succeeds
   * (S3 semantics). Object Lock refusals are thrown.
   */
  async delete(bucket: Bucket, target: DeleteTarget, opts: { bypassGovernance?: boolean } = {}): Promise<DeleteOutcome> {
    validateKey(target.key);
    const [result] = await deleteObjects(this.ctx, bucket, [target], opts);
    if ('error' in result) throw result.error;
    return result;
  }

  /** Deletes several (validated) targets in one transaction; each result says what happened to its target. */
  deleteMany(bucket: Bucket, targets: DeleteTarget[], opts: { bypassGovernance?: boolean } = {}): Promise<DeleteResult[]> {
    return deleteObjects(this.ctx, bucket, targets, opts);
  }

  /** Replaces the tag set of a version (the latest unless named) in place; returns the version changed. */
  setTags(bucket: Bucket, key: string, tags: Record<string, string>, versionId?: string): Promise<ObjectVersion> {
    return setObjectTags(this.ctx, bucket, key, tags, versionId);
  }

  setAcl(bucket: Bucket, key: string, acl: CannedAcl, versionId?: string): Promise<ObjectVersion> {
    return setObjectAcl(this.ctx, bucket, key, acl, versionId);
  }

  /** Object Lock: sets a version's retention (the rules of lengthening and shortening are checked here). */
  setRetention(bucket: Bucket, key: string, versionId: string | undefined, retention: Retention, bypassGovernance: boolean) {
    return setRetention(this.ctx, bucket, key, versionId, retention, bypassGovernance);
  }

  setLegalHold(bucket: Bucket, key: string, versionId: string | undefined, on: boolean) {
    return setLegalHold(this.ctx, bucket, key, versionId, on);
  }

  /** A page of the bucket's versions and delete markers (ListObjectVersions). */
  listVersions(bucket: Bucket, q: VersionListQuery): Promise<VersionListResult> {
    return listVersions(this.ctx, bucket, q);
  }
}
