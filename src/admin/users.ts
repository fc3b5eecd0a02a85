/**
 * Users of a tenant. Admins of the tenant (and root) manage them; a user
 * may read their own record. Sessions opened with an app password never
 * manage users (their level is member, see auth.ts).
 */
import { isAdminOf, visibleTenant } from './access.js';
import type { Principal } from './auth.js';
import type { AdminDeps } from './deps.js';
import { adminErrors } from './errors.js';
import { createUser, deleteUser, listUsers, userJson } from './ops/users.js';
import { route } from './route.js';
import { CreateUser, UpdateUser, User as UserSchema, UserList } from './schemas.js';

function requireAdmin(p: Principal, tenantId: string, tenantName: string): void {
  if (!isAdminOf(p, tenantId)) throw adminErrors.forbidden(`only an admin of tenant ${tenantName} may manage its users`);
}

/** The user, if it belongs to the (visible) tenant; NotFound otherwise. */
async function userOf(principal: Principal, tenantName: string, userId: string, deps: AdminDeps) {
  const tenant = await visibleTenant(principal, tenantName, deps);
  const user = await deps.users.getUser(userId);
  if (!user || user.tenantId !== tenant.id) throw adminErrors.notFound(`no user ${userId} in tenant ${tenant.name}`);
  return { tenant, user };
}

export const userRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/tenants/:tenant/users',
    tag: 'users',
    summary: "List a tenant's users",
    access: 'tenant admin',
    auth: 'any',
    response: UserList,
    async handle({ principal, params, deps }) {
      const tenant = await visibleTenant(principal, params.tenant, deps);
      requireAdmin(principal, tenant.id, tenant.name);
      return { users: await listUsers(deps, tenant.name) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/tenants/:tenant/users',
    tag: 'users',
    summary: 'Create a user',
    access: 'tenant admin',
    auth: 'any',
    body: CreateUser,
    response: UserSchema,
    status: 201,
    async handle({ principal, params, body, deps }) {
      const tenant = await visibleTenant(principal, params.tenant, deps);
      requireAdmin(principal, tenant.id, tenant.name);
      return createUser(deps, tenant.name, body);
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/tenants/:tenant/users/:userId',
    tag: 'users',
    summary: 'Show a user',
    access: 'tenant admin, or the user themself',
    auth: 'any',
    response: UserSchema,
    async handle({ principal, params, deps }) {
      const { tenant, user } = await userOf(principal, params.tenant, params.userId, deps);
      if (!isAdminOf(principal, tenant.id) && principal.user?.userId !== user.id) {
        throw adminErrors.forbidden('only a tenant admin may read other users');
      }
      return userJson(user, tenant.name);
    },
  }),
  route({
    method: 'PATCH',
    path: '/admin/v1/tenants/:tenant/users/:userId',
    tag: 'users',
    summary: "Change a user's role, policies, disabled flag or password",
    access: 'tenant admin',
    auth: 'any',
    body: UpdateUser,
    response: UserSchema,
    async handle({ principal, params, body, deps }) {
      const { tenant, user } = await userOf(principal, params.tenant, params.userId, deps);
      requireAdmin(principal, tenant.id, tenant.name);
      if (principal.user?.userId === user.id && (body.disabled === true || body.role === 'member')) {
        throw adminErrors.conflict('an admin may not disable or demote themself');
      }
      // The password first: it is the one change that can be refused (too short), so nothing else applies then.
      if (body.password !== undefined) await deps.users.setPassword(user.id, body.password);
      await deps.users.setRoleAndPolicies(user.id, { role: body.role, policies: body.policies });
      if (body.disabled !== undefined) await deps.users.setDisabled(user.id, body.disabled);
      return userJson((await deps.users.getUser(user.id))!, tenant.name);
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/tenants/:tenant/users/:userId',
    tag: 'users',
    summary: 'Delete a user with their sessions and app passwords',
    access: 'tenant admin',
    auth: 'any',
    async handle({ principal, params, deps }) {
      const { tenant, user } = await userOf(principal, params.tenant, params.userId, deps);
      requireAdmin(principal, tenant.id, tenant.name);
      if (principal.user?.userId === user.id) throw adminErrors.conflict('an admin may not delete themself');
      await deleteUser(deps, user.id);
    },
  }),
];
