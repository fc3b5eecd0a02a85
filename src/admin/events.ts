/**
 * The change feed of a bucket (core/events/): GET
 * /admin/v1/buckets/:bucket/events, as JSON pages (with a long poll) or as
 * Server-Sent Events. Reading it needs the list action somewhere in the
 * bucket; each event about a key is shown only to a caller that may list
 * that key (events about no key, commits and branches, to one that may list
 * the whole bucket), so a feed never names what a listing would hide.
 */
import type http from 'node:http';

import { z } from 'zod';

import type { Bucket } from '../core/buckets.js';
import { isAdminOf, visibleBucket } from './access.js';
import type { Principal } from './auth.js';
import type { AdminDeps } from './deps.js';
import { adminErrors, toAdminError } from './errors.js';
import { type EventsPage, readEvents } from './ops/events.js';
import { route, Streamed } from './route.js';

const Event = z
  .object({
    cursor: z.string().describe('resume after this event with after=<cursor> (or Last-Event-ID)'),
    seq: z.number().int().describe("the branch's sequence number of the change"),
    name: z.string().describe('s3:ObjectCreated:Put, s3:ObjectRemoved:DeleteMarkerCreated, anvil:Commit:Created, …'),
    time: z.string(),
    bucket: z.string(),
    branch: z.string(),
    key: z.string().optional(),
    versionId: z.string().optional(),
    size: z.number().int().optional(),
    etag: z.string().optional(),
    detail: z.record(z.string(), z.unknown()).optional().describe('what else the event says (a commit, an ACL, a retention)'),
  })
  .meta({ id: 'Event' });
const EventPage = z
  .object({
    events: z.array(Event),
    cursor: z.string().describe('where to resume: after the last event looked at (events hidden from the caller included)'),
  })
  .meta({ id: 'EventPage' });
const EventsQuery = z.object({
  branch: z.string().min(1).max(63).default('main').describe("the branch whose feed to read (main: the bucket's own)"),
  after: z
    .string()
    .max(40)
    .optional()
    .describe('a cursor: events after it; `latest`: only events to come; absent: from the oldest event kept'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  wait: z.coerce.number().min(0).max(60).default(0).describe('seconds to wait for an event when there is none (long poll)'),
});

/** May the caller read the feed at all: the list action on the bucket, or on a part of it (then filtered per key). */
function requireFeedAccess(p: Principal, bucket: Bucket, branch: string): void {
  if (isAdminOf(p, bucket.tenant_id)) return;
  const names = branch === 'main' ? [bucket.name] : [bucket.name, `${bucket.name}--${branch}`];
  if (names.some((n) => p.permissions.allowsSomewhereIn('list', n))) return;
  throw adminErrors.forbidden(`reading the events of ${bucket.name} needs the list action on it`);
}

/**
 * Which events the caller sees: about a key, if it may list that key (on the
 * bucket, or for a branch on its alias too; a deny on the bucket holds on
 * its branches); about no key, if it may list the whole bucket.
 */
function eventFilter(p: Principal, bucket: Bucket, branch: string): (key: string | null) => boolean {
  if (isAdminOf(p, bucket.tenant_id) || p.permissions.unrestricted) return () => true;
  const perms = p.permissions;
  const names = branch === 'main' ? [bucket.name] : [bucket.name, `${bucket.name}--${branch}`];
  return (key) => {
    if (key === null) {
      return (
        names.some((n) => perms.allows('list', { kind: 'bucket', bucket: n })) &&
        !perms.denies('list', { kind: 'bucket', bucket: bucket.name })
      );
    }
    return (
      names.some((n) => perms.allows('list', { kind: 'prefix', bucket: n, prefix: key })) &&
      !perms.denies('list', { kind: 'prefix', bucket: bucket.name, prefix: key })
    );
  };
}

/** Aborts when the client goes away or the server shuts down. */
function requestSignal(req: http.IncomingMessage, res: http.ServerResponse, closing: AbortSignal | undefined): AbortSignal {
  const ac = new AbortController();
  const abort = () => ac.abort();
  if (closing?.aborted) ac.abort();
  else closing?.addEventListener('abort', abort, { once: true });
  // The server's signal outlives the request: its listener goes with the answer.
  res.once('close', () => {
    closing?.removeEventListener('abort', abort);
    abort();
  });
  req.once('aborted', abort);
  return ac.signal;
}

function gone(oldest: string) {
  return adminErrors.gone(`events after this cursor were pruned (older than the retention); the oldest cursor available is ${oldest}`, {
    oldestCursor: oldest,
  });
}

/** How long one wait of a stream lasts before a keep-alive comment. */
const STREAM_WAIT_SECONDS = 15;

/** Server-Sent Events: `id:` is the cursor, `data:` the event as JSON; a pruned cursor mid-stream ends it with `event: gone`. */
function stream(deps: AdminDeps, bucket: Bucket, first: EventsPage & { gone?: undefined }, query: Parameters<typeof readEvents>[2]) {
  return new Streamed(async (res) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    let page: EventsPage = first;
    let after = first.cursor;
    try {
      for (;;) {
        if (page.gone) {
          res.write(`event: gone\ndata: ${JSON.stringify({ oldestCursor: page.oldest })}\n\n`);
          break;
        }
        for (const e of page.events) res.write(`id: ${e.cursor}\ndata: ${JSON.stringify(e)}\n\n`);
        // Past events hidden from the caller too: a reconnect resumes there (an id with no data moves Last-Event-ID).
        if (page.events.length === 0 && page.cursor !== after) res.write(`id: ${page.cursor}\n\n`);
        else if (page.events.length === 0) res.write(': keep-alive\n\n');
        after = page.cursor;
        if (query.signal?.aborted) break;
        page = await readEvents(deps, bucket, { ...query, after, waitSeconds: STREAM_WAIT_SECONDS });
      }
    } catch (err) {
      const e = toAdminError(err);
      if (e.status >= 500) deps.log.error({ err }, 'event stream failed');
      else res.write(`event: error\ndata: ${JSON.stringify(e.toJSON())}\n\n`);
    }
    res.end();
  });
}

export const eventRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/buckets/:bucket/events',
    tag: 'events',
    summary:
      "A bucket's (or branch's) change feed in sequence order from a cursor; `wait` long-polls; `Accept: text/event-stream` streams Server-Sent Events (Last-Event-ID resumes)",
    access: 'root; tenant admin of the owner; others with the list action in the bucket (events about keys they may not list are left out)',
    auth: 'any',
    query: EventsQuery,
    response: EventPage,
    otherStatuses: [
      { status: 410, description: 'Gone: the cursor is older than the retention (error.oldestCursor is the oldest available)' },
    ],
    async handle({ principal, params, query, req, res, deps }) {
      const bucket = await visibleBucket(principal, params.bucket, deps);
      if (bucket.view)
        throw adminErrors.invalid(`${params.bucket} is an alias of bucket ${bucket.view.bucketName}: name the bucket (and ?branch=)`);
      requireFeedAccess(principal, bucket, query.branch);
      const sse = /\btext\/event-stream\b/i.test(req.headers.accept ?? '');
      const lastEventId = req.headers['last-event-id'];
      const after = sse && typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : query.after;
      const signal = requestSignal(req, res, deps.closing);
      const q = {
        branch: query.branch,
        after,
        limit: query.limit,
        waitSeconds: query.wait,
        maySee: eventFilter(principal, bucket, query.branch),
        signal,
      };
      // The first page before any header: a bad cursor, a missing branch or a pruned cursor is a JSON error.
      const first = await readEvents(deps, bucket, sse ? { ...q, waitSeconds: 0 } : q);
      if (first.gone) throw gone(first.oldest);
      return sse ? stream(deps, bucket, first, q) : first;
    },
  }),
];
