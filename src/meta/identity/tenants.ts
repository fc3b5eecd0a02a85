/** Tenant rows. */
import type { ControlDb } from '../handles.js';
import type { TenantTable } from '../schema.js';

export type TenantRow = TenantTable;

export async function insertTenant(db: ControlDb, row: TenantRow): Promise<void> {
  await db.insertInto('tenants').values(row).execute();
}

export function tenantByName(db: ControlDb, name: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirst();
}

export function tenantById(db: ControlDb, id: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Every tenant, by name. */
export function listTenantRows(db: ControlDb): Promise<TenantRow[]> {
  return db.selectFrom('tenants').selectAll().orderBy('name').execute();
}
