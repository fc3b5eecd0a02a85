/** Data-plane migration 002-object-tags. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('object_versions')
      .addColumn('tags', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
    await db.schema
      .alterTable('multipart_uploads')
      .addColumn('tags', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
  },
};
