/** Tenants: the operations behind /admin/v1/tenants… and `anvil admin tenant …`. */
import { tenantStoredUsage } from '../../core/objects/quota.js';
import type { Tenant, TenantLimitsChange } from '../../core/tenants.js';
import type { AdminServices } from '../deps.js';

/** A tenant as the API shows it: with its quota, rate limits and what its quota counts now. */
export type TenantView = Tenant & { usage: { bytes: number; objects: number } };

export async function tenantView(s: AdminServices, t: Tenant): Promise<TenantView> {
  return { ...t, usage: await tenantStoredUsage(s.core, t.id) };
}

export async function listTenants(s: AdminServices): Promise<TenantView[]> {
  const out = [];
  for (const t of await s.tenants.listTenants()) out.push(await tenantView(s, t));
  return out;
}

export async function createTenant(s: AdminServices, name: string): Promise<TenantView> {
  return tenantView(s, await s.tenants.createTenant(name));
}

export async function showTenant(s: AdminServices, name: string): Promise<TenantView> {
  const t = await s.tenants.findTenant(name);
  if (!t) throw new Error(`no tenant named ${name}`);
  return tenantView(s, t);
}

/** Sets a tenant's quota and rate limits (absent fields stay, null resets one). */
export async function setTenantLimits(s: AdminServices, name: string, change: TenantLimitsChange): Promise<TenantView> {
  return tenantView(s, await s.tenants.setLimits(name, change));
}
