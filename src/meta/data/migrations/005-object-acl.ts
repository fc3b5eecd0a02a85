/** Data-plane migration 005-object-acl. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    // Canned ACL of the version ('private' or 'public-read'), and of the object an upload will become.
    await db.schema
      .alterTable('object_versions')
      .addColumn('acl', 'text', (c) => c.notNull().defaultTo('private'))
      .execute();
    await db.schema
      .alterTable('multipart_uploads')
      .addColumn('acl', 'text', (c) => c.notNull().defaultTo('private'))
      .execute();
  },
};
