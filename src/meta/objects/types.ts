/**
 * The object model as stored: what a version of a key is, and how a row of
 * object_versions becomes one. The query modules of this folder return these;
 * core/objects.ts re-exports them for the layers above.
 */
import type { Selectable } from 'kysely';

import type { ManifestEntry, ObjectVersionTable } from '../schema.js';

export type { ManifestEntry };

/** The checksum algorithms an object may carry (the same names as storage/digest.ts's ChecksumAlgorithm). */
export type StoredChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha1' | 'sha256';
export type StoredChecksums = Partial<Record<StoredChecksumAlgorithm, string>>;

/** The canned ACLs Anvil stores; others are refused where they are requested. */
export type CannedAcl = 'private' | 'public-read';

export interface ObjectAttributes {
  contentType: string;
  /** Stored standard headers, lower-case names (cache-control, content-encoding, ...). */
  headers: Record<string, string>;
  /** User metadata without the x-amz-meta- prefix, lower-case names. */
  userMeta: Record<string, string>;
  /** Object tags (key -> value). */
  tags: Record<string, string>;
  /** Canned ACL: who besides the owner may read it. */
  acl: CannedAcl;
}

/** Object Lock state of one version. */
export type LockMode = 'GOVERNANCE' | 'COMPLIANCE';
export interface VersionLock {
  /** Retention: the mode and the date (ms since the epoch) until which it holds. */
  mode?: LockMode;
  until?: number;
  legalHold: boolean;
}

export interface ObjectVersion extends ObjectAttributes {
  bucketId: string;
  tenantId: string;
  key: string;
  /** 'null' for versions written while the bucket was not versioning (or suspended). */
  versionId: string;
  seq: number;
  isLatest: boolean;
  /** A delete marker: no body, no attributes worth showing. */
  isDeleteMarker: boolean;
  lock: VersionLock;
  size: number;
  etag: string;
  checksums: StoredChecksums;
  manifest: ManifestEntry[];
  partSizes: number[];
  lastModified: Date;
}

/** A version row as written (seq comes from the bucket's counter). */
export type NewVersionRow = Omit<Selectable<ObjectVersionTable>, 'id' | 'seq'>;
/** What a write needs to know of the version it replaces. */
export type CurrentVersion = Pick<
  Selectable<ObjectVersionTable>,
  'id' | 'seq' | 'manifest' | 'size' | 'tenant_id' | 'etag' | 'is_delete_marker'
>;
/** Sequence numbers fit in 53 bits; a version id carries MAX_SEQ - seq so that a key's newer ids sort first. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * A version's id: 14 hex digits of (MAX_SEQ - seq), so a key's version ids
 * sort newest first as strings, then a 6-hex-digit random suffix so ids
 * cannot be guessed from one another (put-latest.pg.ts builds the same
 * string in SQL).
 */
export function versionIdFor(seq: number, suffix: string): string {
  return (MAX_SEQ - seq).toString(16).padStart(14, '0') + suffix;
}

/** A stored version row (with its row id, which the version's id does not replace). */
export type VersionRow = Selectable<ObjectVersionTable>;

/** What a new latest version holds, before it is a row. */
export interface VersionContent {
  size: number;
  etag: string;
  attributes: ObjectAttributes;
  checksums: StoredChecksums;
  manifest: ManifestEntry[];
  partSizes: number[];
  /** Object Lock retention and legal hold the version starts with. */
  lock?: VersionLock;
}

/** The row that makes `content` the latest (and only) version of a key in an unversioned bucket. */
export function latestRowOf(bucketId: string, tenantId: string, key: string, v: VersionContent, now = Date.now()): NewVersionRow {
  return {
    bucket_id: bucketId,
    tenant_id: tenantId,
    key,
    version_id: 'null',
    is_latest: 1,
    is_delete_marker: 0,
    size: v.size,
    etag: v.etag,
    content_type: v.attributes.contentType,
    headers: JSON.stringify(v.attributes.headers),
    user_meta: JSON.stringify(v.attributes.userMeta),
    checksums: JSON.stringify(v.checksums),
    manifest: JSON.stringify(v.manifest),
    part_sizes: JSON.stringify(v.partSizes),
    created_at: now,
    tags: JSON.stringify(v.attributes.tags),
    acl: v.attributes.acl,
    lock_mode: v.lock?.mode ?? null,
    lock_until: v.lock?.until ?? null,
    legal_hold: v.lock?.legalHold ? 1 : 0,
  };
}

/** A delete marker's row: no body, no metadata. */
export function markerRowOf(bucketId: string, tenantId: string, key: string, versionId: string, now = Date.now()): NewVersionRow {
  return {
    bucket_id: bucketId,
    tenant_id: tenantId,
    key,
    version_id: versionId,
    is_latest: 1,
    is_delete_marker: 1,
    size: 0,
    etag: '',
    content_type: '',
    headers: '{}',
    user_meta: '{}',
    checksums: '{}',
    manifest: '[]',
    part_sizes: '[]',
    created_at: now,
    tags: '{}',
    acl: 'private',
    lock_mode: null,
    lock_until: null,
    legal_hold: 0,
  };
}

export function rowToVersion(row: Omit<Selectable<ObjectVersionTable>, 'id'>): ObjectVersion {
  return {
    bucketId: row.bucket_id,
    tenantId: row.tenant_id,
    key: row.key,
    versionId: row.version_id,
    seq: Number(row.seq),
    isLatest: Number(row.is_latest) === 1,
    isDeleteMarker: Number(row.is_delete_marker) === 1,
    lock: {
      mode: (row.lock_mode as LockMode | null) ?? undefined,
      until: row.lock_until === null || row.lock_until === undefined ? undefined : Number(row.lock_until),
      legalHold: Number(row.legal_hold ?? 0) === 1,
    },
    size: Number(row.size),
    etag: row.etag,
    contentType: row.content_type,
    headers: JSON.parse(row.headers),
    userMeta: JSON.parse(row.user_meta),
    checksums: JSON.parse(row.checksums),
    manifest: JSON.parse(row.manifest),
    partSizes: JSON.parse(row.part_sizes),
    lastModified: new Date(Number(row.created_at)),
    tags: JSON.parse(row.tags),
    acl: row.acl as CannedAcl,
  };
}

/** The manifest a current-version row names (what replacing it releases). */
export function manifestOfRow(row: Pick<CurrentVersion, 'manifest'>): ManifestEntry[] {
  return JSON.parse(row.manifest);
}

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
