/**
 * The change feed of a bucket as the admin API and `anvil events tail` show
 * it (core/events/feed.ts): one page of events after a cursor, dates as ISO
 * strings. Who may read it, and which keys, is the caller's check (`maySee`).
 */
import type { Bucket } from '../../core/buckets.js';
import { type FeedEvent, parseCursor } from '../../core/events/feed.js';
import { fail } from '../../errors.js';
import type { AdminServices } from '../deps.js';

export interface EventView {
  cursor: string;
  seq: number;
  name: string;
  time: string;
  bucket: string;
  branch: string;
  key?: string;
  versionId?: string;
  size?: number;
  etag?: string;
  detail?: Record<string, unknown>;
}

export type EventsPage = { gone?: undefined; events: EventView[]; cursor: string } | { gone: true; oldest: string };

export interface EventsQuery {
  branch: string;
  /** A cursor, `latest` (only what comes next), or nothing (from the oldest event kept). */
  after?: string;
  limit: number;
  /** Seconds to wait for an event when there is none. */
  waitSeconds: number;
  maySee?: (key: string | null) => boolean;
  signal?: AbortSignal;
}

export function eventView(e: FeedEvent): EventView {
  return { ...e, time: e.time.toISOString() };
}

/** A cursor as given by a client: a point, `latest`, or a 400. */
export function cursorArg(after: string | undefined) {
  if (after === undefined || after === '') return undefined;
  if (after === 'latest') return 'latest' as const;
  const point = parseCursor(after);
  if (!point)
    throw fail.invalid('InvalidArgument', `invalid cursor ${JSON.stringify(after)} (a cursor from the feed, like 42 or 42.1, or latest)`);
  return point;
}

export async function readEvents(s: AdminServices, bucket: Bucket, q: EventsQuery): Promise<EventsPage> {
  const after = cursorArg(q.after);
  const timeline = await s.events.timelineOf(bucket, q.branch);
  if (timeline === undefined) throw fail.notFound('NoSuchBranch', `Bucket ${bucket.name} has no branch ${q.branch}.`);
  const page = await s.events.read(
    {
      bucket,
      branch: q.branch,
      after,
      limit: q.limit,
      waitMs: q.waitSeconds * 1000,
      maySee: q.maySee ?? (() => true),
      signal: q.signal,
    },
    timeline,
  );
  if (page.gone) return page;
  return { events: page.events.map(eventView), cursor: page.cursor };
}
