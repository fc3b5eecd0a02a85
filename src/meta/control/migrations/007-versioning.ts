/** Control-plane migration 007-versioning. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    // null: never versioned; 'Enabled' or 'Suspended' once PutBucketVersioning was called (never back to null).
    await db.schema.alterTable('buckets').addColumn('versioning', 'text').execute();
    // JSON Object Lock configuration ({ enabled: true, rule?: { mode, days | years } }); null: lock not enabled.
    await db.schema.alterTable('buckets').addColumn('object_lock', 'text').execute();
  },
};
