/** Data-plane migration 012-tenant-usage. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    // Whose bucket the state row counts for, so a tenant's usage is one indexed sum (tenant quotas).
    // Rows of buckets made before are filled in from the control plane after migrating (meta/migrate.ts).
    await db.schema.alterTable('bucket_state').addColumn('tenant_id', 'text').execute();
    await db.schema.createIndex('bucket_state_tenant').on('bucket_state').column('tenant_id').execute();
    // The parts of a tenant's uploads in progress count against its quota too.
    await db.schema.createIndex('multipart_uploads_tenant').on('multipart_uploads').column('tenant_id').execute();
  },
};
