/** The read path: a key's latest version, and a stream of its bytes (or a range of them). */
import { Readable } from 'node:stream';

import type { SseCustomerKey } from '../../crypto/sse-c.js';
import type { Bucket } from '../../meta/buckets/types.js';
import type { ObjectVersion } from '../../meta/objects/types.js';
import { latestVersion } from '../../meta/objects/versions.js';
import type { CoreContext } from '../context.js';
import { validateKey } from './keys.js';
import { findVersion } from './versioning.js';

/**
 * The key's latest version, or the version named. It may be a delete
 * marker: the protocol layer answers for those (404 or 405 with the
 * marker's headers).
 */
export async function headObject(ctx: CoreContext, bucket: Bucket, key: string, versionId?: string): Promise<ObjectVersion> {
  validateKey(key);
  if (versionId === undefined && !bucket.view) {
    // The hot path: one seek on the latest live version; a miss may still be a delete marker.
    const v = await latestVersion(ctx.meta.data, bucket.id, key);
    if (v) return v;
  }
  return findVersion(ctx.meta.data, bucket, key, versionId);
}

/**
 * Opens the bytes [start, end] of a version. Every file is opened before
 * the first byte is sent; if one vanished (the object was overwritten and
 * its blob collected since we read the row) this returns null and the
 * caller re-reads the metadata.
 */
export async function openBody(
  ctx: CoreContext,
  v: ObjectVersion,
  start: number,
  end: number,
  customerKey?: SseCustomerKey,
): Promise<Readable | null> {
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
  let blobs = await ctx.blobs.lookup(ctx.meta.data, v.tenantId, hashes);
  if (pieces.some((p) => !blobs.has(p.hash))) return null;
  // Any row of a given hash holds the right bytes: if the one we looked up was collected
  // (the object was overwritten while we stream it), read whichever blob holds it now.
  const open = async (i: number): Promise<Readable | null> => {
    const { hash, from, to } = pieces[i];
    const stream = await ctx.blobs.read(blobs.get(hash)!, from, to, customerKey);
    if (stream || i === 0) return stream;
    blobs = new Map([...blobs, ...(await ctx.blobs.lookup(ctx.meta.data, v.tenantId, [hash]))]);
    return blobs.has(hash) ? ctx.blobs.read(blobs.get(hash)!, from, to, customerKey) : null;
  };
  // Each piece's bytes are checked by Blobs.read as they stream (a piece that is a whole
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
