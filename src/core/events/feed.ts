/**
 * The change feed: a timeline's events in sequence order from a cursor,
 * waiting for new ones, filtered by what the reader may see; and the
 * retention that prunes old ones.
 *
 * Why reading "everything after my cursor" misses nothing (ARCHITECTURE.md
 * § Events): every event is written under the lock on its timeline's state
 * row, taken with (or, for a branch or tag event, without moving) its seq,
 * and held until its transaction commits. A writer that takes seq 11 waits
 * for the one that took seq 10 to commit or roll back (PostgreSQL: the row
 * lock is released after the commit became visible; SQLite: one writer at a
 * time). So events become visible in sequence order, and a reader that saw
 * 11 already sees 10. A rolled-back writer leaves a gap, which no later
 * commit fills (seqs only grow). On SQLite a commit is visible up to one
 * group fsync before it is durable: the feed waits for the fsync before
 * answering, so no consumer ever holds a cursor a crash could take back.
 */
import { branchByName } from '../../meta/branches/branches.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { durableBarrier, withTransaction } from '../../meta/engine.js';
import {
  dropStaleHorizons,
  type EventPoint,
  type EventRow,
  eventsAfter,
  horizonOf,
  newestEvent,
  pruneTimeline,
  timelinesWithEventsBefore,
} from '../../meta/events/events.js';
import type { CoreContext } from '../context.js';
import { onEventHint } from './signal.js';

export type { EventPoint };

/** One event as the feed shows it. */
export interface FeedEvent {
  /** Resume after this event with `after=<cursor>`. */
  cursor: string;
  seq: number;
  name: string;
  time: Date;
  bucket: string;
  branch: string;
  key?: string;
  versionId?: string;
  size?: number;
  etag?: string;
  detail?: Record<string, unknown>;
}

export type FeedPage =
  | { gone?: undefined; events: FeedEvent[]; cursor: string }
  /** The cursor is older than the retention: events after it were pruned. */
  | { gone: true; oldest: string };

/** `12` (the change that took seq 12) or `12.1` (a branch or tag event recorded at seq 12). */
export function formatCursor(p: EventPoint): string {
  return p.sub === 0 ? String(p.seq) : `${p.seq}.${p.sub}`;
}

/** A cursor's point, or undefined if it is not one. */
export function parseCursor(text: string): EventPoint | undefined {
  const m = /^(\d{1,15})(?:\.(\d{1,9}))?$/.exec(text);
  if (!m) return undefined;
  return { seq: Number(m[1]), sub: m[2] === undefined ? 0 : Number(m[2]) };
}

function before(a: EventPoint, b: EventPoint): boolean {
  return a.seq < b.seq || (a.seq === b.seq && a.sub < b.sub);
}

export interface FeedRequest {
  /** The bucket itself (not an alias) and the branch whose feed is read. */
  bucket: Bucket;
  branch: string;
  /** Events after this point; undefined: from the oldest kept; 'latest': only events to come. */
  after: EventPoint | 'latest' | undefined;
  limit: number;
  /** How long to wait for an event when there is none (ms; 0: answer at once). */
  waitMs: number;
  /** Whether the reader may see events about this key (null: events about no key, a commit or a branch). */
  maySee(key: string | null): boolean;
  /** Ends a wait early (the client went away). */
  signal?: AbortSignal;
}

export interface EventFeedOptions {
  /** The clock the retention measures against (tests move it forward). */
  clock?: () => number;
  /** How often a waiting reader looks again without a hint (other nodes' writes). */
  pollMs?: number;
}

const PRUNE_TIMELINES_PER_RUN = 100;
/** After a hint, how long before looking again (the hinting transaction is committing). */
const HINT_DELAY_MS = 10;

export class EventFeed {
  readonly clock: () => number;
  private readonly pollMs: number;

  constructor(
    private readonly ctx: Pick<CoreContext, 'meta'>,
    opts: EventFeedOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.pollMs = opts.pollMs ?? 250;
  }

  /** The timeline a branch's feed reads; NotFound (undefined) if there is no such branch. */
  async timelineOf(bucket: Bucket, branch: string): Promise<string | undefined> {
    if (branch === 'main') return bucket.id;
    return (await branchByName(this.ctx.meta.data, bucket.id, branch))?.timeline_id;
  }

  /**
   * A page of the feed: the events after the cursor that the reader may see
   * (at most `limit` looked at), waiting up to `waitMs` while there are none.
   * The cursor returned is where to resume: past events filtered out, too.
   */
  async read(req: FeedRequest, timelineId: string): Promise<FeedPage> {
    const db = this.ctx.meta.data;
    let after: EventPoint;
    if (req.after === 'latest') after = (await newestEvent(db, timelineId)) ?? (await horizonOf(db, timelineId)) ?? { seq: 0, sub: 0 };
    else if (req.after === undefined) after = (await horizonOf(db, timelineId)) ?? { seq: 0, sub: 0 };
    else after = req.after;
    const explicit = req.after !== undefined && req.after !== 'latest';
    const deadline = Date.now() + req.waitMs;
    for (;;) {
      let hinted = false;
      let wake: (() => void) | undefined;
      const stop = onEventHint(timelineId, () => {
        hinted = true;
        wake?.();
      });
      try {
        const rows = await eventsAfter(db, timelineId, after, req.limit);
        // After the read: a prune that removed rows the read would have returned moved the horizon first.
        const horizon = await horizonOf(db, timelineId);
        if (explicit && horizon && before(after, horizon)) return { gone: true, oldest: formatCursor(horizon) };
        const events = rows.filter((r) => req.maySee(r.key)).map((r) => this.toFeed(r, req));
        if (rows.length > 0) after = { seq: rows[rows.length - 1].seq, sub: rows[rows.length - 1].sub };
        const left = deadline - Date.now();
        if (events.length > 0 || left <= 0 || req.signal?.aborted) {
          // Nothing is handed on that a crash could still take back (SQLite's group fsync).
          await durableBarrier(this.ctx.meta);
          return { events, cursor: formatCursor(after) };
        }
        if (rows.length === req.limit) continue;
        // Nothing yet: wait for a hint (a write of this process; its commit follows shortly),
        // the poll (other nodes' writes), the deadline or the client.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, hinted ? Math.min(HINT_DELAY_MS, left) : Math.min(this.pollMs, left));
          const onAbort = () => done();
          req.signal?.addEventListener('abort', onAbort, { once: true });
          function done() {
            clearTimeout(timer);
            req.signal?.removeEventListener('abort', onAbort);
            wake = undefined;
            resolve();
          }
          wake = () => setTimeout(done, HINT_DELAY_MS);
        });
      } finally {
        stop();
      }
    }
  }

  private toFeed(r: EventRow, req: FeedRequest): FeedEvent {
    return {
      cursor: formatCursor(r),
      seq: r.seq,
      name: r.name,
      time: new Date(r.created_at),
      bucket: req.bucket.name,
      branch: req.branch,
      ...(r.key === null ? {} : { key: r.key }),
      ...(r.version_id === null ? {} : { versionId: r.version_id }),
      ...(r.size === null ? {} : { size: r.size }),
      ...(r.etag === null ? {} : { etag: r.etag }),
      ...(r.detail === null ? {} : { detail: JSON.parse(r.detail) as Record<string, unknown> }),
    };
  }

  /**
   * Removes events older than `retentionMs` (by this feed's clock), a bounded
   * number of timelines per run, each in one transaction with its horizon.
   * Returns how many events went.
   */
  async prune(retentionMs: number): Promise<number> {
    const { meta } = this.ctx;
    const cutoff = this.clock() - retentionMs;
    let removed = 0;
    for (const timelineId of await timelinesWithEventsBefore(meta.data, cutoff, PRUNE_TIMELINES_PER_RUN)) {
      removed += await withTransaction(meta.kind, meta.data, (trx) => pruneTimeline(trx, timelineId, cutoff));
    }
    await dropStaleHorizons(meta.data);
    return removed;
  }
}
