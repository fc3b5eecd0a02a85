/** Tenants: the operations behind POST/GET /admin/v1/tenants and `anvil admin tenant …`. */
import type { Tenant } from '../../core/tenants.js';
import type { AdminServices } from '../deps.js';

export function listTenants(s: AdminServices): Promise<Tenant[]> {
  return s.tenants.listTenants();
}

export function createTenant(s: AdminServices, name: string): Promise<Tenant> {
  return s.tenants.createTenant(name);
}
