/** Control-plane migration 008-limits. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    // Storage quotas (core/objects/quota.ts): bytes and objects of every stored version; null: none.
    await db.schema.alterTable('tenants').addColumn('quota_bytes', 'bigint').execute();
    await db.schema.alterTable('tenants').addColumn('quota_objects', 'bigint').execute();
    await db.schema.alterTable('buckets').addColumn('quota_bytes', 'bigint').execute();
    await db.schema.alterTable('buckets').addColumn('quota_objects', 'bigint').execute();
    // Request rate limits of the tenant as a whole and of each of its keys (requests per second,
    // and the burst a token bucket holds); null: the server's default (config rate_limit_*), 0: none.
    await db.schema.alterTable('tenants').addColumn('rate_limit', 'double precision').execute();
    await db.schema.alterTable('tenants').addColumn('rate_burst', 'integer').execute();
    await db.schema.alterTable('tenants').addColumn('key_rate_limit', 'double precision').execute();
    await db.schema.alterTable('tenants').addColumn('key_rate_burst', 'integer').execute();
  },
};
