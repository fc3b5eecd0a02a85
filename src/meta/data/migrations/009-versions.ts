/** Data-plane migration 009-versions. Shipped: never edit it; add the next one. */
import { type Kysely, type Migration, sql } from 'kysely';

import type { EngineKind } from '../../handles.js';

export function migration(kind: EngineKind): Migration {
  return {
    async up(db: Kysely<any>) {
      // Object Lock, per version: retention mode and date, legal hold.
      await db.schema.alterTable('object_versions').addColumn('lock_mode', 'text').execute();
      await db.schema.alterTable('object_versions').addColumn('lock_until', 'bigint').execute();
      await db.schema
        .alterTable('object_versions')
        .addColumn('legal_hold', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // A key's history newest first: ListObjectVersions reads it in this order without a sort and
      // without a table row (the index covers the columns a listing returns), and a delete of the
      // latest version finds the one to promote with one seek.
      // The SQL keeps its shipped text byte for byte (SQLite stores DDL as written).
      if (kind === 'postgres') {
        await sql`CREATE INDEX object_versions_newest ON object_versions (bucket_id, key, seq DESC)
            INCLUDE (version_id, is_latest, is_delete_marker, size, etag, created_at)`.execute(db);
      } else {
        await sql`CREATE INDEX object_versions_newest ON object_versions
            (bucket_id, key, seq DESC, version_id, is_latest, is_delete_marker, size, etag, created_at)`.execute(db);
      }
      // A version by its id; also at most one "null" version per key.
      await db.schema
        .createIndex('object_versions_by_id')
        .on('object_versions')
        .columns(['bucket_id', 'key', 'version_id'])
        .unique()
        .execute();
      await db.schema.dropIndex('object_versions_history').execute();
      // Usage of every version (object_count and byte_count count the live latest ones).
      await db.schema
        .alterTable('bucket_state')
        .addColumn('version_count', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('bucket_state')
        .addColumn('version_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('bucket_state')
        .addColumn('marker_count', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      // The Object Lock a multipart upload asks for (JSON VersionLock), applied when it completes.
      await db.schema.alterTable('multipart_uploads').addColumn('lock', 'text').execute();
      // The version a completed upload made, for the answer to a retried Complete.
      await db.schema.alterTable('multipart_completions').addColumn('version_id', 'text').execute();
      // Until now every version was its key's only one.
      await sql`UPDATE bucket_state SET version_count = object_count, version_bytes = byte_count`.execute(db);
    },
  };
}
