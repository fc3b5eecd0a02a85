/** Data-plane migration 004-blob-verification. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('blobs').addColumn('verified_at', 'bigint').execute();
    await db.schema
      .alterTable('blobs')
      .addColumn('corrupt', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
