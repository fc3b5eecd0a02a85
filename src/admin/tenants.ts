/**
 * Tenants: list and create (root only); read one (root, or members of that
 * tenant), with its storage quota, request rate limits and the usage its
 * quota counts; change the quota and rate limits (root only).
 */
import { requireRoot, visibleTenant } from './access.js';
import { createTenant, listTenants, setTenantLimits, tenantView } from './ops/tenants.js';
import { route } from './route.js';
import { CreateTenant, Tenant, TenantList, TenantSettings } from './schemas.js';

export const tenantRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/tenants',
    tag: 'tenants',
    summary: 'List tenants with their quotas, rate limits and usage',
    access: 'root',
    auth: 'any',
    response: TenantList,
    async handle({ principal, deps }) {
      requireRoot(principal);
      return { tenants: await listTenants(deps) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/tenants',
    tag: 'tenants',
    summary: 'Create a tenant',
    access: 'root',
    auth: 'any',
    body: CreateTenant,
    response: Tenant,
    status: 201,
    async handle({ principal, body, deps }) {
      requireRoot(principal);
      return createTenant(deps, body.name);
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/tenants/:tenant',
    tag: 'tenants',
    summary: 'Show a tenant: its storage quota, request rate limits, and the usage the quota counts',
    access: 'root, or anyone of that tenant',
    auth: 'any',
    response: Tenant,
    async handle({ principal, params, deps }) {
      return tenantView(deps, await visibleTenant(principal, params.tenant, deps));
    },
  }),
  route({
    method: 'PATCH',
    path: '/admin/v1/tenants/:tenant',
    tag: 'tenants',
    summary: "Change a tenant's storage quota and request rate limits (absent fields stay; null resets one)",
    access: 'root',
    auth: 'any',
    body: TenantSettings,
    response: Tenant,
    async handle({ principal, params, body, deps }) {
      requireRoot(principal);
      const tenant = await visibleTenant(principal, params.tenant, deps);
      return setTenantLimits(deps, tenant.name, body);
    },
  }),
];
