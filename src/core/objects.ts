/**
 * Objects: store, read, delete and list the latest version of keys. This is
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
import { setObjectAcl, setObjectTags } from './objects/metadata.js';
import { headObject, openBody } from './objects/read.js';
import { copyObject, type CopyOptions, deleteObjects, putObject, type PutOptions } from './objects/write.js';

export type { CannedAcl, ObjectAttributes, ObjectVersion } from '../meta/objects/types.js';
export type { ExpectedBody } from './objects/digests.js';
export { MAX_KEY_BYTES, newUploadId, validateKey, type WriteCondition } from './objects/keys.js';
export type { CopyOptions, PutOptions } from './objects/write.js';

export class ObjectService {
  constructor(private readonly ctx: CoreContext) {}

  /** Stores body as the latest version of key: stage → verify → commit (core/objects/write.ts). */
  put(bucket: Bucket, key: string, body: AsyncIterable<Buffer>, opts: PutOptions): Promise<ObjectVersion> {
    return putObject(this.ctx, bucket, key, body, opts);
  }

  /** Copies the latest version of srcKey to dstKey without copying bytes (see copyObject). */
  copy(src: Bucket, srcKey: string, dst: Bucket, dstKey: string, opts: CopyOptions): Promise<ObjectVersion> {
    return copyObject(this.ctx, src, srcKey, dst, dstKey, opts);
  }

  head(bucket: Bucket, key: string): Promise<ObjectVersion> {
    return headObject(this.ctx, bucket, key);
  }

  /** The bytes [start, end] of a version; null if the object changed under us (read it again). */
  openBody(v: ObjectVersion, start: number, end: number, customerKey?: SseCustomerKey): Promise<Readable | null> {
    return openBody(this.ctx, v, start, end, customerKey);
  }

  /** Deletes the latest version of key; deleting a missing key succeeds (S3 semantics). */
  async delete(bucket: Bucket, key: string): Promise<void> {
    validateKey(key);
    await deleteObjects(this.ctx, bucket, [key]);
  }

  /** Deletes several (validated) keys in one transaction. */
  deleteMany(bucket: Bucket, keys: string[]): Promise<void> {
    return deleteObjects(this.ctx, bucket, keys);
  }

  setTags(bucket: Bucket, key: string, tags: Record<string, string>): Promise<void> {
    return setObjectTags(this.ctx, bucket, key, tags);
  }

  setAcl(bucket: Bucket, key: string, acl: CannedAcl): Promise<void> {
    return setObjectAcl(this.ctx, bucket, key, acl);
  }
}
