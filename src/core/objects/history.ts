/**
 * One key's history as an operator sees it (`anvil admin bucket versions`,
 * GET /admin/v1/buckets/{bucket}/versions): every version and delete marker
 * newest first, with its Object Lock state, paged by version id.
 */
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { keyVersionRows } from '../../meta/objects/history.js';
import type { LockMode, VersionLock } from '../../meta/objects/types.js';
import { versionRowById } from '../../meta/objects/versions.js';
import type { CoreContext } from '../context.js';
import { isVersionIdSyntax, seqOfVersionId } from './versioning.js';

export interface KeyHistoryEntry {
  versionId: string;
  isLatest: boolean;
  isDeleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: Date;
  lock: VersionLock;
}

export interface KeyHistoryPage {
  entries: KeyHistoryEntry[];
  isTruncated: boolean;
  /** When truncated: the last version id of this page, to pass as `after`. */
  nextVersionIdMarker?: string;
}

/**
 * Up to `limit` versions of `key`, newest first, after the version `after`
 * (the previous page's last) when given. A marker that is no version id, or
 * a "null" version that is gone, is refused.
 */
export async function keyHistory(
  ctx: CoreContext,
  bucket: Bucket,
  key: string,
  opts: { after?: string; limit: number },
): Promise<KeyHistoryPage> {
  const db = ctx.meta.data;
  let beforeSeq: number | undefined;
  if (opts.after !== undefined) {
    if (!isVersionIdSyntax(opts.after)) throw fail.invalid('InvalidArgument', `not a version id: ${opts.after}`);
    beforeSeq = seqOfVersionId(opts.after);
    if (beforeSeq === undefined) {
      const row = await versionRowById(db, bucket.id, key, opts.after);
      if (!row) throw fail.notFound('NoSuchVersion', `key ${key} has no version ${opts.after}`, { Key: key, VersionId: opts.after });
      beforeSeq = Number(row.seq);
    }
  }
  // One row more than asked tells whether there are more.
  const rows = await keyVersionRows(db, bucket.id, key, beforeSeq, opts.limit + 1);
  const isTruncated = rows.length > opts.limit;
  const entries = rows.slice(0, opts.limit).map((r): KeyHistoryEntry => ({
    versionId: r.version_id,
    isLatest: Number(r.is_latest) === 1,
    isDeleteMarker: Number(r.is_delete_marker) === 1,
    size: Number(r.size),
    etag: r.etag,
    lastModified: new Date(Number(r.created_at)),
    lock: {
      mode: (r.lock_mode as LockMode | null) ?? undefined,
      until: r.lock_until === null ? undefined : Number(r.lock_until),
      legalHold: Number(r.legal_hold) === 1,
    },
  }));
  return { entries, isTruncated, nextVersionIdMarker: isTruncated ? entries[entries.length - 1]?.versionId : undefined };
}
