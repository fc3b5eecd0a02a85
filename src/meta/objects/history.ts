/**
 * Queries behind the operator's view of version history (the admin API and
 * `anvil admin bucket show|versions`): how much history each bucket holds,
 * and one key's versions newest first. Read-only.
 */
import type { DataDb } from '../handles.js';

/** A bucket's usage with its history: live latest versions, every non-marker version, delete markers. */
export interface HistoryUsage {
  objects: number;
  bytes: number;
  versions: number;
  versionBytes: number;
  markers: number;
}

/** The usage of each bucket id this region has a state row for (batches of 500 ids per statement). */
export async function historyUsage(db: DataDb, bucketIds: string[]): Promise<Map<string, HistoryUsage>> {
  const out = new Map<string, HistoryUsage>();
  for (let i = 0; i < bucketIds.length; i += 500) {
    const rows = await db
      .selectFrom('bucket_state')
      .select(['bucket_id', 'object_count', 'byte_count', 'version_count', 'version_bytes', 'marker_count'])
      .where('bucket_id', 'in', bucketIds.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      out.set(r.bucket_id, {
        objects: Number(r.object_count),
        bytes: Number(r.byte_count),
        versions: Number(r.version_count),
        versionBytes: Number(r.version_bytes),
        markers: Number(r.marker_count),
      });
    }
  }
  return out;
}

/** What the history of a key shows of each version (no manifest, headers or tags). */
export interface KeyVersionRow {
  version_id: string;
  seq: number;
  is_latest: number;
  is_delete_marker: number;
  size: number;
  etag: string;
  created_at: number;
  lock_mode: string | null;
  lock_until: number | null;
  legal_hold: number;
}

/**
 * Up to `limit` versions of one key, newest first, older than `beforeSeq`
 * when given: one seek of object_versions_newest (bucket_id, key, seq DESC).
 */
export function keyVersionRows(
  db: DataDb,
  bucketId: string,
  key: string,
  beforeSeq: number | undefined,
  limit: number,
): Promise<KeyVersionRow[]> {
  let query = db
    .selectFrom('object_versions')
    .select(['version_id', 'seq', 'is_latest', 'is_delete_marker', 'size', 'etag', 'created_at', 'lock_mode', 'lock_until', 'legal_hold'])
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key);
  if (beforeSeq !== undefined) query = query.where('seq', '<', beforeSeq);
  return query.orderBy('seq', 'desc').limit(limit).execute();
}
