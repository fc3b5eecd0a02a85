/** Console users: the operations behind /admin/v1/tenants/:tenant/users and `anvil admin user …` (who may call them is the caller's check). */
import type { PolicyStatement } from '../../core/policy.js';
import type { User } from '../../core/users.js';
import type { AdminServices } from '../deps.js';
import { iso } from '../schemas.js';

/** A user as the admin API and `anvil admin --json` show it. */
export function userJson(u: User, tenantName: string) {
  return {
    id: u.id,
    tenant: tenantName,
    email: u.email,
    role: u.role,
    policies: u.policies,
    disabled: u.disabled,
    createdAt: iso(u.createdAt),
  };
}

export type UserView = ReturnType<typeof userJson>;

export interface NewUser {
  email: string;
  password: string;
  role: 'admin' | 'member';
  policies?: PolicyStatement[] | null;
}

export async function createUser(s: AdminServices, tenantName: string, input: NewUser): Promise<UserView> {
  return userJson(await s.users.createUser(tenantName, input), tenantName);
}

export async function listUsers(s: AdminServices, tenantName: string): Promise<UserView[]> {
  return (await s.users.listUsers(tenantName)).map((u) => userJson(u, tenantName));
}

/** Deletes a user with their sessions and app passwords; false if there was none. */
export function deleteUser(s: AdminServices, userId: string): Promise<boolean> {
  return s.users.deleteUser(userId);
}
