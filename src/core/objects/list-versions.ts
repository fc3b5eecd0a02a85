/**
 * ListObjectVersions: every version and delete marker of the bucket's keys,
 * keys in UTF-8 byte order and each key's versions newest first, paged by
 * (key-marker, version-id-marker), with common prefixes at the delimiter.
 *
 * Without a delimiter a page is one range scan of object_versions_newest
 * (bucket_id, key, seq DESC): the index order is the answer's order. With
 * one, the keys are walked as ListObjects walks them (meta/objects/
 * listing.ts, over keys with any version), and each object key's versions
 * are read with one seek. A version id carries its sequence number, so
 * resuming inside a key needs no lookup (except for the "null" version).
 */
import type { Bucket } from '../../meta/buckets/types.js';
import { MAX_CHAR, scanVersions, type VersionListingRow, versionsOfKey, walkLatest } from '../../meta/objects/listing.js';
import { versionRowById } from '../../meta/objects/versions.js';
import { listVersionsInView } from '../branches/list-versions.js';
import type { CoreContext } from '../context.js';
import type { VersionEntry, VersionListQuery, VersionListResult } from './version-list.js';
import { seqOfVersionId } from './versioning.js';

export type { VersionEntry, VersionListQuery, VersionListResult } from './version-list.js';

function entryOf(row: VersionListingRow): VersionEntry {
  return {
    key: row.key,
    versionId: row.version_id,
    isLatest: Number(row.is_latest) === 1,
    isDeleteMarker: Number(row.is_delete_marker) === 1,
    lastModified: new Date(Number(row.created_at)),
    etag: row.etag,
    size: Number(row.size),
  };
}

export async function listVersions(ctx: CoreContext, bucket: Bucket, q: VersionListQuery): Promise<VersionListResult> {
  const db = ctx.meta.data;
  if (bucket.view) return listVersionsInView(db, bucket.view, q);
  const result: VersionListResult = { entries: [], commonPrefixes: [], isTruncated: false };
  if (q.maxKeys <= 0) return result;
  const left = () => q.maxKeys - result.entries.length - result.commonPrefixes.length;
  /** Adds one version; false (and the page truncated) when the page is already full. */
  const emit = (row: VersionListingRow): boolean => {
    if (left() === 0) {
      result.isTruncated = true;
      return false;
    }
    result.entries.push(entryOf(row));
    result.nextKeyMarker = row.key;
    result.nextVersionIdMarker = row.version_id;
    return true;
  };
  const finish = () => {
    if (!result.isTruncated) {
      result.nextKeyMarker = undefined;
      result.nextVersionIdMarker = undefined;
    }
    return result;
  };
  const commonPrefixOf = (key: string): string | undefined => {
    if (!q.delimiter) return undefined;
    const i = key.indexOf(q.delimiter, q.prefix.length);
    return i < 0 ? undefined : key.slice(0, i + q.delimiter.length);
  };

  // 1. The rest of the marker's key, when the last page ended inside it.
  let cursor = q.keyMarker;
  const markerPrefix = q.keyMarker.startsWith(q.prefix) ? commonPrefixOf(q.keyMarker) : undefined;
  if (q.keyMarker && q.versionIdMarker !== undefined && markerPrefix === undefined && q.keyMarker.startsWith(q.prefix)) {
    let beforeSeq = seqOfVersionId(q.versionIdMarker);
    if (beforeSeq === undefined) beforeSeq = (await versionRowById(db, bucket.id, q.keyMarker, q.versionIdMarker))?.seq;
    if (beforeSeq !== undefined) {
      for (const row of await versionsOfKey(db, bucket.id, q.keyMarker, Number(beforeSeq), left() + 1)) {
        if (!emit(row)) return finish();
      }
    }
  }

  // 2. The keys after it.
  if (!q.delimiter) {
    // left() + 1 rows: the extra one tells whether the listing is truncated.
    for (const row of await scanVersions(db, bucket.id, q.prefix, cursor, left() + 1)) {
      if (!row.key.startsWith(q.prefix)) break;
      if (!emit(row)) break;
    }
    return finish();
  }
  // A page that ended on a common prefix resumes after everything under it.
  let lastPrefix = markerPrefix;
  if (lastPrefix === q.keyMarker) cursor = lastPrefix + MAX_CHAR;
  for (;;) {
    const want = left() + 1;
    const rows = await walkLatest(db, bucket.id, q, cursor, want, 'all');
    for (const { key } of rows) {
      if (!key.startsWith(q.prefix)) return finish();
      cursor = key;
      const prefix = commonPrefixOf(key);
      if (prefix !== undefined) {
        // Only a key with U+10FFFF right after an emitted prefix can come back to it.
        if (prefix === lastPrefix) continue;
        if (left() === 0) {
          result.isTruncated = true;
          return finish();
        }
        result.commonPrefixes.push(prefix);
        result.nextKeyMarker = lastPrefix = prefix;
        result.nextVersionIdMarker = undefined;
        continue;
      }
      for (const row of await versionsOfKey(db, bucket.id, key, undefined, left() + 1)) {
        if (!emit(row)) return finish();
      }
    }
    if (rows.length < want) return finish();
    if (lastPrefix !== undefined && cursor.startsWith(lastPrefix)) cursor = lastPrefix + MAX_CHAR;
  }
}
