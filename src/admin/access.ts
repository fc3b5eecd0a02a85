/**
 * The authorization rules of the admin API, in one place. Tenants are
 * isolated: a principal asking about another tenant (unless root) gets
 * NotFound, exactly as if the tenant did not exist.
 */
import type { Bucket } from '../core/buckets.js';
import type { Tenant } from '../core/tenants.js';
import type { Principal } from './auth.js';
import type { AdminDeps } from './deps.js';
import { adminErrors } from './errors.js';

export function requireRoot(p: Principal): void {
  if (p.level !== 'root') throw adminErrors.forbidden('only the server root may do this');
}

/** The named tenant, if the principal may see it (root: any; others: their own). */
export async function visibleTenant(p: Principal, name: string, deps: AdminDeps): Promise<Tenant> {
  const tenant = await deps.tenants.findTenant(name);
  if (!tenant || (p.level !== 'root' && tenant.id !== p.tenantId)) throw adminErrors.notFound(`no tenant named ${name}`);
  return tenant;
}

export function isAdminOf(p: Principal, tenantId: string): boolean {
  return p.level === 'root' || (p.level === 'admin' && p.tenantId === tenantId);
}

/** The named tenant, for managing it: root, or that tenant's admin. */
export async function administeredTenant(p: Principal, name: string, deps: AdminDeps): Promise<Tenant> {
  const tenant = await visibleTenant(p, name, deps);
  if (!isAdminOf(p, tenant.id)) throw adminErrors.forbidden(`only an admin of tenant ${name} may do this`);
  return tenant;
}

/** A user principal (routes about one's own sessions and app passwords). */
export function requireUser(p: Principal): NonNullable<Principal['user']> {
  if (!p.user) throw adminErrors.forbidden('only a signed-in user has sessions and app passwords (use a bearer token)');
  return p.user;
}

/** Managing credentials (app passwords, others' sessions) needs a full session, not one opened with an app password. */
export function requireFullSession(p: Principal): NonNullable<Principal['user']> {
  const user = requireUser(p);
  if (user.appPasswordId !== null) throw adminErrors.forbidden('a session opened with an app password may not do this');
  return user;
}

/**
 * The named bucket, if the principal may see it: root any; others only
 * buckets of their tenant (another tenant's bucket is NotFound), and
 * members only the ones their permissions reach.
 */
export async function visibleBucket(p: Principal, name: string, deps: AdminDeps): Promise<Bucket> {
  const bucket = await deps.buckets.get(name);
  if (!bucket || (p.level !== 'root' && bucket.tenant_id !== p.tenantId)) throw adminErrors.notFound(`no bucket named ${name}`);
  if (!isAdminOf(p, bucket.tenant_id) && !p.permissions.reachesBucket(name)) {
    throw adminErrors.forbidden(`no rights on bucket ${name}`);
  }
  return bucket;
}
