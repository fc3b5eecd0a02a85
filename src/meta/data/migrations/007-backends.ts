/** Data-plane migration 007-backends. Shipped: never edit it; add the next one. */
import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('blobs').addColumn('enc_key', 'text').execute();
    await db.schema.alterTable('blobs').addColumn('enc_master_key_id', 'text').execute();
    await db.schema
      .alterTable('blobs')
      .addColumn('replication', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
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
    // The SQL keeps its shipped text byte for byte, indentation included (SQLite stores DDL as written).
    // Every blob written before backends existed lives in the data folder: the backend 'local'.
    await sql`INSERT INTO blob_locations (tenant_id, hash, backend, state, created_at)
          SELECT tenant_id, hash, 'local', 0, created_at FROM blobs`.execute(db);
    await sql`INSERT INTO backend_usage (backend, stored_bytes, blob_count)
          SELECT 'local', COALESCE(SUM(size), 0), COUNT(*) FROM blobs`.execute(db);
  },
};
