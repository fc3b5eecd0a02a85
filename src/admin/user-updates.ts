/**
 * The two user changes UserService does not offer yet: role and policies.
 * Sessions read the user's current rights on every request
 * (SessionService.authenticate), so no session needs revoking here.
 * TODO(lead): move into UserService (setRole / setPolicies).
 */
import type { Kysely } from 'kysely';
import type { PolicyStatement } from '../core/policy.js';
import type { GlobalSchema, UserRole } from '../meta/schema.js';

export async function setUserRoleAndPolicies(
  db: Kysely<GlobalSchema>,
  userId: string,
  change: { role?: UserRole; policies?: PolicyStatement[] | null },
): Promise<void> {
  const set: { role?: UserRole; policies?: string | null } = {};
  if (change.role !== undefined) set.role = change.role;
  if (change.policies !== undefined) set.policies = change.policies === null ? null : JSON.stringify(change.policies);
  if (Object.keys(set).length === 0) return;
  await db.updateTable('users').set(set).where('id', '=', userId).execute();
}
