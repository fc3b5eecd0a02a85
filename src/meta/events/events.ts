/**
 * The change sequence's rows (migration 013): written inside the
 * transaction of the change they describe, read in key order by the change
 * feed, removed by the retention job. Each takes the handle first: a
 * database or the caller's transaction.
 */
import type { Selectable } from 'kysely';

import type { DataDb } from '../handles.js';
import type { BucketEventTable } from '../schema.js';

export type EventRow = Selectable<BucketEventTable>;

/** A point of a timeline's sequence: events after it are (seq, sub) greater. */
export interface EventPoint {
  seq: number;
  sub: number;
}

export async function insertEvent(db: DataDb, row: BucketEventTable): Promise<void> {
  await db.insertInto('bucket_events').values(row).execute();
}

/**
 * Locks the timeline's state row (the lock every writer of it takes with its
 * seq) without taking a seq, and returns its last seq: an event recorded
 * under it sorts after every change committed before and before every change
 * that commits after. Undefined: the timeline is gone.
 */
export async function lockTimeline(db: DataDb, timelineId: string): Promise<number | undefined> {
  const row = await db
    .updateTable('bucket_state')
    .set((eb) => ({ last_seq: eb.ref('last_seq') }))
    .where('bucket_id', '=', timelineId)
    .returning('last_seq')
    .executeTakeFirst();
  return row ? Number(row.last_seq) : undefined;
}

/** The next free sub at a seq for a bucket-level event (1 and up: 0 is the change that took the seq). */
export async function nextSub(db: DataDb, timelineId: string, seq: number): Promise<number> {
  const row = await db
    .selectFrom('bucket_events')
    .select((eb) => eb.fn.max('sub').as('sub'))
    .where('timeline_id', '=', timelineId)
    .where('seq', '=', seq)
    .executeTakeFirst();
  return Math.max(1, Number(row?.sub ?? 0) + 1);
}

/** Up to `limit` events of the timeline after `after`, in sequence order. */
export async function eventsAfter(db: DataDb, timelineId: string, after: EventPoint, limit: number): Promise<EventRow[]> {
  const rows = await db
    .selectFrom('bucket_events')
    .selectAll()
    .where('timeline_id', '=', timelineId)
    .where((eb) => eb.or([eb('seq', '>', after.seq), eb.and([eb('seq', '=', after.seq), eb('sub', '>', after.sub)])]))
    .orderBy('seq')
    .orderBy('sub')
    .limit(limit)
    .execute();
  return rows.map(normalise);
}

/** The timeline's newest event, if any. */
export async function newestEvent(db: DataDb, timelineId: string): Promise<EventPoint | undefined> {
  const row = await db
    .selectFrom('bucket_events')
    .select(['seq', 'sub'])
    .where('timeline_id', '=', timelineId)
    .orderBy('seq', 'desc')
    .orderBy('sub', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && { seq: Number(row.seq), sub: Number(row.sub) };
}

/** The last event the retention job removed from the timeline, if any. */
export async function horizonOf(db: DataDb, timelineId: string): Promise<EventPoint | undefined> {
  const row = await db.selectFrom('event_horizons').select(['seq', 'sub']).where('timeline_id', '=', timelineId).executeTakeFirst();
  return row && { seq: Number(row.seq), sub: Number(row.sub) };
}

/** Timelines holding events created before `cutoff` (at most `limit`). */
export async function timelinesWithEventsBefore(db: DataDb, cutoff: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('bucket_events')
    .select('timeline_id')
    .distinct()
    .where('created_at', '<', cutoff)
    .limit(limit)
    .execute();
  return rows.map((r) => r.timeline_id);
}

/**
 * Removes a timeline's events created before `cutoff` and moves its horizon
 * up to the newest of them (in the caller's transaction, so a reader sees
 * both or neither). Returns how many went.
 */
export async function pruneTimeline(db: DataDb, timelineId: string, cutoff: number): Promise<number> {
  const last = await db
    .selectFrom('bucket_events')
    .select(['seq', 'sub'])
    .where('timeline_id', '=', timelineId)
    .where('created_at', '<', cutoff)
    .orderBy('seq', 'desc')
    .orderBy('sub', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!last) return 0;
  const point = { seq: Number(last.seq), sub: Number(last.sub) };
  const was = await horizonOf(db, timelineId);
  if (!was)
    await db
      .insertInto('event_horizons')
      .values({ timeline_id: timelineId, ...point })
      .execute();
  else if (point.seq > was.seq || (point.seq === was.seq && point.sub > was.sub)) {
    await db.updateTable('event_horizons').set(point).where('timeline_id', '=', timelineId).execute();
  }
  const res = await db
    .deleteFrom('bucket_events')
    .where('timeline_id', '=', timelineId)
    .where('created_at', '<', cutoff)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Horizons of timelines that no longer exist and hold no events (a deleted bucket or branch). */
export async function dropStaleHorizons(db: DataDb): Promise<void> {
  await db
    .deleteFrom('event_horizons')
    .where((eb) =>
      eb.and([
        eb.not(
          eb.exists(
            eb.selectFrom('bucket_state').select('bucket_id').whereRef('bucket_state.bucket_id', '=', 'event_horizons.timeline_id'),
          ),
        ),
        eb.not(
          eb.exists(eb.selectFrom('bucket_events').select('seq').whereRef('bucket_events.timeline_id', '=', 'event_horizons.timeline_id')),
        ),
      ]),
    )
    .execute();
}

/** Every event and the horizon of a timeline that is gone (a deleted branch). */
export async function dropTimelineEvents(db: DataDb, timelineId: string): Promise<void> {
  await db.deleteFrom('bucket_events').where('timeline_id', '=', timelineId).execute();
  await db.deleteFrom('event_horizons').where('timeline_id', '=', timelineId).execute();
}

/** Numbers come back as strings from PostgreSQL's bigint columns. */
function normalise(r: EventRow): EventRow {
  return {
    ...r,
    seq: Number(r.seq),
    sub: Number(r.sub),
    size: r.size === null ? null : Number(r.size),
    created_at: Number(r.created_at),
  };
}
