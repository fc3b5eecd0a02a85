/**
 * What differs between two points of a bucket's history, in cost
 * proportional to the changes since their common ancestor timeline, never
 * to the bucket's size.
 *
 * Two views are chains of levels ending at the bucket's root; below their
 * first common timeline C they coincide. A key can differ only if a row was
 * written for it on a level above C (on either side), or on C between the
 * two sides' ceilings. Those keys come from the (bucket_id, seq) index; each
 * is then read on both sides (batched per level) and compared by content.
 */
import type { RefLevel } from '../../meta/branches/branches.js';
import type { DataDb } from '../../meta/handles.js';
import { keysWrittenBetween, rowsForKeys } from '../../meta/objects/as-of.js';
import type { VersionRow } from '../../meta/objects/types.js';

/**
 * A ref's levels twice: what a read consults (down to the first flattened
 * ancestor), and its whole lineage, through which changed keys are found.
 */
export interface RefLevels {
  read: RefLevel[];
  lineage: RefLevel[];
}

export const NO_HISTORY: RefLevels = { read: [], lineage: [] };

/** Keys per statement when reading candidate keys on a level. */
const KEY_BATCH = 500;

/** UTF-8 byte order, the databases' key order. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Keys that may differ between views a and b (sorted in key order). */
export async function candidateKeys(db: DataDb, a: RefLevel[], b: RefLevel[]): Promise<string[]> {
  const keys = new Set<string>();
  const add = (list: string[]) => {
    for (const k of list) keys.add(k);
  };
  let i = 0;
  let j = -1;
  for (; i < a.length; i++) {
    j = b.findIndex((l) => l.timelineId === a[i].timelineId);
    if (j >= 0) break;
  }
  const own = async (levels: RefLevel[]) => {
    for (const l of levels) add(await keysWrittenBetween(db, l.timelineId, 0, l.ceiling));
  };
  if (j < 0) {
    // No timeline in common (cannot happen inside one bucket): everything either side shows.
    await own(a);
    await own(b);
  } else {
    await own(a.slice(0, i));
    await own(b.slice(0, j));
    const ca = a[i].ceiling;
    const cb = b[j].ceiling;
    // Null is the head: above every ceiling.
    if (ca !== cb) {
      const low = ca === null ? cb! : cb === null ? ca : Math.min(ca, cb);
      const high = ca === null || cb === null ? null : Math.max(ca, cb);
      add(await keysWrittenBetween(db, a[i].timelineId, low, high));
    }
  }
  return [...keys].sort(compareKeys);
}

/** The row each key shows through the view (a delete marker counts as no object); batched per level. */
export async function visibleForKeys(db: DataDb, levels: RefLevel[], keys: string[]): Promise<Map<string, VersionRow | undefined>> {
  const out = new Map<string, VersionRow | undefined>();
  let pending = keys;
  for (const level of levels) {
    if (pending.length === 0) break;
    const left: string[] = [];
    for (let k = 0; k < pending.length; k += KEY_BATCH) {
      const chunk = pending.slice(k, k + KEY_BATCH);
      const rows = await rowsForKeys(db, level.timelineId, chunk, level.ceiling);
      for (const key of chunk) {
        const row = rows.get(key);
        if (row) out.set(key, Number(row.is_delete_marker) === 1 ? undefined : row);
        else left.push(key);
      }
    }
    pending = left;
  }
  for (const key of pending) out.set(key, undefined);
  return out;
}

/** The same object: the very same version, or the same bytes with the same attributes. */
export function sameContent(x: VersionRow | undefined, y: VersionRow | undefined): boolean {
  if (!x || !y) return x === y;
  if (x.bucket_id === y.bucket_id && x.version_id === y.version_id) return true;
  return (
    x.etag === y.etag &&
    x.manifest === y.manifest &&
    x.content_type === y.content_type &&
    x.user_meta === y.user_meta &&
    x.headers === y.headers &&
    x.tags === y.tags
  );
}

/** One side of a difference, as the API shows it. */
export interface DiffSide {
  versionId: string;
  etag: string;
  size: number;
  lastModified: Date;
}

export interface DiffEntry {
  key: string;
  /** added: only `to` has it; removed: only `from`; changed: both, differently. */
  change: 'added' | 'removed' | 'changed';
  from?: DiffSide;
  to?: DiffSide;
}

export function sideOf(row: VersionRow | undefined): DiffSide | undefined {
  return row && { versionId: row.version_id, etag: row.etag, size: Number(row.size), lastModified: new Date(Number(row.created_at)) };
}

/**
 * A page of differences from view `from` to view `to`: keys after `after`,
 * at most `limit`, with where the next page starts.
 */
export async function diffViews(
  db: DataDb,
  from: RefLevels,
  to: RefLevels,
  page: { after?: string; limit: number },
): Promise<{ entries: DiffEntry[]; nextAfter?: string }> {
  let keys = await candidateKeys(db, from.lineage, to.lineage);
  if (page.after !== undefined) keys = keys.filter((k) => compareKeys(k, page.after!) > 0);
  const entries: DiffEntry[] = [];
  for (let k = 0; k < keys.length; k += KEY_BATCH) {
    const chunk = keys.slice(k, k + KEY_BATCH);
    const [a, b] = await Promise.all([visibleForKeys(db, from.read, chunk), visibleForKeys(db, to.read, chunk)]);
    for (const key of chunk) {
      const x = a.get(key);
      const y = b.get(key);
      if (sameContent(x, y)) continue;
      entries.push({ key, change: !x ? 'added' : !y ? 'removed' : 'changed', from: sideOf(x), to: sideOf(y) });
      if (entries.length === page.limit) {
        const more = key !== keys[keys.length - 1];
        return more ? { entries, nextAfter: key } : { entries };
      }
    }
  }
  return { entries };
}
