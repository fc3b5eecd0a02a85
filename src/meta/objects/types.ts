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

export interface ObjectVersion extends ObjectAttributes {
  bucketId: string;
  tenantId: string;
  key: string;
  versionId: string;
  seq: number;
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
export type CurrentVersion = Pick<Selectable<ObjectVersionTable>, 'id' | 'seq' | 'manifest' | 'size' | 'tenant_id' | 'etag'>;

/** What a new latest version holds, before it is a row. */
export interface VersionContent {
  size: number;
  etag: string;
  attributes: ObjectAttributes;
  checksums: StoredChecksums;
  manifest: ManifestEntry[];
  partSizes: number[];
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
  };
}

export function rowToVersion(row: Omit<Selectable<ObjectVersionTable>, 'id'>): ObjectVersion {
  return {
    bucketId: row.bucket_id,
    tenantId: row.tenant_id,
    key: row.key,
    versionId: row.version_id,
    seq: Number(row.seq),
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
