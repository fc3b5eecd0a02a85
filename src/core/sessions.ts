/**
 * Console sessions: login, refresh-token rotation, logout, and turning an
 * access token back into a principal.
 *
 * A session is one refresh-token family. Login opens it; each refresh marks
 * the presented token used and issues its successor. A used token presented
 * again means it was copied: the whole family is revoked, since we cannot
 * tell the thief from the owner. Access tokens are short JWTs (tokens.ts),
 * but authenticate() reads the session and user on every call, so logout,
 * password change, disabling and app-password revocation act at once.
 *
 * Failed logins are counted in the database (login_failures), per account
 * and per client address, so every node enforces the same limits.
 */
import crypto from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { withTransaction, type EngineKind } from '../meta/engine.js';
import type { ControlSchema } from '../meta/schema.js';
import { AuthError } from './auth-errors.js';
import { permissionsFromColumn, type Permissions } from './policy.js';
import type { AccessClaims, TokenSigner } from './tokens.js';
import { MAX_PASSWORD_LENGTH, normalizeEmail, revokeUserSessions, userFromRow, type User, type UserService } from './users.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  sessionId: string;
}

export interface UserPrincipal {
  userId: string;
  tenantId: string;
  role: 'admin' | 'member';
  sessionId: string;
  appPasswordId: string | null;
  /** The user's rights, intersected with the app password's scope when the session came from one. */
  permissions: Permissions;
}

export interface SessionInfo {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  appPasswordName: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  current?: boolean;
}

export interface ThrottleOptions {
  maxPerAccount?: number;
  maxPerAddress?: number;
  windowSeconds?: number;
  lockSeconds?: number;
}

export interface SessionOptions {
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
  now?: () => number;
  throttle?: ThrottleOptions;
}

/** Writing last_used_at on every request would turn each read into a write; once a minute is precise enough. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Revoked and expired sessions are kept this long before prune() deletes them (their tokens then read as unknown). */
const DEAD_SESSION_RETENTION_MS = 24 * 3600_000;

function invalidToken(message = 'refresh token is not valid'): AuthError {
  return new AuthError('InvalidToken', message, 401);
}

/** Opaque refresh tokens "<id>.<secret>": the id finds the row, only SHA-256 of the secret is stored. */
function newRefreshToken(): { id: string; token: string; secretHash: string } {
  const id = crypto.randomBytes(16).toString('base64url');
  const secret = crypto.randomBytes(32).toString('base64url');
  return { id, token: `${id}.${secret}`, secretHash: sha256(secret) };
}

function parseRefreshToken(token: string): { id: string; secret: string } {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 64 || token.length > 256) throw invalidToken();
  return { id: token.slice(0, dot), secret: token.slice(dot + 1) };
}

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** IPv4-mapped IPv6 ("::ffff:10.0.0.1") is the same client as "10.0.0.1". */
/**
 * The throttling subject of a client address: IPv4 (also when IPv4-mapped) as
 * is, IPv6 by its /64, since one client usually holds a whole /64 and could
 * otherwise rotate addresses to get a fresh budget each time.
 */
export function addressSubject(address: string): string {
  const v4 = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!v4.includes(':')) return `address:${v4}`;
  const [head, tail = ''] = v4.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = v4.includes('::') && tail ? tail.split(':') : [];
  const groups = v4.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `address:${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

function clip(value: string | undefined, max: number): string | null {
  return value === undefined || value === '' ? null : value.slice(0, max);
}

export class SessionService {
  private readonly accessTtl: number;
  private readonly refreshTtlMs: number;
  private readonly now: () => number;
  private readonly maxPerAccount: number;
  private readonly maxPerAddress: number;
  private readonly windowMs: number;
  private readonly lockMs: number;

  constructor(
    private readonly db: Kysely<ControlSchema>,
    private readonly kind: EngineKind,
    private readonly users: UserService,
    private readonly signer: TokenSigner,
    opts: SessionOptions = {},
  ) {
    this.accessTtl = opts.accessTtlSeconds ?? 900;
    this.refreshTtlMs = (opts.refreshTtlSeconds ?? 30 * 24 * 3600) * 1000;
    this.now = opts.now ?? Date.now;
    this.maxPerAccount = opts.throttle?.maxPerAccount ?? 5;
    this.maxPerAddress = opts.throttle?.maxPerAddress ?? 20;
    this.windowMs = (opts.throttle?.windowSeconds ?? 900) * 1000;
    this.lockMs = (opts.throttle?.lockSeconds ?? 900) * 1000;
  }

  async login(input: { tenant: string; email: string; password: string; clientAddress?: string; userAgent?: string }): Promise<TokenPair> {
    const now = this.now();
    const account = `account:${input.tenant}:${normalizeEmail(input.email)}`;
    const limits: [string, number][] = [[account, this.maxPerAccount]];
    if (input.clientAddress) limits.push([addressSubject(input.clientAddress), this.maxPerAddress]);
    // Before the password is looked at: while locked, even the right one is refused, so guessing gains nothing.
    await this.assertNotLocked(limits.map(([s]) => s), now);
    // Every attempt is counted as a failure *before* its password is checked, atomically, so a
    // burst of concurrent guesses cannot all pass the lock check first: the attempt that would
    // exceed the budget is refused unchecked. A success takes its reservation back.
    for (const [subject, max] of limits) {
      const attempts = await this.recordFailure(subject, max, now);
      if (attempts > max) await this.assertNotLocked([subject], now);
    }
    const found =
      input.password.length <= MAX_PASSWORD_LENGTH ? await this.users.checkCredentials(input.tenant, input.email, input.password) : null;
    if (!found) throw new AuthError('InvalidCredentials', 'invalid email or password', 401);
    // The account's counter is cleared; the address's only loses this attempt's reservation:
    // clearing it would let one valid login reset an attacker's budget for other accounts.
    await this.db.deleteFrom('login_failures').where('subject', '=', account).execute();
    if (input.clientAddress) await this.releaseAttempt(addressSubject(input.clientAddress), this.maxPerAddress);
    if (found.user.disabled) throw new AuthError('AccountDisabled', 'this account is disabled', 403);
    return this.openSession(found.user, found.appPasswordId, now, clip(input.clientAddress, 100), clip(input.userAgent, 512));
  }

  private async assertNotLocked(subjects: string[], now: number): Promise<void> {
    const rows = await this.db
      .selectFrom('login_failures')
      .select(['locked_until'])
      .where('subject', 'in', subjects)
      .where('locked_until', '>', now)
      .execute();
    if (rows.length === 0) return;
    const until = Math.max(...rows.map((r) => Number(r.locked_until)));
    const retryAfter = Math.max(1, Math.ceil((until - now) / 1000));
    throw new AuthError('TooManyAttempts', `too many failed logins; try again in ${retryAfter} seconds`, 429, retryAfter);
  }

  /**
   * One atomic upsert, so concurrent failures on several nodes all count:
   * a failure after the window restarts it at 1; reaching `max` inside the
   * window locks the subject for lockSeconds. (In ON CONFLICT DO UPDATE every
   * right-hand side sees the old row, on both engines.)
   */
  private async recordFailure(subject: string, max: number, now: number): Promise<number> {
    const lockUntil = now + this.lockMs;
    const windowOver = sql<boolean>`login_failures.window_started_at <= ${now - this.windowMs}`;
    const failures = sql<number>`case when ${windowOver} then 1 else login_failures.failures + 1 end`;
    const row = await this.db
      .insertInto('login_failures')
      .values({ subject, failures: 1, window_started_at: now, locked_until: max <= 1 ? lockUntil : null })
      .onConflict((oc) =>
        oc.column('subject').doUpdateSet({
          failures,
          window_started_at: sql<number>`case when ${windowOver} then ${now} else login_failures.window_started_at end`,
          locked_until: sql<number | null>`case when ${failures} >= ${max} then ${lockUntil} else login_failures.locked_until end`,
        }),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    return Number(row.failures);
  }

  /** Takes back a successful attempt's reservation (and the lock it may have set, if it alone reached the limit). */
  private async releaseAttempt(subject: string, max: number): Promise<void> {
    await this.db
      .updateTable('login_failures')
      .set({
        failures: sql<number>`case when failures > 0 then failures - 1 else 0 end`,
        locked_until: sql<number | null>`case when failures - 1 >= ${max} then locked_until else null end`,
      })
      .where('subject', '=', subject)
      .execute();
  }

  private async openSession(
    user: User,
    appPasswordId: string | null,
    now: number,
    clientAddress: string | null,
    userAgent: string | null,
  ): Promise<TokenPair> {
    const sessionId = crypto.randomUUID();
    const refresh = newRefreshToken();
    // Signed first: if the signing key cannot be read, no session is left behind.
    const accessToken = await this.signer.sign(this.claims(user.id, user.tenantId, sessionId, user.role, appPasswordId), this.accessTtl);
    const expiresAt = now + this.refreshTtlMs;
    await withTransaction(this.kind, this.db, async (trx) => {
      await trx
        .insertInto('sessions')
        .values({
          id: sessionId,
          user_id: user.id,
          app_password_id: appPasswordId,
          created_at: now,
          last_used_at: now,
          expires_at: expiresAt,
          revoked_at: null,
          revoked_reason: null,
          client_address: clientAddress,
          user_agent: userAgent,
        })
        .execute();
      await trx
        .insertInto('refresh_tokens')
        .values({ id: refresh.id, session_id: sessionId, secret_hash: refresh.secretHash, created_at: now, expires_at: expiresAt, used_at: null })
        .execute();
      if (appPasswordId) await trx.updateTable('app_passwords').set({ last_used_at: now }).where('id', '=', appPasswordId).execute();
    });
    return { accessToken, refreshToken: refresh.token, tokenType: 'Bearer', expiresIn: this.accessTtl, sessionId };
  }

  private claims(sub: string, tid: string, sid: string, role: 'admin' | 'member', apw: string | null): AccessClaims {
    return apw ? { sub, tid, sid, role, apw } : { sub, tid, sid, role };
  }

  /**
   * Exchanges a refresh token for a new pair. The check-and-mark is one
   * transaction whose UPDATE only succeeds while used_at IS NULL, so of two
   * concurrent refreshes with one token exactly one wins; the loser is
   * treated as reuse (revoking the family, the winner's new tokens included),
   * because the server cannot tell a racing client from a thief. Sessions
   * slide: each refresh extends the session by refreshTtlSeconds.
   */
  async refresh(refreshToken: string, clientAddress?: string): Promise<TokenPair> {
    const { id, secret } = parseRefreshToken(refreshToken);
    const now = this.now();
    const next = newRefreshToken();
    const expiresAt = now + this.refreshTtlMs;
    const outcome = await withTransaction(this.kind, this.db, async (trx) => {
      const row = await trx
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
        .where('refresh_tokens.id', '=', id)
        .executeTakeFirst();
      if (!row || !sameHash(row.secret_hash, sha256(secret))) return { error: invalidToken() };
      if (row.revoked_at !== null) return { error: new AuthError('SessionRevoked', 'this session has been revoked', 401) };
      const reuse = async () => {
        await trx
          .updateTable('sessions')
          .set({ revoked_at: now, revoked_reason: 'refresh-token-reuse' })
          .where('id', '=', row.session_id)
          .where('revoked_at', 'is', null)
          .execute();
        return { error: new AuthError('RefreshTokenReused', 'refresh token was already used; the session is revoked', 401) };
      };
      if (row.used_at !== null) return reuse();
      if (Number(row.token_expires_at) <= now || Number(row.session_expires_at) <= now) return { error: invalidToken('refresh token expired') };
      if (Number(row.disabled) === 1) return { error: new AuthError('SessionRevoked', 'this session has been revoked', 401) };
      const marked = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: now })
        .where('id', '=', id)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return reuse();
      await trx
        .insertInto('refresh_tokens')
        .values({ id: next.id, session_id: row.session_id, secret_hash: next.secretHash, created_at: now, expires_at: expiresAt, used_at: null })
        .execute();
      await trx
        .updateTable('sessions')
        .set({ last_used_at: now, expires_at: expiresAt, ...(clientAddress ? { client_address: clientAddress.slice(0, 100) } : {}) })
        .where('id', '=', row.session_id)
        .execute();
      if (row.app_password_id) await trx.updateTable('app_passwords').set({ last_used_at: now }).where('id', '=', row.app_password_id).execute();
      return { claims: this.claims(row.user_id, row.tenant_id, row.session_id, row.role, row.app_password_id) };
    });
    // Thrown after the transaction so a reuse's revocation is committed, not rolled back.
    if ('error' in outcome) throw outcome.error;
    const accessToken = await this.signer.sign(outcome.claims, this.accessTtl);
    return { accessToken, refreshToken: next.token, tokenType: 'Bearer', expiresIn: this.accessTtl, sessionId: outcome.claims.sid };
  }

  /** Revokes the session the refresh token belongs to (any token of the family will do). */
  async logout(refreshToken: string): Promise<void> {
    const { id, secret } = parseRefreshToken(refreshToken);
    const row = await this.db
      .selectFrom('refresh_tokens')
      .select(['session_id', 'secret_hash'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || !sameHash(row.secret_hash, sha256(secret))) throw invalidToken();
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: this.now(), revoked_reason: 'logout' })
      .where('id', '=', row.session_id)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async logoutAll(userId: string): Promise<number> {
    return revokeUserSessions(this.db, userId, 'logout-all', this.now());
  }

  /** The user's live sessions, most recently used first; `current` marks currentSessionId when given. */
  async listSessions(userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
    const rows = await this.db
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
      .where('sessions.expires_at', '>', this.now())
      .orderBy('sessions.last_used_at', 'desc')
      .orderBy('sessions.id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      createdAt: new Date(Number(r.created_at)),
      lastUsedAt: new Date(Number(r.last_used_at)),
      expiresAt: new Date(Number(r.expires_at)),
      appPasswordName: r.app_password_name ?? null,
      clientAddress: r.client_address,
      userAgent: r.user_agent,
      ...(currentSessionId !== undefined ? { current: r.id === currentSessionId } : {}),
    }));
  }

  async revokeSession(userId: string, sessionId: string): Promise<boolean> {
    const res = await this.db
      .updateTable('sessions')
      .set({ revoked_at: this.now(), revoked_reason: 'revoked' })
      .where('id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Verifies the JWT, then reads session, user and app password (one query):
   * the token proves identity, the database decides whether it still counts.
   * Role and rights come from the database, not the token, so changes apply at once.
   */
  async authenticate(accessToken: string): Promise<UserPrincipal> {
    const claims = await this.signer.verify(accessToken);
    const now = this.now();
    const row = await this.db
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
      .where('sessions.id', '=', claims.sid)
      .executeTakeFirst();
    // No row: the session (or its user, whose deletion takes the sessions along) is gone.
    if (!row || row.id !== claims.sub || row.tenant_id !== claims.tid) throw new AuthError('InvalidToken', 'access token is not valid', 401);
    if ((row.app_password_id ?? undefined) !== claims.apw) throw new AuthError('InvalidToken', 'access token is not valid', 401);
    if (row.session_revoked_at !== null || Number(row.session_expires_at) <= now) {
      throw new AuthError('SessionRevoked', 'this session has been revoked', 401);
    }
    const user = userFromRow(row);
    if (user.disabled) throw new AuthError('InvalidToken', 'access token is not valid', 401);
    let permissions = this.users.permissionsOf(user);
    if (row.app_password_id !== null) {
      if (row.app_password_revoked_at !== null) throw new AuthError('SessionRevoked', 'the app password of this session was revoked', 401);
      permissions = permissions.intersect(permissionsFromColumn(row.app_password_policies ?? null));
    }
    if (now - Number(row.session_last_used_at) > LAST_USED_RESOLUTION_MS) {
      await this.db.updateTable('sessions').set({ last_used_at: now }).where('id', '=', claims.sid).execute();
    }
    return { userId: user.id, tenantId: user.tenantId, role: user.role, sessionId: claims.sid, appPasswordId: row.app_password_id, permissions };
  }

  /**
   * Deletes what can no longer be used (keeps tables bounded, invariant 6):
   * expired refresh tokens, sessions dead for a day, and stale login-failure
   * counters. Meant to run periodically on one node. Returns rows deleted.
   */
  async prune(): Promise<number> {
    const now = this.now();
    const deadBefore = now - DEAD_SESSION_RETENTION_MS;
    return withTransaction(this.kind, this.db, async (trx) => {
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
      const failures = await trx
        .deleteFrom('login_failures')
        .where('window_started_at', '<', now - this.windowMs)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
        .executeTakeFirst();
      return Number(tokens.numDeletedRows) + Number(sessions.numDeletedRows) + Number(failures.numDeletedRows);
    });
  }
}
