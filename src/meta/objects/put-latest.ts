/**
 * Makes a row the key's latest version, taking the bucket lock and the next
 * sequence number: the hot statement of every PUT. The engines differ (one
 * folded statement on PostgreSQL, plain statements under SQLite's writer
 * lock); both live side by side behind putLatest.
 */
import { engineOf, type DataDb } from '../handles.js';
import { putLatestPg } from './put-latest.pg.js';
import { putLatestSqlite } from './put-latest.sqlite.js';
import type { CurrentVersion, NewVersionRow } from './types.js';
import type { CountDelta } from './versions.js';

/** A write's only blob reference (+1), which PostgreSQL may apply in the same statement. */
export interface SoleReference {
  tenantId: string;
  hash: string;
  newBlob?: { fileId: string; size: number; encKey: string | null; encMasterKeyId: string | null; replication: number };
  replication?: number;
}

export interface PutLatestResult {
  /** The sequence number taken; undefined when the bucket's state row is gone (the bucket was deleted). */
  seq: number | undefined;
  /**
   * False when the key's latest version was no longer `old` (PostgreSQL only):
   * the bucket lock is held now, so the caller reads the latest version again
   * and writes with putVersionRow.
   */
  written: boolean;
  /** Whether `sole` was applied by the statement, and the file id of the blob row it found or made. */
  soleApplied: boolean;
  soleFileId?: string;
}

export function putLatest(
  db: DataDb,
  row: NewVersionRow,
  old: CurrentVersion | undefined,
  counts: CountDelta,
  sole: SoleReference | undefined,
): Promise<PutLatestResult> {
  return engineOf(db) === 'postgres' ? putLatestPg(db, row, old, counts, sole) : putLatestSqlite(db, row, old, counts);
}
