/**
 * Access keys of a tenant. Admins (and root) manage every key of the
 * tenant. Anyone else may create keys only under `grant` — at most their
 * own rights, keeping their denies (TenantService.createKey with a grantor;
 * a PolicyError becomes 403) — and list or delete only the keys they made.
 */
import type { AccessKeyInfo } from '../core/tenants.js';
import { isAdminOf, visibleTenant } from './access.js';
import type { Principal } from './auth.js';
import { adminErrors } from './errors.js';
import { createKey, deleteKey, listKeys } from './ops/keys.js';
import { route } from './route.js';
import { AccessKeyList, CreatedKey, CreateKey, iso } from './schemas.js';

function keyJson(k: AccessKeyInfo) {
  return { ...k, createdAt: iso(k.createdAt) };
}

/** What `created_by` records for a key this principal makes: TenantService.lookupKey re-checks the maker's rights by it. */
function creatorRef(p: Principal): string {
  return `${p.kind}:${p.id}`;
}

/** Keys a non-admin may see and delete: the ones it created. */
function madeBy(p: Principal, k: AccessKeyInfo): boolean {
  return k.createdBy !== null && k.createdBy === creatorRef(p);
}

/** App-password sessions never manage credentials (they are for tools, and may be stolen with the tool). */
function refuseAppPasswordSession(p: Principal): void {
  if (p.user?.appPasswordId) throw adminErrors.forbidden('sessions opened with an app password may not manage access keys');
}

export const keyRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/tenants/:tenant/keys',
    tag: 'keys',
    summary: "List a tenant's access keys (never their secrets)",
    access: 'tenant admin: every key; others: the keys they created',
    auth: 'any',
    response: AccessKeyList,
    async handle({ principal, params, deps }) {
      const tenant = await visibleTenant(principal, params.tenant, deps);
      const keys = await listKeys(deps, tenant.name);
      const visible = isAdminOf(principal, tenant.id) ? keys : keys.filter((k) => madeBy(principal, k));
      return { keys: visible.map(keyJson) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/tenants/:tenant/keys',
    tag: 'keys',
    summary: 'Create an access key (the secret is returned once)',
    access: 'tenant admin; others with the grant action, for at most their own rights',
    auth: 'any',
    body: CreateKey,
    response: CreatedKey,
    status: 201,
    async handle({ principal, params, body, deps }) {
      refuseAppPasswordSession(principal);
      const tenant = await visibleTenant(principal, params.tenant, deps);
      const admin = isAdminOf(principal, tenant.id);
      // Key ids are one namespace across tenants: only root may choose them (a clash would reveal another tenant's key).
      if (body.accessKeyId && principal.level !== 'root') throw adminErrors.forbidden('only the server root may import a key');
      return createKey(deps, tenant.name, {
        name: body.name,
        policies: body.policies,
        imported: body.accessKeyId ? { accessKeyId: body.accessKeyId, secretAccessKey: body.secretAccessKey! } : undefined,
        // Admins act as operators (their key may be anything in the tenant); everyone else delegates.
        grantor: admin ? undefined : { id: creatorRef(principal), permissions: principal.permissions },
      });
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/tenants/:tenant/keys/:accessKeyId',
    tag: 'keys',
    summary: 'Delete an access key (takes effect immediately)',
    access: 'tenant admin; others only keys they created',
    auth: 'any',
    async handle({ principal, params, deps }) {
      refuseAppPasswordSession(principal);
      const tenant = await visibleTenant(principal, params.tenant, deps);
      const key = (await listKeys(deps, tenant.name)).find((k) => k.accessKeyId === params.accessKeyId);
      const mayDelete = key && (isAdminOf(principal, tenant.id) || madeBy(principal, key));
      if (!mayDelete) throw adminErrors.notFound(`no access key ${params.accessKeyId} in tenant ${tenant.name}`);
      await deleteKey(deps, key.accessKeyId);
    },
  }),
];
