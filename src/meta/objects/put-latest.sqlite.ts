/**
 * SQLite: the transaction's BEGIN IMMEDIATE already excludes every other
 * writer, so the latest version read before is the truth: take the next
 * sequence number (moving the counts), then write the row. The blob
 * reference is left to RefChanges (nothing to save in round trips on an
 * embedded database).
 */
import type { DataDb } from '../handles.js';
import type { CurrentVersion, NewVersionRow, PutLatestResult } from './types.js';
import { type CountDelta, putVersionRow, takeNextSeq } from './versions.js';

export async function putLatestSqlite(
  db: DataDb,
  row: NewVersionRow,
  old: CurrentVersion | undefined,
  d: CountDelta,
): Promise<PutLatestResult> {
  const seq = await takeNextSeq(db, row.bucket_id, d);
  if (seq === undefined) return { seq: undefined, written: false, soleApplied: false };
  await putVersionRow(db, row, seq, old);
  return { seq, written: true, soleApplied: false };
}
