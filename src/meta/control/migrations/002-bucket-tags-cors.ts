/** Control-plane migration 002-bucket-tags-cors. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('buckets').addColumn('tags', 'text').execute();
    await db.schema.alterTable('buckets').addColumn('cors', 'text').execute();
  },
};
