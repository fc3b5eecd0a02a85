/** Session rows (one refresh-token family each) and their refresh tokens. */
import type { ControlDb } from '../handles.js';
import type { RefreshTokenTable, SessionTable } from '../schema.js';

/** Opens a session with its first refresh token. Run it in a transaction. */
export async function insertSession(trx: ControlDb, session: SessionTable, token: RefreshTokenTable): Promise<void> {
  await trx.insertInto('sessions').values(session).execute();
  await trx.insertInto('refresh_tokens').values(token).execute();
}

export async function insertRefreshToken(db: ControlDb, token: RefreshTokenTable): Promise<void> {
  await db.insertInto('refresh_tokens').values(token).execute();
}

/** A refresh token with its session and user: what deciding a refresh needs. */
export function refreshTokenWithSession(db: ControlDb, tokenId: string) {
  return db
    .selectFrom('refresh_tokens')
    .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'refresh_tokens.secret_hash',
      'refresh_tokens.expires_at as token_expires_at',
      'refresh_tokens.used_at',
      'sessions.id as session_id',
      'sessions.expires_at as session_expires_at',
      'sessions.revoked_at',
      'sessions.app_password_id',
      'users.id as user_id',
      'users.tenant_id',
      'users.role',
      'users.disabled',
    ])
    .where('refresh_tokens.id', '=', tokenId)
    .executeTakeFirst();
}

/** A refresh token's session and secret hash. */
export function refreshTokenRow(db: ControlDb, tokenId: string): Promise<{ session_id: string; secret_hash: string } | undefined> {
  return db.selectFrom('refresh_tokens').select(['session_id', 'secret_hash']).where('id', '=', tokenId).executeTakeFirst();
}

/** Marks a refresh token used, only if it was not yet: whether this call did (of two racing calls, one). */
export async function markRefreshTokenUsed(db: ControlDb, tokenId: string, now: number): Promise<boolean> {
  const marked = await db
    .updateTable('refresh_tokens')
    .set({ used_at: now })
    .where('id', '=', tokenId)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(marked.numUpdatedRows) === 1;
}

/** Slides a session on refresh: used now, expiring later, and the client's current address when known. */
export async function extendSession(
  db: ControlDb,
  sessionId: string,
  now: number,
  expiresAt: number,
  clientAddress: string | undefined,
): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_used_at: now, expires_at: expiresAt, ...(clientAddress ? { client_address: clientAddress.slice(0, 100) } : {}) })
    .where('id', '=', sessionId)
    .execute();
}

/** Revokes a live session (of this user, when userId is given); whether it was live. */
export async function revokeSessionRow(db: ControlDb, sessionId: string, reason: string, now: number, userId?: string): Promise<boolean> {
  let q = db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('id', '=', sessionId);
  if (userId !== undefined) q = q.where('user_id', '=', userId);
  const res = await q.where('revoked_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** A user's live sessions at `now`, most recently used first, with the name of the app password each was opened with. */
export function liveSessionRows(db: ControlDb, userId: string, now: number) {
  return db
    .selectFrom('sessions')
    .leftJoin('app_passwords', 'app_passwords.id', 'sessions.app_password_id')
    .select([
      'sessions.id',
      'sessions.created_at',
      'sessions.last_used_at',
      'sessions.expires_at',
      'sessions.client_address',
      'sessions.user_agent',
      'app_passwords.name as app_password_name',
    ])
    .where('sessions.user_id', '=', userId)
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', now)
    .orderBy('sessions.last_used_at', 'desc')
    .orderBy('sessions.id')
    .execute();
}

/** A session with its user and app password (one query): what authenticating an access token needs. */
export function sessionForAuth(db: ControlDb, sessionId: string) {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .leftJoin('app_passwords', 'app_passwords.id', 'sessions.app_password_id')
    .selectAll('users')
    .select([
      'sessions.app_password_id',
      'sessions.last_used_at as session_last_used_at',
      'sessions.expires_at as session_expires_at',
      'sessions.revoked_at as session_revoked_at',
      'app_passwords.revoked_at as app_password_revoked_at',
      'app_passwords.policies as app_password_policies',
    ])
    .where('sessions.id', '=', sessionId)
    .executeTakeFirst();
}

export async function touchSession(db: ControlDb, sessionId: string, now: number): Promise<void> {
  await db.updateTable('sessions').set({ last_used_at: now }).where('id', '=', sessionId).execute();
}

/**
 * Deletes expired refresh tokens, and sessions expired or revoked before
 * `deadBefore` with their tokens. Run it in a transaction. Returns rows deleted.
 */
export async function pruneSessions(trx: ControlDb, now: number, deadBefore: number): Promise<number> {
  const deadSessions = trx
    .selectFrom('sessions')
    .select('id')
    .where((eb) => eb.or([eb('expires_at', '<', deadBefore), eb('revoked_at', '<', deadBefore)]));
  const tokens = await trx
    .deleteFrom('refresh_tokens')
    .where((eb) => eb.or([eb('expires_at', '<', now), eb('session_id', 'in', deadSessions)]))
    .executeTakeFirst();
  const sessions = await trx
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<', deadBefore), eb('revoked_at', '<', deadBefore)]))
    .executeTakeFirst();
  return Number(tokens.numDeletedRows) + Number(sessions.numDeletedRows);
}
