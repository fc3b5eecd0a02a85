/**
 * ListObjectVersions through an alias: a key's history as the ref sees it
 * is its versions on the ref's own timeline (up to its ceiling), then on
 * each ancestor up to the fork point, newest first; only the first is the
 * latest. Keys come from every level merged in key order, with common
 * prefixes at the delimiter, paged by (key-marker, version-id-marker) as
 * S3 pages them. A key's history is read whole when the page reaches it
 * (its size is the key's number of versions, never the bucket's).
 */
import type { RefView } from '../../meta/buckets/types.js';
import type { DataDb } from '../../meta/handles.js';
import { keysWithRows, versionsOfKeyAsOf } from '../../meta/objects/as-of.js';
import { MAX_CHAR } from '../../meta/objects/listing.js';
import type { VersionRow } from '../../meta/objects/types.js';
import type { VersionEntry, VersionListQuery, VersionListResult } from '../objects/version-list.js';
import { compareKeys } from './diff.js';

const KEY_BATCH = 200;

/** The key's history through the view, newest first. */
async function historyOf(db: DataDb, view: RefView, key: string): Promise<VersionRow[]> {
  const out: VersionRow[] = [];
  // A branch's own copy of an ancestor's version (its tags or ACL changed on the branch) shadows it.
  const seen = new Set<string>();
  for (const level of view.levels) {
    for (const row of await versionsOfKeyAsOf(db, level.timelineId, key, level.ceiling)) {
      if (seen.has(row.version_id)) continue;
      seen.add(row.version_id);
      out.push(row);
    }
  }
  return out;
}

function entryOf(row: VersionRow, isLatest: boolean): VersionEntry {
  return {
    key: row.key,
    versionId: row.version_id,
    isLatest,
    isDeleteMarker: Number(row.is_delete_marker) === 1,
    lastModified: new Date(Number(row.created_at)),
    etag: row.etag,
    size: Number(row.size),
  };
}

/** Keys after cursor with any version through the view, in key order (up to `limit`; fewer means the end). */
export async function keysAfter(
  db: DataDb,
  view: Pick<RefView, 'levels'>,
  prefix: string,
  cursor: string,
  limit: number,
): Promise<string[]> {
  const perLevel = await Promise.all(view.levels.map((l) => keysWithRows(db, l.timelineId, prefix, cursor, l.ceiling, limit)));
  let bound: string | undefined;
  for (const keys of perLevel) {
    if (keys.length === limit && (bound === undefined || compareKeys(keys[keys.length - 1], bound) < 0)) bound = keys[keys.length - 1];
  }
  const all = new Set<string>();
  for (const keys of perLevel) for (const k of keys) if (bound === undefined || compareKeys(k, bound) <= 0) all.add(k);
  return [...all].sort(compareKeys);
}

export async function listVersionsInView(db: DataDb, view: RefView, q: VersionListQuery): Promise<VersionListResult> {
  const result: VersionListResult = { entries: [], commonPrefixes: [], isTruncated: false };
  if (q.maxKeys <= 0) return result;
  const left = () => q.maxKeys - result.entries.length - result.commonPrefixes.length;
  const full = () => {
    result.isTruncated = true;
    return result;
  };
  const done = () => {
    result.nextKeyMarker = undefined;
    result.nextVersionIdMarker = undefined;
    return result;
  };
  const commonPrefixOf = (key: string): string | undefined => {
    if (!q.delimiter) return undefined;
    const i = key.indexOf(q.delimiter, q.prefix.length);
    return i < 0 ? undefined : key.slice(0, i + q.delimiter.length);
  };
  /** Emits a key's versions after `afterVersionId` (all without it); false when the page filled up. */
  const emitKey = async (key: string, afterVersionId?: string): Promise<boolean> => {
    const history = await historyOf(db, view, key);
    let start = 0;
    if (afterVersionId !== undefined) {
      const i = history.findIndex((r) => r.version_id === afterVersionId);
      start = i < 0 ? history.length : i + 1;
    }
    for (let i = start; i < history.length; i++) {
      if (left() === 0) return false;
      result.entries.push(entryOf(history[i], i === 0));
      result.nextKeyMarker = key;
      result.nextVersionIdMarker = history[i].version_id;
    }
    return true;
  };

  let cursor = q.keyMarker;
  let lastPrefix = q.keyMarker.startsWith(q.prefix) ? commonPrefixOf(q.keyMarker) : undefined;
  if (q.keyMarker && q.versionIdMarker !== undefined && lastPrefix === undefined && q.keyMarker.startsWith(q.prefix)) {
    if (!(await emitKey(q.keyMarker, q.versionIdMarker))) return full();
  }
  if (lastPrefix !== undefined && lastPrefix === q.keyMarker) cursor = lastPrefix + MAX_CHAR;
  for (;;) {
    const keys = await keysAfter(db, view, q.prefix, cursor, KEY_BATCH);
    for (const key of keys) {
      if (!key.startsWith(q.prefix)) return done();
      cursor = key;
      const prefix = commonPrefixOf(key);
      if (prefix !== undefined) {
        if (prefix === lastPrefix) continue;
        if (left() === 0) return full();
        result.commonPrefixes.push(prefix);
        result.nextKeyMarker = lastPrefix = prefix;
        result.nextVersionIdMarker = undefined;
        continue;
      }
      if (!(await emitKey(key))) return full();
    }
    if (keys.length === 0) return done();
    if (lastPrefix !== undefined && cursor.startsWith(lastPrefix)) cursor = lastPrefix + MAX_CHAR;
  }
}
