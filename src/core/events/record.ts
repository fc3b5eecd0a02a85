/**
 * Recording the change sequence (ARCHITECTURE.md § Events): every mutation
 * of a timeline writes one event row in its own transaction, keyed by the
 * seq it took under the timeline's lock. So an event exists exactly when its
 * change committed, and it is durable when the change is acknowledged.
 */
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { insertEvent, lockTimeline, nextSub } from '../../meta/events/events.js';
import type { DataDb } from '../../meta/handles.js';
import type { EventName } from './names.js';
import { signalEvents } from './signal.js';

/** What an event says besides its name and point. */
export interface EventFields {
  key?: string;
  versionId?: string;
  size?: number;
  etag?: string;
  detail?: Record<string, unknown>;
}

/** The bucket's own id, whichever timeline `bucket` (maybe a branch alias) writes. */
function rootId(bucket: Bucket): string {
  return bucket.view?.bucketId ?? bucket.id;
}

/**
 * Records the event of a change that took `seq` on a timeline (in the same
 * transaction, after taking it: the lock is held): bucket.id's (the bucket,
 * or the branch its alias addresses), or `timelineId`, a branch of `bucket`.
 */
export async function recordEvent(
  trx: DataDb,
  bucket: Bucket,
  seq: number,
  name: EventName,
  f: EventFields = {},
  timelineId = bucket.id,
): Promise<void> {
  await insertEvent(trx, {
    timeline_id: timelineId,
    seq,
    sub: 0,
    bucket_id: rootId(bucket),
    tenant_id: bucket.tenant_id,
    name,
    key: f.key ?? null,
    version_id: f.versionId ?? null,
    size: f.size ?? null,
    etag: f.etag ?? null,
    detail: f.detail ? JSON.stringify(f.detail) : null,
    created_at: Date.now(),
  });
  signalEvents(timelineId);
}

/**
 * Records an event that names a point of a timeline without changing its
 * objects (a branch or a tag made or deleted): under the timeline's lock, at
 * its last seq with the next sub, so it sorts after every change committed
 * before and before every later one, without moving the seq (which would
 * make the branch look changed since its last commit).
 */
export async function recordTimelineEvent(
  trx: DataDb,
  bucket: Bucket,
  timelineId: string,
  name: EventName,
  f: EventFields = {},
): Promise<void> {
  const seq = await lockTimeline(trx, timelineId);
  if (seq === undefined) throw fail.noSuchBucket(bucket.name);
  await insertEvent(trx, {
    timeline_id: timelineId,
    seq,
    sub: await nextSub(trx, timelineId, seq),
    bucket_id: rootId(bucket),
    tenant_id: bucket.tenant_id,
    name,
    key: f.key ?? null,
    version_id: null,
    size: null,
    etag: null,
    detail: f.detail ? JSON.stringify(f.detail) : null,
    created_at: Date.now(),
  });
  signalEvents(timelineId);
}
