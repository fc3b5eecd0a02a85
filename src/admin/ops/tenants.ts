/** Tenants: the operations behind /admin/v1/tenants… and `anvil admin tenant …`. */
import { tenantStoredUsage } from '../../core/objects/quota.js';
import type { Tenant, TenantLimitsChange } from '../../core/tenants.js';
import { DELETE_TENANT_TASK, type DeleteTenantPayload } from '../../work/task-names.js';
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

/** What deleting a tenant did: gone at once, or (force, with buckets) a task deleting them first. */
export interface TenantDeletion {
  tenant: string;
  /** true: the tenant is gone. false: its access is revoked and `task` deletes its buckets, then it. */
  deleted: boolean;
  task?: number;
  buckets?: number;
}

/**
 * Deletes a tenant: refused (409 TenantNotEmpty) while it owns buckets,
 * unless `force`: then its keys, users and sessions go at once (it can do
 * nothing more) and a background task deletes every bucket with all its
 * versions (Object Lock refuses, as for a bucket's force delete), then
 * the tenant. The root tenant is never deleted.
 */
export async function deleteTenant(s: AdminServices, name: string, force: boolean): Promise<TenantDeletion> {
  const t = await s.tenants.findTenant(name);
  const owned = t ? await s.buckets.listForTenant(t.id) : [];
  if (!t || owned.length === 0 || !force) {
    await s.tenants.deleteTenant(name, owned.length);
    return { tenant: name, deleted: true };
  }
  await s.tenants.revokeAccess(name);
  const task = await s.tasks.enqueue(DELETE_TENANT_TASK, { tenantId: t.id, tenant: name } satisfies DeleteTenantPayload);
  return { tenant: name, deleted: false, task, buckets: owned.length };
}
