/**
 * PostgreSQL: one statement takes the bucket lock and the next sequence
 * number, moves the counts, and writes the version if the key's latest
 * version is still `old` (an in-place UPDATE matching old's id and seq,
 * or an INSERT that does nothing if a latest version appeared). The
 * version CTE reads the bucket CTE, so the bucket row is locked before
 * the object row (lock order: bucket first). Data-modifying CTEs see
 * concurrent commits through the usual re-check of updated rows and the
 * unique index, not through the statement's snapshot, so a version
 * replaced or inserted meanwhile makes `written` false; the caller then
 * redoes the write under the lock it now holds. For a new key, its blob
 * reference is applied by the same statement (`sole`, see
 * RefChanges.soleReference). So a new key's PUT holds the bucket lock for
 * this statement and the COMMIT only, instead of seven round trips: the
 * lock serialises the PUTs of one bucket, so its hold time bounds their rate.
 */
import { sql } from 'kysely';

import type { DataDb } from '../handles.js';
import { type CurrentVersion, MAX_SEQ, type NewVersionRow, type PutLatestResult, type SoleReference } from './types.js';
import type { CountDelta } from './versions.js';

export async function putLatestPg(
  db: DataDb,
  row: NewVersionRow,
  old: CurrentVersion | undefined,
  d: CountDelta,
  sole: SoleReference | undefined,
): Promise<PutLatestResult> {
  const s = sql`UPDATE bucket_state SET last_seq = last_seq + 1, object_count = object_count + ${d.objects}, byte_count = byte_count + ${d.bytes},
    version_count = version_count + ${d.versions ?? 0}, version_bytes = version_bytes + ${d.versionBytes ?? 0}
    WHERE bucket_id = ${row.bucket_id} RETURNING last_seq`;
  const cols = sql`size = ${row.size}, etag = ${row.etag}, content_type = ${row.content_type}, headers = ${row.headers},
    user_meta = ${row.user_meta}, checksums = ${row.checksums}, manifest = ${row.manifest}, part_sizes = ${row.part_sizes},
    created_at = ${row.created_at}, tags = ${row.tags}, acl = ${row.acl}, tenant_id = ${row.tenant_id},
    version_id = ${row.version_id}, is_delete_marker = ${row.is_delete_marker}`;
  const v = old
    ? sql`UPDATE object_versions SET seq = s.last_seq, ${cols} FROM s
        WHERE object_versions.id = ${old.id} AND object_versions.seq = ${old.seq} AND object_versions.is_latest = 1 RETURNING 1`
    : sql`INSERT INTO object_versions (bucket_id, tenant_id, key, version_id, seq, is_latest, is_delete_marker, size, etag,
          content_type, headers, user_meta, checksums, manifest, part_sizes, created_at, tags, acl)
        SELECT ${row.bucket_id}, ${row.tenant_id}, ${row.key}, ${row.version_id}, s.last_seq, 1, 0, ${row.size}::bigint, ${row.etag},
          ${row.content_type}, ${row.headers}, ${row.user_meta}, ${row.checksums}, ${row.manifest}, ${row.part_sizes},
          ${row.created_at}::bigint, ${row.tags}, ${row.acl} FROM s
        ON CONFLICT (bucket_id, key) WHERE is_latest = 1 DO NOTHING RETURNING 1`;
  // A new key's only blob reference joins the statement too (after the bucket row: it reads s).
  // With an old version there is a release as well, applied later in hash order by RefChanges.
  const b = !sole ? undefined : soleStatement(sole);
  const res = b
    ? await sql<{
        seq: string | number | null;
        written: string | number;
        file_id: string | null;
      }>`WITH s AS (${s}), v AS (${v}), b AS (${b})
        SELECT (SELECT last_seq FROM s) AS seq, (SELECT count(*) FROM v) AS written, (SELECT file_id FROM b) AS file_id`.execute(db)
    : await sql<{ seq: string | number | null; written: string | number; file_id?: null }>`WITH s AS (${s}), v AS (${v})
        SELECT (SELECT last_seq FROM s) AS seq, (SELECT count(*) FROM v) AS written`.execute(db);
  const out = res.rows[0];
  if (out?.seq === null || out?.seq === undefined) return { seq: undefined, written: false, soleApplied: false };
  return {
    seq: Number(out.seq),
    written: Number(out.written) === 1,
    soleApplied: b !== undefined,
    soleFileId: out.file_id ?? undefined,
  };
}

/**
 * Versioning buckets, the same fold: one statement takes the bucket lock
 * and the next sequence number (moving the counts), flips the key's latest
 * version `old` to noncurrent, inserts the new version (its id built from
 * the sequence number, as versionIdFor does) and, for a write with one blob,
 * applies its reference. The insert reads the flip's count, so the flip runs
 * first and the unique index on the latest flag sees the old row as replaced.
 * When `old` was no longer the latest (or a latest appeared), nothing is
 * inserted and `written` is false: the caller holds the lock now and redoes
 * the write with plain statements.
 */
export async function pushLatestPg(
  db: DataDb,
  row: NewVersionRow,
  old: CurrentVersion | undefined,
  d: CountDelta,
  sole: SoleReference | undefined,
  suffix: string,
): Promise<PutLatestResult & { versionId?: string }> {
  const s = sql`UPDATE bucket_state SET last_seq = last_seq + 1, object_count = object_count + ${d.objects}, byte_count = byte_count + ${d.bytes},
    version_count = version_count + ${d.versions ?? 0}, version_bytes = version_bytes + ${d.versionBytes ?? 0}
    WHERE bucket_id = ${row.bucket_id} RETURNING last_seq`;
  const f = old
    ? sql`UPDATE object_versions SET is_latest = 0 FROM s
        WHERE object_versions.id = ${old.id} AND object_versions.seq = ${old.seq} AND object_versions.is_latest = 1 RETURNING 1`
    : sql`SELECT 1 FROM s WHERE false`;
  const v = sql`INSERT INTO object_versions (bucket_id, tenant_id, key, version_id, seq, is_latest, is_delete_marker, size, etag,
      content_type, headers, user_meta, checksums, manifest, part_sizes, created_at, tags, acl, lock_mode, lock_until, legal_hold)
    SELECT ${row.bucket_id}, ${row.tenant_id}, ${row.key}, lpad(to_hex(${MAX_SEQ}::bigint - s.last_seq), 14, '0') || ${suffix}::text,
      s.last_seq, 1, 0, ${row.size}::bigint, ${row.etag}, ${row.content_type}, ${row.headers}, ${row.user_meta}, ${row.checksums},
      ${row.manifest}, ${row.part_sizes}, ${row.created_at}::bigint, ${row.tags}, ${row.acl}, ${row.lock_mode}::text,
      ${row.lock_until}::bigint, ${row.legal_hold}::int
    FROM s, (SELECT count(*) AS n FROM f) flipped WHERE flipped.n = ${old ? 1 : 0}
    ON CONFLICT (bucket_id, key) WHERE is_latest = 1 DO NOTHING RETURNING version_id`;
  const b = !sole ? undefined : soleStatement(sole);
  const res = b
    ? await sql<{ seq: string | number | null; written: string | number; version_id: string | null; file_id: string | null }>`
        WITH s AS (${s}), f AS (${f}), v AS (${v}), b AS (${b})
        SELECT (SELECT last_seq FROM s) AS seq, (SELECT count(*) FROM v) AS written, (SELECT version_id FROM v) AS version_id,
          (SELECT file_id FROM b) AS file_id`.execute(db)
    : await sql<{ seq: string | number | null; written: string | number; version_id: string | null; file_id?: null }>`
        WITH s AS (${s}), f AS (${f}), v AS (${v})
        SELECT (SELECT last_seq FROM s) AS seq, (SELECT count(*) FROM v) AS written, (SELECT version_id FROM v) AS version_id`.execute(db);
  const out = res.rows[0];
  if (out?.seq === null || out?.seq === undefined) return { seq: undefined, written: false, soleApplied: false };
  return {
    seq: Number(out.seq),
    written: Number(out.written) === 1,
    versionId: out.version_id ?? undefined,
    soleApplied: b !== undefined,
    soleFileId: out.file_id ?? undefined,
  };
}

/** A write's only blob reference (+1), as a statement that reads the bucket CTE `s` (so it runs after the lock). */
function soleStatement(sole: SoleReference) {
  return sole.newBlob
    ? sql`INSERT INTO blobs (tenant_id, hash, file_id, size, ref_count, created_at, enc_key, enc_master_key_id, replication)
        SELECT ${sole.tenantId}, ${sole.hash}, ${sole.newBlob.fileId}, ${sole.newBlob.size}::bigint, 1, ${Date.now()}::bigint,
          ${sole.newBlob.encKey}::text, ${sole.newBlob.encMasterKeyId}::text, ${sole.newBlob.replication}::int FROM s
        ON CONFLICT (tenant_id, hash) DO UPDATE SET ref_count = blobs.ref_count + 1,
          replication = GREATEST(blobs.replication, EXCLUDED.replication) RETURNING file_id`
    : sql`UPDATE blobs SET ref_count = blobs.ref_count + 1, replication = GREATEST(blobs.replication, ${sole.replication ?? 1}::int) FROM s
        WHERE blobs.tenant_id = ${sole.tenantId} AND blobs.hash = ${sole.hash} RETURNING blobs.file_id`;
}
