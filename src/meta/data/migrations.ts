/** Migrations of the data-plane schema (objects, blobs, uploads), in order. Never edit one that shipped; add the next. */
import { sql, type Kysely, type Migration } from 'kysely';
import type { EngineKind } from '../engine.js';

export function dataMigrations(kind: EngineKind): Record<string, Migration> {
  // S3 lists keys in UTF-8 byte order. SQLite's default BINARY collation is
  // byte order already; PostgreSQL needs COLLATE "C" (see DESIGN.md pitfalls).
  const keyType = kind === 'postgres' ? sql`text collate "C"` : sql`text`;
  const autoId = kind === 'postgres' ? sql`bigserial` : sql`integer`;
  return {
    '001-init': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('bucket_state')
          .addColumn('bucket_id', 'text', (c) => c.primaryKey())
          .addColumn('last_seq', 'bigint', (c) => c.notNull())
          .addColumn('object_count', 'bigint', (c) => c.notNull())
          .addColumn('byte_count', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('object_versions')
          .addColumn('id', autoId, (c) => c.primaryKey().notNull())
          .addColumn('bucket_id', 'text', (c) => c.notNull())
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('key', keyType, (c) => c.notNull())
          .addColumn('version_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('is_latest', 'integer', (c) => c.notNull())
          .addColumn('is_delete_marker', 'integer', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('headers', 'text', (c) => c.notNull())
          .addColumn('user_meta', 'text', (c) => c.notNull())
          .addColumn('checksums', 'text', (c) => c.notNull())
          .addColumn('manifest', 'text', (c) => c.notNull())
          .addColumn('part_sizes', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        // At most one latest version per key; also the index listings seek on.
        await db.schema
          .createIndex('object_versions_latest')
          .on('object_versions')
          .columns(['bucket_id', 'key'])
          .unique()
          .where(sql.ref('is_latest'), '=', 1)
          .execute();
        await db.schema
          .createIndex('object_versions_history')
          .on('object_versions')
          .columns(['bucket_id', 'key', 'seq'])
          .execute();
        await db.schema
          .createTable('blobs')
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('file_id', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('ref_count', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('blobs_pk', ['tenant_id', 'hash'])
          .execute();
        await db.schema
          .createTable('multipart_uploads')
          .addColumn('upload_id', 'text', (c) => c.primaryKey())
          .addColumn('bucket_id', 'text', (c) => c.notNull())
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('key', keyType, (c) => c.notNull())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('headers', 'text', (c) => c.notNull())
          .addColumn('user_meta', 'text', (c) => c.notNull())
          .addColumn('checksum_algorithm', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('multipart_uploads_bucket_key')
          .on('multipart_uploads')
          .columns(['bucket_id', 'key', 'created_at'])
          .execute();
        await db.schema
          .createTable('multipart_parts')
          .addColumn('upload_id', 'text', (c) => c.notNull())
          .addColumn('part_number', 'integer', (c) => c.notNull())
          .addColumn('blob_hash', 'text')
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('checksums', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('multipart_parts_pk', ['upload_id', 'part_number'])
          .execute();
      },
    },
    '002-object-tags': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('object_versions').addColumn('tags', 'text', (c) => c.notNull().defaultTo('{}')).execute();
        await db.schema.alterTable('multipart_uploads').addColumn('tags', 'text', (c) => c.notNull().defaultTo('{}')).execute();
      },
    },
    '003-cleanup-queue-and-intents': {
      async up(db: Kysely<any>) {
        // Blobs whose last reference went away: their rows and files are removed by a worker.
        await db.schema
          .createTable('cleanup_queue')
          .addColumn('id', autoId, (c) => c.primaryKey().notNull())
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('file_id', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('lease_owner', 'text')
          .addColumn('lease_expires_at', 'bigint')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('cleanup_queue_due').on('cleanup_queue').columns(['next_attempt_at', 'id']).execute();
        await db.schema
          .createTable('cleanup_dead_letters')
          .addColumn('id', autoId, (c) => c.primaryKey().notNull())
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('file_id', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('failed_at', 'bigint', (c) => c.notNull())
          .execute();
        // A write in progress: its files (tmp/<id>, blobs/…/<hash>.<id>) belong to node_id until it commits.
        await db.schema
          .createTable('write_intents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('node_id', 'text', (c) => c.notNull())
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('write_intents_node').on('write_intents').column('node_id').execute();
      },
    },
    '004-blob-verification': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('blobs').addColumn('verified_at', 'bigint').execute();
        await db.schema.alterTable('blobs').addColumn('corrupt', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      },
    },
    '005-object-acl': {
      async up(db: Kysely<any>) {
        // Canned ACL of the version ('private' or 'public-read'), and of the object an upload will become.
        await db.schema.alterTable('object_versions').addColumn('acl', 'text', (c) => c.notNull().defaultTo('private')).execute();
        await db.schema.alterTable('multipart_uploads').addColumn('acl', 'text', (c) => c.notNull().defaultTo('private')).execute();
      },
    },
    '006-object-listing-index': {
      async up(db: Kysely<any>) {
        // Listing reads only this index: live latest versions with the columns a listing returns
        // (an index-only range scan, and one index seek per entry of a delimiter walk).
        if (kind === 'postgres') {
          await sql`CREATE INDEX object_versions_listing ON object_versions (bucket_id, key)
            INCLUDE (size, etag, created_at) WHERE is_latest = 1 AND is_delete_marker = 0`.execute(db);
        } else {
          await sql`CREATE INDEX object_versions_listing ON object_versions (bucket_id, key, size, etag, created_at)
            WHERE is_latest = 1 AND is_delete_marker = 0`.execute(db);
        }
      },
    },
      '007-backends': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('blobs').addColumn('enc_key', 'text').execute();
        await db.schema.alterTable('blobs').addColumn('enc_master_key_id', 'text').execute();
        await db.schema.alterTable('blobs').addColumn('replication', 'integer', (c) => c.notNull().defaultTo(1)).execute();
        await db.schema
          .createTable('blob_locations')
          .addColumn('tenant_id', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('backend', 'text', (c) => c.notNull())
          .addColumn('state', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('blob_locations_pk', ['tenant_id', 'hash', 'backend'])
          .execute();
        // Drain, removal and reconciliation walk one backend's replicas in blob order.
        await db.schema.createIndex('blob_locations_backend').on('blob_locations').columns(['backend', 'tenant_id', 'hash']).execute();
        await db.schema
          .createTable('backend_usage')
          .addColumn('backend', 'text', (c) => c.primaryKey())
          .addColumn('stored_bytes', 'bigint', (c) => c.notNull())
          .addColumn('blob_count', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('backend_monthly')
          .addColumn('backend', 'text', (c) => c.notNull())
          .addColumn('month', 'text', (c) => c.notNull())
          .addColumn('requests', 'bigint', (c) => c.notNull())
          .addColumn('ingress_bytes', 'bigint', (c) => c.notNull())
          .addColumn('egress_bytes', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('backend_monthly_pk', ['backend', 'month'])
          .execute();
        // A collected blob's backends, recorded when its row and locations are deleted (retries need them).
        await db.schema.alterTable('cleanup_queue').addColumn('backends', 'text').execute();
        await db.schema.alterTable('cleanup_dead_letters').addColumn('backends', 'text').execute();
        // Every blob written before backends existed lives in the data folder: the backend 'local'.
        await sql`INSERT INTO blob_locations (tenant_id, hash, backend, state, created_at)
          SELECT tenant_id, hash, 'local', 0, created_at FROM blobs`.execute(db);
        await sql`INSERT INTO backend_usage (backend, stored_bytes, blob_count)
          SELECT 'local', COALESCE(SUM(size), 0), COUNT(*) FROM blobs`.execute(db);
      },
    },
    '008-multipart-completions': {
      async up(db: Kysely<any>) {
        // What a completed upload answered, so a retried Complete can answer it again (for a bounded time).
        await db.schema
          .createTable('multipart_completions')
          .addColumn('upload_id', 'text', (c) => c.primaryKey())
          .addColumn('bucket_id', 'text', (c) => c.notNull())
          .addColumn('key', keyType, (c) => c.notNull())
          .addColumn('parts_digest', 'text', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('checksums', 'text', (c) => c.notNull())
          .addColumn('headers', 'text', (c) => c.notNull())
          .addColumn('completed_at', 'bigint', (c) => c.notNull())
          .execute();
        // The pruning of records past the retry window walks this index.
        await db.schema.createIndex('multipart_completions_completed_at').on('multipart_completions').column('completed_at').execute();
      },
    },
  };
}
