/** Control-plane migration 006-backends. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('buckets').addColumn('replication', 'integer').execute();
    await db.schema
      .createTable('backend_states')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('draining', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
