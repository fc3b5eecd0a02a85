/** App password rows (a user's generated secrets for tools), and revoking the sessions opened with them. */
import type { ControlDb } from '../handles.js';
import type { AppPasswordTable } from '../schema.js';

/** Ids and secret hashes of a user's active app passwords. */
export function activeAppPasswordHashes(db: ControlDb, userId: string): Promise<{ id: string; secret_hash: string }[]> {
  return db
    .selectFrom('app_passwords')
    .select(['id', 'secret_hash'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Whether the user has an active app password of this name. */
export async function activeAppPasswordNamed(db: ControlDb, userId: string, name: string): Promise<boolean> {
  const clash = await db
    .selectFrom('app_passwords')
    .select('id')
    .where('user_id', '=', userId)
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return clash !== undefined;
}

export async function insertAppPassword(db: ControlDb, row: AppPasswordTable): Promise<void> {
  await db.insertInto('app_passwords').values(row).execute();
}

/** A user's app passwords (revoked ones too), oldest first. */
export function listAppPasswordRows(db: ControlDb, userId: string) {
  return db
    .selectFrom('app_passwords')
    .select(['id', 'name', 'policies', 'created_at', 'last_used_at', 'revoked_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('name')
    .execute();
}

/**
 * Revokes the user's active app passwords with this id or name, and every
 * session opened with them. Run it in a transaction. Whether any was revoked.
 */
export async function revokeAppPasswordRows(trx: ControlDb, userId: string, idOrName: string, now: number): Promise<boolean> {
  const targets = await trx
    .selectFrom('app_passwords')
    .select('id')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .execute();
  if (targets.length === 0) return false;
  const ids = targets.map((t) => t.id);
  await trx.updateTable('app_passwords').set({ revoked_at: now }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
  await trx
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: 'app-password-revoked' })
    .where('app_password_id', 'in', ids)
    .where('revoked_at', 'is', null)
    .execute();
  return true;
}

/** Records that an app password was just used to open or refresh a session. */
export async function touchAppPassword(db: ControlDb, id: string, now: number): Promise<void> {
  await db.updateTable('app_passwords').set({ last_used_at: now }).where('id', '=', id).execute();
}
