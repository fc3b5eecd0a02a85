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
 * root in a handful of seeks. The statements are in meta/objects/listing.ts;
 * keys with U+10FFFF right after an emitted prefix are met again and skipped
 * here.
 */
import type { Bucket } from '../meta/buckets/types.js';
import { MAX_CHAR, scanLatest, walkLatest } from '../meta/objects/listing.js';
import { visibleRows } from './branches/read.js';
import type { CoreContext } from './context.js';

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

/** The later of two keys in UTF-8 byte order (the database's order, not JavaScript's). */
function byteMax(a: string, b: string): string {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) >= 0 ? a : b;
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
      const db = this.ctx.meta.data;
      // Through an alias, the view's levels are merged (core/branches/read.ts); the delimiter is
      // applied below, as the loop skips the keys under an emitted common prefix.
      const rows = bucket.view
        ? await visibleRows(db, bucket.view, q.prefix, cursor, want)
        : q.delimiter
          ? await walkLatest(db, bucket.id, q, cursor, want)
          : await scanLatest(db, bucket.id, q.prefix, cursor, want);
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
}
