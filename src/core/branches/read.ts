/**
 * Reads through a ref (a branch, tag or commit alias): each level of the
 * view in order, a branch's own timeline first, then its ancestors as of
 * their fork points. The first level that has the key decides; a delete
 * marker there hides what the levels below hold.
 *
 *   photos--dev   level 0  dev        (head)        puts and markers of dev
 *                 level 1  main       (≤ fork seq)  main as it was at the fork
 */
import type { RefLevel } from '../../meta/branches/branches.js';
import type { RefView } from '../../meta/buckets/types.js';
import type { DataDb } from '../../meta/handles.js';
import { type LevelRow, rowAsOf, scanHeadRows, scanRowsAsOf } from '../../meta/objects/as-of.js';
import type { ListingRow } from '../../meta/objects/listing.js';
import type { VersionRow } from '../../meta/objects/types.js';
import { latestRow, versionRowById } from '../../meta/objects/versions.js';

/** The key's visible row through the view (a delete marker included), or undefined. */
export async function visibleRow(db: DataDb, view: RefView, key: string): Promise<VersionRow | undefined> {
  for (const level of view.levels) {
    const row =
      level.ceiling === null ? await latestRow(db, level.timelineId, key) : await rowAsOf(db, level.timelineId, key, level.ceiling);
    if (row) return row;
  }
  return undefined;
}

/** A version by id, wherever in the view's levels it is visible. */
export async function visibleVersionById(db: DataDb, view: RefView, key: string, versionId: string): Promise<VersionRow | undefined> {
  for (const level of view.levels) {
    const row = await versionRowById(db, level.timelineId, key, versionId);
    if (row && (level.ceiling === null || Number(row.seq) <= level.ceiling)) return row;
  }
  return undefined;
}

/** UTF-8 byte order, the databases' key order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function fetchLevel(db: DataDb, level: RefLevel, prefix: string, cursor: string, limit: number): Promise<LevelRow[]> {
  return level.ceiling === null
    ? scanHeadRows(db, level.timelineId, prefix, cursor, limit)
    : scanRowsAsOf(db, level.timelineId, prefix, cursor, level.ceiling, limit);
}

/**
 * Up to `want` live keys after cursor (>= prefix) as the view shows them,
 * in key order: each level scanned in batches and merged, the lowest level
 * winning a key and its delete markers hiding it. A batch that came back
 * full bounds what may be emitted (keys after its last one are unknown yet).
 * A page costs one scan per level, plus rows hidden by markers.
 */
export async function visibleRows(db: DataDb, view: RefView, prefix: string, cursor: string, want: number): Promise<ListingRow[]> {
  const out: ListingRow[] = [];
  const batch = Math.max(want, 100);
  while (out.length < want) {
    const levels = await Promise.all(view.levels.map((l) => fetchLevel(db, l, prefix, cursor, batch)));
    // Keys are known for every level only up to the smallest last key of a full batch.
    let bound: string | undefined;
    for (const rows of levels) {
      if (rows.length === batch) {
        const last = rows[rows.length - 1].key;
        if (bound === undefined || compareKeys(last, bound) < 0) bound = last;
      }
    }
    const winners = new Map<string, LevelRow>();
    for (const rows of levels) {
      for (const row of rows) {
        if (bound !== undefined && compareKeys(row.key, bound) > 0) break;
        if (!winners.has(row.key)) winners.set(row.key, row);
      }
    }
    const keys = [...winners.keys()].sort(compareKeys);
    for (const key of keys) {
      const row = winners.get(key)!;
      if (Number(row.is_delete_marker) === 1) continue;
      out.push({ key, size: row.size, etag: row.etag, created_at: row.created_at });
      if (out.length === want) return out;
    }
    if (bound === undefined) return out;
    cursor = bound;
  }
  return out;
}
