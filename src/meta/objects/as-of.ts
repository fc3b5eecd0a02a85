/**
 * Reads of a timeline as of a sequence number (a branch's ancestors up to
 * its fork point, a commit, a tag): what core/branches/read.ts merges level
 * by level. A key's newest row at or below a ceiling is one seek of
 * object_versions_newest (bucket_id, key, seq DESC): O(log n) in the
 * number of versions, never a scan of history.
 */
import { sql } from 'kysely';

import { LATEST } from '../engine.js';
import { type DataDb, engineOf } from '../handles.js';
import type { VersionRow } from './types.js';

/** The key's newest row on the timeline with seq <= ceiling (a delete marker included). */
export function rowAsOf(db: DataDb, timelineId: string, key: string, ceiling: number): Promise<VersionRow | undefined> {
  return db
    .selectFrom('object_versions')
    .selectAll()
    .where('bucket_id', '=', timelineId)
    .where('key', '=', key)
    .where('seq', '<=', ceiling)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** What a listing needs of a key's visible row on one level. */
export interface LevelRow {
  key: string;
  size: number | string;
  etag: string;
  created_at: number | string;
  is_delete_marker: number | string;
}

/** The latest rows (delete markers included) with key > cursor (and >= prefix), in key order. */
export function scanHeadRows(db: DataDb, timelineId: string, prefix: string, cursor: string, limit: number): Promise<LevelRow[]> {
  let q = db
    .selectFrom('object_versions')
    .select(['key', 'size', 'etag', 'created_at', 'is_delete_marker'])
    .where('bucket_id', '=', timelineId)
    .where('is_latest', '=', LATEST)
    .where('key', '>', cursor);
  if (prefix) q = q.where('key', '>=', prefix);
  return q.orderBy('key').limit(limit).execute();
}

/**
 * Each key's newest row with seq <= ceiling (delete markers included), keys
 * > cursor (and >= prefix), in key order. One ordered pass over the
 * (bucket_id, key, seq DESC) index: PostgreSQL keeps the first row of each
 * key (DISTINCT ON), SQLite the row of the largest seq per group (a bare
 * column beside max() comes from that row).
 */
export async function scanRowsAsOf(
  db: DataDb,
  timelineId: string,
  prefix: string,
  cursor: string,
  ceiling: number,
  limit: number,
): Promise<LevelRow[]> {
  const lower = prefix ? sql`AND key >= ${prefix}` : sql``;
  if (engineOf(db) === 'postgres') {
    return (
      await sql<LevelRow>`SELECT DISTINCT ON (key) key, size, etag, created_at, is_delete_marker FROM object_versions
        WHERE bucket_id = ${timelineId} AND key > ${cursor} ${lower} AND seq <= ${ceiling}
        ORDER BY key, seq DESC LIMIT ${limit}`.execute(db)
    ).rows;
  }
  return (
    await sql<LevelRow>`SELECT key, size, etag, created_at, is_delete_marker, max(seq) AS seq FROM object_versions
      WHERE bucket_id = ${timelineId} AND key > ${cursor} ${lower} AND seq <= ${ceiling}
      GROUP BY key ORDER BY key LIMIT ${limit}`.execute(db)
  ).rows;
}

/** The key's next newer row on the timeline after seq (what superseded a version), if any. */
export async function supersededAt(db: DataDb, timelineId: string, key: string, seq: number): Promise<number | null> {
  const row = await db
    .selectFrom('object_versions')
    .select('seq')
    .where('bucket_id', '=', timelineId)
    .where('key', '=', key)
    .where('seq', '>', seq)
    .orderBy('seq', 'asc')
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.seq) : null;
}

/** Distinct keys of the rows written on a timeline with afterSeq < seq <= upToSeq (any seq above afterSeq when null). */
export async function keysWrittenBetween(db: DataDb, timelineId: string, afterSeq: number, upToSeq: number | null): Promise<string[]> {
  let q = db.selectFrom('object_versions').select('key').distinct().where('bucket_id', '=', timelineId).where('seq', '>', afterSeq);
  if (upToSeq !== null) q = q.where('seq', '<=', upToSeq);
  return (await q.execute()).map((r) => r.key);
}

/**
 * For each of `keys`, its row on the timeline at the head (ceiling null: the
 * latest row, a marker included) or as of the ceiling; keys without one are
 * absent from the map. One statement per call (callers batch the keys).
 */
export async function rowsForKeys(
  db: DataDb,
  timelineId: string,
  keys: string[],
  ceiling: number | null,
): Promise<Map<string, VersionRow>> {
  const out = new Map<string, VersionRow>();
  if (keys.length === 0) return out;
  if (ceiling === null) {
    const rows = await db
      .selectFrom('object_versions')
      .selectAll()
      .where('bucket_id', '=', timelineId)
      .where('key', 'in', keys)
      .where('is_latest', '=', LATEST)
      .execute();
    for (const r of rows) out.set(r.key, r);
    return out;
  }
  let q = db.selectFrom('object_versions').selectAll();
  // PostgreSQL keeps one row per key as it reads the index; SQLite reads the keys' older rows too.
  if (engineOf(db) === 'postgres') q = q.distinctOn('key');
  const rows = await q
    .where('bucket_id', '=', timelineId)
    .where('key', 'in', keys)
    .where('seq', '<=', ceiling)
    .orderBy('key')
    .orderBy('seq', 'desc')
    .execute();
  // Newest first within each key: the first row met of a key is its row as of the ceiling.
  for (const r of rows) if (!out.has(r.key)) out.set(r.key, r);
  return out;
}

/**
 * The timeline's last sequence number written at or before `time` (epoch
 * ms): a binary search over its rows in seq order (object_versions_seq),
 * each step one seek, so O(log² n) in the timeline's size. Rows carry the
 * time their write began; concurrent writers may interleave by a few
 * milliseconds, which is the resolution of a read "as of" a time.
 */
export async function seqAtTime(db: DataDb, timelineId: string, lastSeq: number, time: number): Promise<number> {
  // The smallest seq whose (first following) row was written after `time`; the answer is the seq before it.
  const rowFrom = (seq: number) =>
    db
      .selectFrom('object_versions')
      .select(['seq', 'created_at'])
      .where('bucket_id', '=', timelineId)
      .where('seq', '>=', seq)
      .where('seq', '<=', lastSeq)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
  let lo = 1;
  let hi = lastSeq + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const row = await rowFrom(mid);
    if (!row || Number(row.created_at) > time) {
      hi = mid;
    } else {
      lo = Number(row.seq) + 1;
    }
  }
  return lo - 1;
}

/** Keys > cursor (>= prefix) with any row on the timeline at or below the ceiling (null: any), in key order. */
export async function keysWithRows(
  db: DataDb,
  timelineId: string,
  prefix: string,
  cursor: string,
  ceiling: number | null,
  limit: number,
): Promise<string[]> {
  let q = db.selectFrom('object_versions').select('key').distinct().where('bucket_id', '=', timelineId).where('key', '>', cursor);
  if (prefix) q = q.where('key', '>=', prefix);
  if (ceiling !== null) q = q.where('seq', '<=', ceiling);
  return (await q.orderBy('key').limit(limit).execute()).map((r) => r.key);
}

/** One key's rows on the timeline at or below the ceiling (null: all), newest first. */
export function versionsOfKeyAsOf(db: DataDb, timelineId: string, key: string, ceiling: number | null): Promise<VersionRow[]> {
  let q = db.selectFrom('object_versions').selectAll().where('bucket_id', '=', timelineId).where('key', '=', key);
  if (ceiling !== null) q = q.where('seq', '<=', ceiling);
  return q.orderBy('seq', 'desc').execute();
}
