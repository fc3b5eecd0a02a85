/**
 * Lists the latest versions of keys in UTF-8 byte order (the database's key
 * order: BINARY on SQLite, COLLATE "C" on PostgreSQL), rolling keys up into
 * common prefixes at the delimiter.
 *
 * Without a delimiter a page is one range scan of the covering listing index
 * (object_versions_listing: key, size, etag, created_at of live latest
 * versions), so no table row is read.
 *
 * With a delimiter the database walks the keys itself (a recursive query,
 * one index seek per entry of the page): from each key it seeks to the next
 * key, or past everything under the key's common prefix. A page of 1000
 * common prefixes costs 1000 seeks in one statement, however many keys each
 * folder holds, and a bucket with millions of keys in a few folders lists its
 * root in a handful of seeks (DESIGN.md pitfalls).
 */
import { sql, type Kysely } from 'kysely';
import type { DataSchema } from '../meta/schema.js';
import type { CoreContext } from './context.js';
import type { Bucket } from './buckets.js';
import { LATEST, NOT_DELETED, UNPREPARED } from '../meta/engine.js';

export interface ListQuery {
  prefix: string;
  delimiter: string;
  /** List keys strictly after this one (marker, start-after or continuation). */
  after: string;
  maxKeys: number;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListResult {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page starts. */
  lastEmitted?: string;
}

/**
 * The largest code point: every key starting with P sorts before P + MAX_CHAR
 * (in UTF-8 byte order), except keys containing it right after P; those are
 * met again and skipped below.
 */
const MAX_CHAR = '\u{10FFFF}';

/** The later of two keys in UTF-8 byte order (the database's order, not JavaScript's). */
function byteMax(a: string, b: string): string {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) >= 0 ? a : b;
}

interface Row {
  key: string;
  size: number | string | null;
  etag: string | null;
  created_at: number | string | null;
}

export class ListingService {
  constructor(private readonly ctx: CoreContext) {}

  async list(bucket: Bucket, q: ListQuery): Promise<ListResult> {
    const result: ListResult = { objects: [], commonPrefixes: [], isTruncated: false };
    if (q.maxKeys <= 0) return result;
    const commonPrefixOf = (key: string): string | undefined => {
      if (!q.delimiter) return undefined;
      const i = key.indexOf(q.delimiter, q.prefix.length);
      return i < 0 ? undefined : key.slice(0, i + q.delimiter.length);
    };
    // A page that ended on a common prefix resumes after everything under it.
    let lastPrefix = q.after.startsWith(q.prefix) ? commonPrefixOf(q.after) : undefined;
    let cursor = lastPrefix === q.after ? lastPrefix + MAX_CHAR : q.after;
    let emitted = 0;

    for (;;) {
      // One more than still wanted: the extra entry tells whether the listing is truncated.
      const want = q.maxKeys - emitted + 1;
      const rows = q.delimiter ? await this.walk(bucket, q, cursor, want) : await this.scan(bucket, q, cursor, want);
      for (const row of rows) {
        if (!row.key.startsWith(q.prefix)) return result;
        cursor = row.key;
        const prefix = commonPrefixOf(row.key);
        // Only a key with U+10FFFF right after an emitted prefix can come back to it.
        if (prefix !== undefined && prefix === lastPrefix) continue;
        if (emitted === q.maxKeys) {
          result.isTruncated = true;
          return result;
        }
        emitted++;
        if (prefix !== undefined) {
          result.commonPrefixes.push(prefix);
          result.lastEmitted = lastPrefix = prefix;
        } else {
          result.objects.push({
            key: row.key,
            size: Number(row.size),
            etag: row.etag!,
            lastModified: new Date(Number(row.created_at)),
          });
          result.lastEmitted = row.key;
        }
      }
      if (rows.length < want) return result;
      // Rows were skipped: go on after the last one, past its common prefix if it had one.
      if (lastPrefix !== undefined && cursor.startsWith(lastPrefix)) cursor = byteMax(cursor, lastPrefix + MAX_CHAR);
    }
  }

  /** Live latest versions with key > cursor, in key order. */
  private scan(bucket: Bucket, q: ListQuery, cursor: string, limit: number): Promise<Row[]> {
    let query = this.ctx.meta.data
      .selectFrom('object_versions')
      .select(['key', 'size', 'etag', 'created_at'])
      .where('bucket_id', '=', bucket.id)
      .where('is_latest', '=', LATEST)
      .where('is_delete_marker', '=', NOT_DELETED)
      .where('key', '>', cursor);
    // Always bound by the prefix: JS string order (UTF-16) is not the database's byte order.
    if (q.prefix) query = query.where('key', '>=', q.prefix);
    return query.orderBy('key').limit(limit).execute();
  }

  /**
   * The first `limit` entries after cursor as the database walks them: the
   * first live key after cursor, then from each key k the first live key
   * after k, or after k's common prefix + U+10FFFF when k has the delimiter
   * past the prefix. The walk stops at the first key outside the prefix.
   * Keys that are objects (no delimiter past the prefix) come with their
   * size, ETag and date; common-prefix keys come without.
   *
   * Lengths and positions are in characters on both engines (substr and
   * instr/strpos count characters of text), and so is plen.
   */
  private async walk(bucket: Bucket, q: ListQuery, cursor: string, limit: number): Promise<Row[]> {
    const pg = this.ctx.meta.kind === 'postgres';
    const plen = [...q.prefix].length;
    const dlen = [...q.delimiter].length;
    const db = this.ctx.meta.data as Kysely<DataSchema>;
    const int = (n: number) => (pg ? sql`${n}::int` : sql`${n}`);
    const find = (hay: ReturnType<typeof sql>) => (pg ? sql`strpos(${hay}, ${q.delimiter})` : sql`instr(${hay}, ${q.delimiter})`);
    const rest = (k: ReturnType<typeof sql>) => sql`substr(${k}, ${int(plen)} + 1)`;
    const live = sql`bucket_id = ${bucket.id} AND is_latest = 1 AND is_delete_marker = 0`;
    // Past k's common prefix, or past k itself: the greater of the two, so a key with U+10FFFF
    // right after its prefix (which sorts after prefix + U+10FFFF) cannot be met twice.
    const past = sql`substr(walk.k, 1, ${int(plen)} + ${find(rest(sql`walk.k`))} + ${int(dlen)} - 1) || ${MAX_CHAR}`;
    const next = sql`CASE WHEN ${find(rest(sql`walk.k`))} > 0 THEN ${pg ? sql`GREATEST(${past}, walk.k)` : sql`max(${past}, walk.k)`} ELSE walk.k END`;
    const first = q.prefix
      ? sql`SELECT key FROM object_versions WHERE ${live} AND key > ${cursor} AND key >= ${q.prefix} ORDER BY key LIMIT 1`
      : sql`SELECT key FROM object_versions WHERE ${live} AND key > ${cursor} ORDER BY key LIMIT 1`;
    // Planned with its values each time: a generic plan, not knowing the limit, evaluated the
    // whole walk (every folder of the bucket) before joining.
    // n numbers the steps: the page is returned in walk order (see `query` below).
    const walk = sql`${sql.raw(UNPREPARED)} WITH RECURSIVE walk(k, n) AS (
        SELECT (${first}), 1
        UNION ALL
        SELECT (SELECT key FROM object_versions WHERE ${live} AND key > ${next} ORDER BY key LIMIT 1), walk.n + 1
        FROM walk WHERE walk.k IS NOT NULL AND substr(walk.k, 1, ${int(plen)}) = ${q.prefix}
      )`;
    const isObject = sql`${find(rest(sql`w.k`))} = 0`;
    const page = sql`(SELECT k, n FROM walk WHERE k IS NOT NULL LIMIT ${sql.lit(limit)}) w`;
    // PostgreSQL: a lateral subquery whose object test is a one-time filter, so common-prefix
    // keys cost no lookup; SQLite evaluates the outer-only ON term before its seek.
    // ORDER BY w.n: a join keeps no order of its own. Once a small bucket's statistics were
    // analysed, PostgreSQL pulled the lateral subquery up into a hash right join that returned
    // the objects in heap order and the common prefixes last, and list() (which resumes from the
    // last row and stops at the first key outside the prefix) skipped and repeated entries.
    // Sorting the page (at most max-keys + 1 rows) costs nothing next to the walk.
    const query = pg
      ? sql<Row>`${walk} SELECT w.k AS key, o.size, o.etag, o.created_at FROM ${page}
          LEFT JOIN LATERAL (SELECT size, etag, created_at FROM object_versions
            WHERE ${isObject} AND ${live} AND key = w.k) o ON true ORDER BY w.n`
      : sql<Row>`${walk} SELECT w.k AS key, o.size, o.etag, o.created_at FROM ${page}
          LEFT JOIN object_versions o ON ${isObject} AND o.bucket_id = ${bucket.id} AND o.key = w.k
            AND o.is_latest = 1 AND o.is_delete_marker = 0 ORDER BY w.n`;
    return (await query.execute(db)).rows;
  }
}
