/** Console user rows. Deleting a user and revoking sessions are here too: they span the user's rows. */
import type { Selectable } from 'kysely';

import type { ControlDb } from '../handles.js';
import type { UserRole, UserTable } from '../schema.js';

export type UserRow = Selectable<UserTable>;

export async function insertUser(db: ControlDb, row: UserRow): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

/** A tenant's users, by email. */
export function listUserRows(db: ControlDb, tenantId: string): Promise<UserRow[]> {
  return db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).orderBy('email').execute();
}

export function userRowById(db: ControlDb, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The user of this (already normalised) email in the tenant of this name. */
export function userRowByEmail(db: ControlDb, tenantName: string, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
    .selectAll('users')
    .where('tenants.name', '=', tenantName)
    .where('users.email', '=', email)
    .executeTakeFirst();
}

/**
 * Deletes the user with their sessions, refresh tokens and app passwords
 * (explicitly: no reliance on FK cascades). Run it in a transaction.
 * Whether the user existed.
 */
export async function deleteUserRows(trx: ControlDb, id: string): Promise<boolean> {
  await trx
    .deleteFrom('refresh_tokens')
    .where('session_id', 'in', (eb) => eb.selectFrom('sessions').select('id').where('user_id', '=', id))
    .execute();
  await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
  await trx.deleteFrom('app_passwords').where('user_id', '=', id).execute();
  const res = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Sets columns of a user; whether the user exists. */
export async function updateUser(
  db: ControlDb,
  id: string,
  set: { password_hash?: string; disabled?: number; role?: UserRole; policies?: string | null },
): Promise<boolean> {
  const res = await db.updateTable('users').set(set).where('id', '=', id).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Replaces a password hash only if it is still `oldHash`, so a concurrent password change is never overwritten. */
export async function replacePasswordHash(db: ControlDb, id: string, oldHash: string, newHash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: newHash }).where('id', '=', id).where('password_hash', '=', oldHash).execute();
}

/** Marks every live session of a user revoked; returns how many. */
export async function revokeUserSessions(db: ControlDb, userId: string, reason: string, now: number): Promise<number> {
  const res = await db
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
