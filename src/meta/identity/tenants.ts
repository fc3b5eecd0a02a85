/** Tenant rows. */
import type { Insertable, Selectable } from 'kysely';

import type { ControlDb } from '../handles.js';
import type { TenantTable } from '../schema.js';

export type TenantRow = Selectable<TenantTable>;

export async function insertTenant(db: ControlDb, row: Insertable<TenantTable>): Promise<void> {
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

/** A tenant's quotas and rate limits, each a column: absent ones stay, null resets one. */
export type TenantLimitColumns = Partial<
  Pick<TenantRow, 'quota_bytes' | 'quota_objects' | 'rate_limit' | 'rate_burst' | 'key_rate_limit' | 'key_rate_burst'>
>;

/** Whether the tenant exists (and was changed). */
export async function updateTenantLimits(db: ControlDb, tenantId: string, change: TenantLimitColumns): Promise<boolean> {
  if (!Object.keys(change).length) return (await tenantById(db, tenantId)) !== undefined;
  const res = await db.updateTable('tenants').set(change).where('id', '=', tenantId).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** The storage quota of a tenant (null: none), for a write's quota check. */
export function tenantQuotaRow(db: ControlDb, tenantId: string) {
  return db.selectFrom('tenants').select(['quota_bytes', 'quota_objects']).where('id', '=', tenantId).executeTakeFirst();
}

/**
 * Deletes a tenant; its access keys, users, their app passwords, sessions
 * and refresh tokens go with it (ON DELETE CASCADE). Refused by the
 * database while a bucket row still names it. Whether it existed.
 */
export async function deleteTenantRow(db: ControlDb, tenantId: string): Promise<boolean> {
  const res = await db.deleteFrom('tenants').where('id', '=', tenantId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Takes every way in away from a tenant (its keys and users, sessions by cascade) but keeps the tenant row. */
export async function revokeTenantAccess(db: ControlDb, tenantId: string): Promise<void> {
  await db.deleteFrom('access_keys').where('tenant_id', '=', tenantId).execute();
  await db.deleteFrom('users').where('tenant_id', '=', tenantId).execute();
}
