/** The change feed from tests: JSON pages, long polls and Server-Sent Events over the admin API, signed like any client. */
import type { TestAnvil } from './anvil.js';
import { signedFetch } from './signed-fetch.js';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface FeedEventJson {
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

export async function adminApi(
  t: TestAnvil,
  method: string,
  pathAndQuery: string,
  body?: unknown,
  opts: { creds?: Creds; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: any }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${pathAndQuery}`, {
    creds: opts.creds,
    body: text,
    headers: { ...(text === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
  });
  const out = await res.text();
  return { status: res.status, json: out ? JSON.parse(out) : undefined };
}

/** One page of a bucket's feed. */
export async function feed(
  t: TestAnvil,
  bucket: string,
  q: { after?: string; branch?: string; limit?: number; wait?: number } = {},
  creds?: Creds,
): Promise<{ status: number; json: any; events: FeedEventJson[]; cursor: string }> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  const res = await adminApi(t, 'GET', `/buckets/${bucket}/events${qs ? `?${qs}` : ''}`, undefined, { creds });
  return { status: res.status, json: res.json, events: res.json?.events ?? [], cursor: res.json?.cursor };
}

/** Every event of the feed after `after` that exists now (pages through). */
export async function allEvents(t: TestAnvil, bucket: string, after?: string, branch?: string): Promise<FeedEventJson[]> {
  const out: FeedEventJson[] = [];
  let cursor = after;
  for (;;) {
    const page = await feed(t, bucket, { after: cursor, branch, limit: 1000 });
    if (page.status !== 200) throw new Error(`feed answered ${page.status}: ${JSON.stringify(page.json)}`);
    out.push(...page.events);
    if (page.events.length === 0 || page.cursor === cursor) return out;
    cursor = page.cursor;
  }
}

/** The feed's current end (a cursor after every event so far). */
export async function feedEnd(t: TestAnvil, bucket: string, branch?: string): Promise<string> {
  const page = await feed(t, bucket, { after: 'latest', branch });
  if (page.status !== 200) throw new Error(`feed answered ${page.status}`);
  return page.cursor;
}

/**
 * Reads Server-Sent Events until `count` events arrived (or the server
 * ended the stream), then closes the connection.
 */
export async function sseEvents(
  t: TestAnvil,
  bucket: string,
  count: number,
  opts: { lastEventId?: string; query?: string; creds?: Creds } = {},
): Promise<{ status: number; events: Array<{ id?: string; event?: string; data: any }> }> {
  const res = await signedFetch(t, 'GET', `${t.endpoint}/admin/v1/buckets/${bucket}/events${opts.query ?? ''}`, {
    creds: opts.creds,
    headers: { accept: 'text/event-stream', ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}) },
  });
  const events: Array<{ id?: string; event?: string; data: any }> = [];
  if (res.status !== 200 || !res.body) return { status: res.status, events };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':') || !line.includes(':')) continue;
          const at = line.indexOf(':');
          fields[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, '');
        }
        if (fields.data !== undefined) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return { status: res.status, events: events.slice(0, count) };
}
