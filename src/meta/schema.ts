/**
 * Typed tables of the two metadata databases. Times are epoch milliseconds,
 * flags are 0/1 integers and structured values are JSON text, so the very
 * same query code runs on SQLite and PostgreSQL.
 *
 * Why one file: Kysely checks every query against one schema type per
 * database; keeping the tables side by side shows each database whole.
 */
import type { Generated } from 'kysely';

// ---- control plane: tenants, keys, buckets, users, sessions, tasks (migrations tracked as "global") ----

export interface TenantTable {
  id: string;
  name: string;
  /** 64 hex chars: the owner ID S3 responses show. */
  canonical_id: string;
  display_name: string;
  created_at: number;
  /** Storage quota over every stored version (bytes, versions); null: none. */
  quota_bytes: Generated<number | null>;
  quota_objects: Generated<number | null>;
  /** Requests per second of the whole tenant and its burst; null: the server default, 0: unlimited. */
  rate_limit: Generated<number | null>;
  rate_burst: Generated<number | null>;
  /** Requests per second of each of its access keys and their burst; null: the server default, 0: unlimited. */
  key_rate_limit: Generated<number | null>;
  key_rate_burst: Generated<number | null>;
}

export interface AccessKeyTable {
  access_key_id: string;
  tenant_id: string;
  /** AES-256-GCM ciphertext of the secret, base64 (iv|tag|ciphertext). */
  secret_enc: string;
  /** Id of the master key that encrypted secret_enc (for rotation). */
  master_key_id: string;
  created_at: number;
  /** JSON array of policy statements (core/policy.ts); null = tenant-wide. */
  policies: string | null;
  /** A label for people ("backup job"), optional. */
  name: string | null;
  /** The user id or access key id that created this key under `grant`, null for admin-made keys. */
  created_by: string | null;
}

export interface BucketTable {
  id: string;
  name: string;
  tenant_id: string;
  region: string;
  created_at: number;
  /** JSON object of bucket tags, null when none were set. */
  tags: string | null;
  /** JSON CORS rules, null when none were set. */
  cors: string | null;
  /** Canned ACL: 'private' or 'public-read' (anonymous listing). */
  acl: string;
  /** JSON bucket policy (the supported anonymous-read subset), null when none. */
  policy: string | null;
  /** Replicas of each new blob of this bucket; null: the configured default. */
  replication: Generated<number | null>;
  /** null: never versioned; 'Enabled' or 'Suspended' (a bucket never goes back to null). */
  versioning: Generated<string | null>;
  /** JSON Object Lock configuration (see core/object-lock.ts); null: Object Lock not enabled. */
  object_lock: Generated<string | null>;
  /** Storage quota of the bucket over every stored version (bytes, versions); null: none. */
  quota_bytes: Generated<number | null>;
  quota_objects: Generated<number | null>;
}

/** Operator state of a storage backend (the backends themselves are declared in the config file). */
export interface BackendStateTable {
  name: string;
  /** 1 while it is being drained (or after): it takes no new blobs. */
  draining: number;
  updated_at: number;
}

export type UserRole = 'admin' | 'member';

export interface UserTable {
  id: string;
  tenant_id: string;
  /** Lower-cased. */
  email: string;
  /** Versioned scrypt hash (core/passwords.ts). */
  password_hash: string;
  role: UserRole;
  /** JSON policy statements for members; null = the role's default. */
  policies: string | null;
  disabled: Generated<number>;
  created_at: number;
}

export interface AppPasswordTable {
  id: string;
  user_id: string;
  name: string;
  secret_hash: string;
  /** JSON policy statements narrowing the user's rights; null = the user's rights. */
  policies: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** One refresh-token family. */
export interface SessionTable {
  id: string;
  user_id: string;
  /** Set when the session was opened with an app password: its scope applies. */
  app_password_id: string | null;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  client_address: string | null;
  user_agent: string | null;
}

export interface RefreshTokenTable {
  id: string;
  session_id: string;
  /** SHA-256 of the token's secret part (hex). */
  secret_hash: string;
  created_at: number;
  expires_at: number;
  /** When it was exchanged for its successor; presenting it again is reuse. */
  used_at: number | null;
}

export interface LoginFailureTable {
  /** 'account:<tenant>:<email>' or 'address:<ip>'. */
  subject: string;
  failures: number;
  window_started_at: number;
  locked_until: number | null;
}

export interface ServerSecretTable {
  name: string;
  value_enc: string;
  master_key_id: string;
  created_at: number;
}

export type TaskStatus = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TaskTable {
  id: Generated<number>;
  type: string;
  payload: string;
  /** Lower runs first. */
  priority: number;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  next_run_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  updated_at: number;
  /** What the handler reported (work/tasks.ts TaskProgress): done of total (null: unknown), since, and when. */
  progress_done: number | null;
  progress_total: number | null;
  progress_started_at: number | null;
  progress_at: number | null;
}

export interface ControlSchema {
  tenants: TenantTable;
  access_keys: AccessKeyTable;
  buckets: BucketTable;
  tasks: TaskTable;
  users: UserTable;
  app_passwords: AppPasswordTable;
  sessions: SessionTable;
  refresh_tokens: RefreshTokenTable;
  login_failures: LoginFailureTable;
  server_secrets: ServerSecretTable;
  backend_states: BackendStateTable;
}

// ---- data plane: object versions, blobs, uploads (migrations tracked as "regional") ----

/** One row per bucket known to this region: its sequence counter and usage. */
export interface BucketStateTable {
  bucket_id: string;
  /** Last sequence number handed out; every mutation of the bucket takes the next. */
  last_seq: number;
  /** Live latest versions (what a listing shows) and their bytes. */
  object_count: number;
  byte_count: number;
  /** Every version that is not a delete marker (latest or not) and their bytes. */
  version_count: Generated<number>;
  version_bytes: Generated<number>;
  marker_count: Generated<number>;
  /** The owner (control plane buckets.tenant_id), so a tenant's usage is one indexed sum. */
  tenant_id: Generated<string | null>;
}

/** One event of the change sequence (migration 013): a mutation of a timeline, keyed by its seq. */
export interface BucketEventTable {
  timeline_id: string;
  seq: number;
  /** Orders the events at one seq: 0 for the change that took it, then bucket-level events (branch, tag). */
  sub: number;
  bucket_id: string;
  tenant_id: string;
  name: string;
  key: string | null;
  version_id: string | null;
  size: number | null;
  etag: string | null;
  /** JSON object, or null. */
  detail: string | null;
  created_at: number;
}

/** Per timeline, the last event the retention job removed. */
export interface EventHorizonTable {
  timeline_id: string;
  seq: number;
  sub: number;
}

/** A blob reference inside an object's manifest: [BLAKE3 hex, size]. */
export type ManifestEntry = [hash: string, size: number];

export interface ObjectVersionTable {
  id: Generated<number>;
  bucket_id: string;
  tenant_id: string;
  key: string;
  version_id: string;
  seq: number;
  is_latest: number;
  is_delete_marker: number;
  size: number;
  etag: string;
  content_type: string;
  /** JSON object of stored standard headers (cache-control, content-encoding, ...). */
  headers: string;
  /** JSON object of user metadata (names without the x-amz-meta- prefix). */
  user_meta: string;
  /** JSON object algorithm -> base64 value (crc32, crc32c, sha1, sha256). */
  checksums: string;
  /** JSON array of ManifestEntry: the blobs whose concatenation is the body. */
  manifest: string;
  /** JSON array of part sizes for multipart objects, '[]' otherwise. */
  part_sizes: string;
  created_at: number;
  /** JSON object of object tags. */
  tags: string;
  /** Canned ACL: 'private' or 'public-read'. */
  acl: string;
  /** Object Lock retention: 'GOVERNANCE' or 'COMPLIANCE' until lock_until (ms), or null. */
  lock_mode: Generated<string | null>;
  lock_until: Generated<number | null>;
  /** 1 while a legal hold is on. */
  legal_hold: Generated<number>;
}

export interface BlobTable {
  tenant_id: string;
  hash: string;
  /** Unique suffix of the file holding this blob (see storage/blob-store.ts). */
  file_id: string;
  size: number;
  ref_count: number;
  created_at: number;
  /** When the scrubber last re-hashed the file. */
  verified_at: Generated<number | null>;
  /** 1 when the file no longer matches its hash (or is missing). */
  corrupt: Generated<number>;
  /** The data key (wrapped by the master key, crypto/keys.ts) when the stored bytes are encrypted. */
  enc_key: Generated<string | null>;
  /** Which master key wrapped enc_key. */
  enc_master_key_id: Generated<string | null>;
  /** How many replicas the blob should have (the largest factor of the buckets that wrote it). */
  replication: Generated<number>;
}

/** A replica of a blob: the backend holding it (at the locator its tenant, hash and file_id name). */
export interface BlobLocationTable {
  tenant_id: string;
  hash: string;
  backend: string;
  /** LOCATION_OK, or LOCATION_BAD once a read or the scrub found it missing or corrupt (to repair). */
  state: number;
  created_at: number;
}

/** Bytes stored per backend, moved in the same transaction as the blob and location rows. */
export interface BackendUsageTable {
  backend: string;
  stored_bytes: number;
  blob_count: number;
}

/** Requests and bytes in and out per backend and calendar month (UTC), for monthly limits. */
export interface BackendMonthlyTable {
  backend: string;
  /** 'YYYY-MM'. */
  month: string;
  requests: number;
  ingress_bytes: number;
  egress_bytes: number;
}

export interface MultipartUploadTable {
  upload_id: string;
  bucket_id: string;
  tenant_id: string;
  key: string;
  content_type: string;
  headers: string;
  user_meta: string;
  checksum_algorithm: string | null;
  created_at: number;
  tags: string;
  acl: string;
  /** JSON VersionLock the upload asked for (applied at completion), or null. */
  lock: Generated<string | null>;
}

export interface MultipartPartTable {
  upload_id: string;
  part_number: number;
  blob_hash: string | null;
  size: number;
  etag: string;
  checksums: string;
  created_at: number;
}

/**
 * The answer of a completed multipart upload, kept for a bounded time so a
 * Complete retried by a client that lost the first answer gets that answer
 * again (S3 does the same) instead of NoSuchUpload.
 */
export interface MultipartCompletionTable {
  upload_id: string;
  bucket_id: string;
  key: string;
  /** SHA-256 (hex) of the part list the upload was completed with (part numbers and ETags). */
  parts_digest: string;
  /** The completed object's ETag and checksums (JSON), and its stored headers (JSON, for the SSE response headers). */
  etag: string;
  checksums: string;
  headers: string;
  completed_at: number;
  /** The id of the version the completion made. */
  version_id: Generated<string | null>;
}

export interface CleanupQueueTable {
  id: Generated<number>;
  tenant_id: string;
  hash: string;
  file_id: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  /** JSON array of the backends whose replicas are being removed (set once the blob row is gone). */
  backends: Generated<string | null>;
}

export interface CleanupDeadLetterTable {
  id: Generated<number>;
  tenant_id: string;
  hash: string;
  file_id: string;
  attempts: number;
  last_error: string | null;
  created_at: number;
  failed_at: number;
  /** JSON array of the backends whose replicas are being removed (set once the blob row is gone). */
  backends: Generated<string | null>;
}

export interface WriteIntentTable {
  id: string;
  node_id: string;
  tenant_id: string;
  created_at: number;
}

export interface DataSchema {
  bucket_state: BucketStateTable;
  object_versions: ObjectVersionTable;
  blobs: BlobTable;
  multipart_uploads: MultipartUploadTable;
  multipart_parts: MultipartPartTable;
  multipart_completions: MultipartCompletionTable;
  cleanup_queue: CleanupQueueTable;
  cleanup_dead_letters: CleanupDeadLetterTable;
  write_intents: WriteIntentTable;
  blob_locations: BlobLocationTable;
  backend_usage: BackendUsageTable;
  backend_monthly: BackendMonthlyTable;
  branches: BranchTable;
  branch_levels: BranchLevelTable;
  commits: CommitTable;
  tags: TagTable;
  bucket_events: BucketEventTable;
  event_horizons: EventHorizonTable;
}

// ---- branches of a bucket (data plane; see meta/branches/) ----

/** A named timeline of a bucket. `main` is the bucket's own (timeline_id = bucket id). */
export interface BranchTable {
  bucket_id: string;
  name: string;
  /** The id its version rows carry in object_versions.bucket_id. */
  timeline_id: string;
  parent_id: string | null;
  /** The parent's last sequence number that shows through on this branch. */
  fork_seq: number | null;
  depth: number;
  /** 1 once its ancestors' visible rows were copied in: reads no longer go through them. */
  flattened: Generated<number>;
  head_commit: string | null;
  created_at: number;
  created_by: string;
}

/** Level 0 is the timeline itself; level i its i-th ancestor, read up to `ceiling`. */
export interface BranchLevelTable {
  timeline_id: string;
  level: number;
  ancestor_id: string;
  ceiling: number | null;
}

export interface CommitTable {
  bucket_id: string;
  id: string;
  timeline_id: string;
  seq: number;
  generation: number;
  /** JSON array of parent commit ids, first parent first. */
  parents: string;
  author: string;
  message: string;
  created_at: number;
}

export interface TagTable {
  bucket_id: string;
  name: string;
  commit_id: string;
  created_at: number;
  created_by: string;
}
