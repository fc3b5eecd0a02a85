/** Tenants: list and create (root only); read one (root, or members of that tenant). */
import { requireRoot, visibleTenant } from './access.js';
import { createTenant, listTenants } from './ops/tenants.js';
import { route } from './route.js';
import { CreateTenant, Tenant, TenantList } from './schemas.js';

export const tenantRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/tenants',
    tag: 'tenants',
    summary: 'List tenants',
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
    summary: 'Show a tenant',
    access: 'root, or anyone of that tenant',
    auth: 'any',
    response: Tenant,
    async handle({ principal, params, deps }) {
      return visibleTenant(principal, params.tenant, deps);
    },
  }),
];
