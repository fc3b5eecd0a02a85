/**
 * Tenants: list and create (root only); read one (root, or members of that
 * tenant), with its storage quota, request rate limits and the usage its
 * quota counts; change the quota and rate limits (root only).
 */
import { z } from 'zod';

import { requireRoot, visibleTenant } from './access.js';
import { createTenant, deleteTenant, listTenants, setTenantLimits, tenantView } from './ops/tenants.js';
import { Reply, route } from './route.js';
import { CreateTenant, ForceQuery, Tenant, TenantList, TenantSettings } from './schemas.js';

const TenantDeleted = z
  .object({
    tenant: z.string(),
    deleted: z.boolean().describe('true: gone; false: its access is revoked and `task` deletes its buckets, then it'),
    task: z.number().int().optional(),
    buckets: z.number().int().optional().describe('buckets the task will delete'),
  })
  .meta({ id: 'TenantDeleted' });

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
  route({
    method: 'DELETE',
    path: '/admin/v1/tenants/:tenant',
    tag: 'tenants',
    summary:
      'Delete a tenant (409 while it owns buckets); with force=true its access ends at once and a task deletes its buckets, then it (202)',
    access: 'root',
    auth: 'any',
    query: ForceQuery,
    response: TenantDeleted,
    otherStatuses: [{ status: 202, description: 'Accepted: a delete-tenant task will delete its buckets, then it' }],
    async handle({ principal, params, query, deps }) {
      requireRoot(principal);
      const tenant = await visibleTenant(principal, params.tenant, deps);
      const result = await deleteTenant(deps, tenant.name, query.force === 'true');
      return result.task === undefined ? result : new Reply(202, result);
    },
  }),
];
