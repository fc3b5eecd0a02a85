/**
 * Applies the pending migrations of both schemas at start, each tracked in
 * its own table (they may share one SQLite file). Kysely's Migrator takes a
 * lock, so several Anvil processes starting on one PostgreSQL are safe.
 */
import { type Kysely, type Migration, Migrator } from 'kysely';

import { fillStateOwners } from './buckets/usage.js';
import { controlMigrations } from './control/migrations/index.js';
import { dataMigrations } from './data/migrations/index.js';
import type { MetaDatabases } from './engine.js';

async function migrate(db: Kysely<any>, area: string, migrations: Record<string, Migration>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: `anvil_migrations_${area}`,
    migrationLockTableName: `anvil_migrations_${area}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`${area} migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}

export async function migrateAll(meta: MetaDatabases): Promise<void> {
  await migrate(meta.control, 'global', controlMigrations(meta.kind));
  await migrate(meta.data, 'regional', dataMigrations(meta.kind));
  // 012-tenant-usage added the owner to bucket_state; the data plane alone cannot know it.
  await fillStateOwners(meta.control, meta.data);
}
