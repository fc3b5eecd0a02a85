/**
 * The two statements of a listing page (core/listing.ts drives them): a
 * range scan of the covering listing index (object_versions_listing: key,
 * size, etag, created_at of live latest versions) without a delimiter, and
 * with one a recursive walk in which the database seeks from each key to
 * the next key, or past everything under the key's common prefix. The walk
 * is written once with the few engine differences (strpos/instr,
 * GREATEST/max, a lateral join) picked inline.
 */
import { sql } from 'kysely';

import { LATEST, NOT_DELETED, UNPREPARED } from '../engine.js';
import { type DataDb, engineOf } from '../handles.js';
import type { VersionRow } from './types.js';

export interface ListingRow {
  key: string;
  size: number | string | null;
  etag: string | null;
  created_at: number | string | null;
}

/**
 * The largest code point: every key starting with P sorts before P + MAX_CHAR
 * (in UTF-8 byte order), except keys containing it right after P.
 */
export const MAX_CHAR = '\u{10FFFF}';

/** Live latest versions with key > cursor (and >= prefix), in key order. */
export function scanLatest(db: DataDb, bucketId: string, prefix: string, cursor: string, limit: number): Promise<ListingRow[]> {
  let query = db
    .selectFrom('object_versions')
    .select(['key', 'size', 'etag', 'created_at'])
    .where('bucket_id', '=', bucketId)
    .where('is_latest', '=', LATEST)
    .where('is_delete_marker', '=', NOT_DELETED)
    .where('key', '>', cursor);
  // Always bound by the prefix: JS string order (UTF-16) is not the database's byte order.
  if (prefix) query = query.where('key', '>=', prefix);
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
export async function walkLatest(
  db: DataDb,
  bucketId: string,
  q: { prefix: string; delimiter: string },
  cursor: string,
  limit: number,
  /** 'all': walk the keys that have any version (ListObjectVersions), returning keys only. */
  scope: 'latest' | 'all' = 'latest',
): Promise<ListingRow[]> {
  const pg = engineOf(db) === 'postgres';
  const plen = [...q.prefix].length;
  const dlen = [...q.delimiter].length;
  const int = (n: number) => (pg ? sql`${n}::int` : sql`${n}`);
  const find = (hay: ReturnType<typeof sql>) => (pg ? sql`strpos(${hay}, ${q.delimiter})` : sql`instr(${hay}, ${q.delimiter})`);
  const rest = (k: ReturnType<typeof sql>) => sql`substr(${k}, ${int(plen)} + 1)`;
  const live = scope === 'all' ? sql`bucket_id = ${bucketId}` : sql`bucket_id = ${bucketId} AND is_latest = 1 AND is_delete_marker = 0`;
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
  if (scope === 'all') {
    return (
      await sql<ListingRow>`${walk} SELECT w.k AS key, NULL AS size, NULL AS etag, NULL AS created_at FROM ${page} ORDER BY w.n`.execute(db)
    ).rows;
  }
  // PostgreSQL: a lateral subquery whose object test is a one-time filter, so common-prefix
  // keys cost no lookup; SQLite evaluates the outer-only ON term before its seek.
  // ORDER BY w.n: a join keeps no order of its own. Once a small bucket's statistics were
  // analysed, PostgreSQL pulled the lateral subquery up into a hash right join that returned
  // the objects in heap order and the common prefixes last, and list() (which resumes from the
  // last row and stops at the first key outside the prefix) skipped and repeated entries.
  // Sorting the page (at most max-keys + 1 rows) costs nothing next to the walk.
  const query = pg
    ? sql<ListingRow>`${walk} SELECT w.k AS key, o.size, o.etag, o.created_at FROM ${page}
        LEFT JOIN LATERAL (SELECT size, etag, created_at FROM object_versions
          WHERE ${isObject} AND ${live} AND key = w.k) o ON true ORDER BY w.n`
    : sql<ListingRow>`${walk} SELECT w.k AS key, o.size, o.etag, o.created_at FROM ${page}
        LEFT JOIN object_versions o ON ${isObject} AND o.bucket_id = ${bucketId} AND o.key = w.k
          AND o.is_latest = 1 AND o.is_delete_marker = 0 ORDER BY w.n`;
  return (await query.execute(db)).rows;
}

/** What a ListObjectVersions entry shows: the columns object_versions_newest covers. */
const VERSION_LISTING = ['key', 'seq', 'version_id', 'is_latest', 'is_delete_marker', 'size', 'etag', 'created_at'] as const;
export type VersionListingRow = Pick<VersionRow, (typeof VERSION_LISTING)[number]>;

/**
 * Versions of keys after `afterKey` (>= prefix), each key's newest first:
 * one range scan of object_versions_newest (bucket_id, key, seq DESC).
 */
export function scanVersions(db: DataDb, bucketId: string, prefix: string, afterKey: string, limit: number): Promise<VersionListingRow[]> {
  let query = db.selectFrom('object_versions').select(VERSION_LISTING).where('bucket_id', '=', bucketId).where('key', '>', afterKey);
  if (prefix) query = query.where('key', '>=', prefix);
  return query.orderBy('key').orderBy('seq', 'desc').limit(limit).execute();
}

/** One key's versions older than `beforeSeq` (all without it), newest first. */
export function versionsOfKey(
  db: DataDb,
  bucketId: string,
  key: string,
  beforeSeq: number | undefined,
  limit: number,
): Promise<VersionListingRow[]> {
  let query = db.selectFrom('object_versions').select(VERSION_LISTING).where('bucket_id', '=', bucketId).where('key', '=', key);
  if (beforeSeq !== undefined) query = query.where('seq', '<', beforeSeq);
  return query.orderBy('seq', 'desc').limit(limit).execute();
}
