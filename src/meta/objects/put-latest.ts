/**
 * Makes a row the key's latest version, taking the bucket lock and the next
 * sequence number: the hot statement of every PUT. The engines differ (one
 * folded statement on PostgreSQL, plain statements under SQLite's writer
 * lock); both live side by side behind putLatest.
 */
import { type DataDb, engineOf } from '../handles.js';
import { pushLatestPg, putLatestPg } from './put-latest.pg.js';
import { pushLatestSqlite, putLatestSqlite } from './put-latest.sqlite.js';
import type { CurrentVersion, NewVersionRow, PutLatestResult, SoleReference } from './types.js';
import type { CountDelta } from './versions.js';

export type { PutLatestResult, SoleReference };

export function putLatest(
  db: DataDb,
  row: NewVersionRow,
  old: CurrentVersion | undefined,
  counts: CountDelta,
  sole: SoleReference | undefined,
): Promise<PutLatestResult> {
  return engineOf(db) === 'postgres' ? putLatestPg(db, row, old, counts, sole) : putLatestSqlite(db, row, old, counts);
}

/**
 * Versioning buckets: makes row a new latest version on top of `old`
 * (which becomes noncurrent), taking the bucket lock and the next sequence
 * number; its id is versionIdFor(seq, suffix). See pushLatestPg for when
 * `written` is false.
 */
export function pushLatest(
  db: DataDb,
  row: NewVersionRow,
  old: CurrentVersion | undefined,
  counts: CountDelta,
  sole: SoleReference | undefined,
  suffix: string,
): Promise<PutLatestResult & { versionId?: string }> {
  return engineOf(db) === 'postgres' ? pushLatestPg(db, row, old, counts, sole, suffix) : pushLatestSqlite(db, row, old, counts, suffix);
}
