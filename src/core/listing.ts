/**
 * Lists the latest versions of keys in UTF-8 byte order (the database's key
 * order: BINARY on SQLite, COLLATE "C" on PostgreSQL), rolling keys up into
 * common prefixes at the delimiter. After emitting a common prefix the scan
 * seeks past every key under it, so a bucket with millions of keys in a few
 * folders lists its root in a handful of index seeks.
 */
import type { CoreContext } from './context.js';
import type { Bucket } from './buckets.js';

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

/** The largest code point: every key starting with P sorts before P + MAX_CHAR, except keys containing it after P. */
const MAX_CHAR = '\u{10FFFF}';
/** Rows under an emitted common prefix read in the current batch before seeking past the rest. */
const SKIP_BEFORE_SEEK = 32;

export class ListingService {
  constructor(private readonly ctx: CoreContext) {}

  async list(bucket: Bucket, q: ListQuery): Promise<ListResult> {
    const result: ListResult = { objects: [], commonPrefixes: [], isTruncated: false };
    if (q.maxKeys <= 0) return result;
    const batchSize = Math.min(q.maxKeys + 1, 1000);
    const commonPrefixOf = (key: string): string | undefined => {
      if (!q.delimiter) return undefined;
      const i = key.indexOf(q.delimiter, q.prefix.length);
      return i < 0 ? undefined : key.slice(0, i + q.delimiter.length);
    };
    // A page that ended on a common prefix resumes after everything under it.
    let lastPrefix = q.after.startsWith(q.prefix) ? commonPrefixOf(q.after) : undefined;
    let cursor = q.after;
    if (lastPrefix === q.after) cursor = lastPrefix + MAX_CHAR;
    let emitted = 0;
    /** The common prefix the cursor has already been moved past (see below). */
    let seekedPast: string | undefined = lastPrefix === q.after ? lastPrefix : undefined;
    let skippedInPrefix = 0;

    for (;;) {
      let query = this.ctx.meta.regional
        .selectFrom('object_versions')
        .select(['key', 'size', 'etag', 'created_at'])
        .where('bucket_id', '=', bucket.id)
        .where('is_latest', '=', 1)
        .where('is_delete_marker', '=', 0)
        .where('key', '>', cursor);
      // Always bound by the prefix: JS string order (UTF-16) is not the database's byte order.
      if (q.prefix) query = query.where('key', '>=', q.prefix);
      const rows = await query.orderBy('key').limit(batchSize).execute();

      let reseek = false;
      for (const row of rows) {
        if (!row.key.startsWith(q.prefix)) return result;
        const prefix = commonPrefixOf(row.key);
        if (prefix !== undefined && prefix === lastPrefix) {
          cursor = row.key;
          // Small folders are skipped within the batch; a big one is left with one index seek
          // (so 10 folders of a million keys cost a handful of seeks, not millions of rows).
          if (++skippedInPrefix > SKIP_BEFORE_SEEK && seekedPast !== prefix) {
            cursor = prefix + MAX_CHAR;
            seekedPast = prefix;
            reseek = true;
            break;
          }
          continue;
        }
        skippedInPrefix = 0;
        cursor = row.key;
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
            etag: row.etag,
            lastModified: new Date(Number(row.created_at)),
          });
          result.lastEmitted = row.key;
        }
      }
      if (!reseek && rows.length < batchSize) return result;
    }
  }
}
