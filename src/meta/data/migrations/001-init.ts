/** Data-plane migration 001-init. Shipped: never edit it; add the next one. */
import { type Kysely, type Migration, sql } from 'kysely';

import { autoIdType, keyType } from '../../column-types.js';
import type { EngineKind } from '../../handles.js';

export function migration(kind: EngineKind): Migration {
  return {
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
        .addColumn('id', autoIdType(kind), (c) => c.primaryKey().notNull())
        .addColumn('bucket_id', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('key', keyType(kind), (c) => c.notNull())
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
      await db.schema.createIndex('object_versions_history').on('object_versions').columns(['bucket_id', 'key', 'seq']).execute();
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
        .addColumn('key', keyType(kind), (c) => c.notNull())
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
  };
}
