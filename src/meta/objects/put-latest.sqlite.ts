/**
 * SQLite: the transaction's BEGIN IMMEDIATE already excludes every other
 * writer, so the latest version read before is the truth: take the next
 * sequence number (moving the counts), then write the row. The blob
 * reference is left to RefChanges (nothing to save in round trips on an
 * embedded database).
 */
import type { DataDb } from '../handles.js';
import { type CurrentVersion, type NewVersionRow, type PutLatestResult, versionIdFor } from './types.js';
import { type CountDelta, insertVersionRow, putVersionRow, setLatestFlag, takeNextSeq } from './versions.js';

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

/** Versioning buckets: under the writer lock `old` is the truth; flip it, then insert the new version. */
export async function pushLatestSqlite(
  db: DataDb,
  row: NewVersionRow,
  old: CurrentVersion | undefined,
  d: CountDelta,
  suffix: string,
): Promise<PutLatestResult & { versionId?: string }> {
  const seq = await takeNextSeq(db, row.bucket_id, d);
  if (seq === undefined) return { seq: undefined, written: false, soleApplied: false };
  if (old) await setLatestFlag(db, old.id, 0);
  const versionId = versionIdFor(seq, suffix);
  await insertVersionRow(db, { ...row, version_id: versionId }, seq);
  return { seq, written: true, soleApplied: false, versionId };
}
