/**
 * Whether a plane's schema is what this build expects, for the readiness
 * probe (GET /-/ready): the migrations this build knows that its migration
 * table has not recorded. One small read per plane; it also proves the
 * database answers. Migrations another (newer) node recorded and this build
 * does not know are not counted: they are that node's business.
 */
import { sql } from 'kysely';

import { controlMigrations } from './control/migrations/index.js';
import { dataMigrations } from './data/migrations/index.js';
import type { MetaDatabases } from './engine.js';

export type Plane = 'control' | 'data';

/** The migration table of each plane (names the deployments have recorded: see migrate.ts). */
const TABLES: Record<Plane, string> = { control: 'anvil_migrations_global', data: 'anvil_migrations_regional' };

/** Names of this build's migrations of `plane` that its database has not applied (empty: migrated). */
export async function pendingMigrations(meta: MetaDatabases, plane: Plane): Promise<string[]> {
  const db = plane === 'control' ? meta.control : meta.data;
  const known = Object.keys(plane === 'control' ? controlMigrations(meta.kind) : dataMigrations(meta.kind));
  const { rows } = await sql<{ name: string }>`SELECT name FROM ${sql.table(TABLES[plane])}`.execute(db);
  const applied = new Set(rows.map((r) => r.name));
  return known.filter((name) => !applied.has(name));
}
