/** Migrations of the global (control-plane) schema, in order. Never edit one that shipped; add the next. */
import { sql, type Kysely, type Migration } from 'kysely';
import type { EngineKind } from '../engine.js';

export function globalMigrations(kind: EngineKind): Record<string, Migration> {
  const autoId = kind === 'postgres' ? sql`bigserial` : sql`integer`;
  return {
    '001-init': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('tenants')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('canonical_id', 'text', (c) => c.notNull().unique())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('access_keys')
          .addColumn('access_key_id', 'text', (c) => c.primaryKey())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('secret_enc', 'text', (c) => c.notNull())
          .addColumn('master_key_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('access_keys_tenant').on('access_keys').column('tenant_id').execute();
        await db.schema
          .createTable('buckets')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('region', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('buckets_tenant_name').on('buckets').columns(['tenant_id', 'name']).execute();
      },
    },
    '002-bucket-tags-cors': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('buckets').addColumn('tags', 'text').execute();
        await db.schema.alterTable('buckets').addColumn('cors', 'text').execute();
      },
    },
    '003-tasks': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('tasks')
          .addColumn('id', autoId, (c) => c.primaryKey().notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('priority', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('max_attempts', 'integer', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('next_run_at', 'bigint', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_expires_at', 'bigint')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tasks_due').on('tasks').columns(['status', 'priority', 'next_run_at']).execute();
      },
    },
  };
}
