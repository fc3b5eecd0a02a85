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

import type { AnvilError } from '../errors.js';
import { type EngineKind, withTransaction } from '../meta/engine.js';
import type { ControlDatabase } from '../meta/handles.js';
import {
  clearLoginFailures,
  extendSession,
  insertRefreshToken,
  insertSession,
  liveSessionRows,
  lockedUntil,
  markRefreshTokenUsed,
  pruneLoginFailures,
  pruneSessions,
  recordLoginFailure,
  refreshTokenRow,
  refreshTokenWithSession,
  releaseLoginAttempt,
  revokeSessionRow,
  revokeUserSessions,
  sessionForAuth,
  touchAppPassword,
  touchSession,
} from '../meta/identity/index.js';
import { authError } from './auth-errors.js';
import { type Permissions, permissionsFromColumn } from './policy.js';
import type { AccessClaims, TokenSigner } from './tokens.js';
import { MAX_PASSWORD_LENGTH, normalizeEmail, type User, userFromRow, type UserService } from './users.js';

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
  /** When the session ends unless refreshed (epoch ms). */
  expiresAt: number;
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

function invalidToken(message = 'refresh token is not valid'): AnvilError {
  return authError('InvalidToken', message);
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
  return `address:${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
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
    private readonly db: ControlDatabase,
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
    await this.assertNotLocked(
      limits.map(([s]) => s),
      now,
    );
    // Every attempt is counted as a failure *before* its password is checked, atomically, so a
    // burst of concurrent guesses cannot all pass the lock check first: the attempt that would
    // exceed the budget is refused unchecked. A success takes its reservation back.
    for (const [subject, max] of limits) {
      const attempts = await this.recordFailure(subject, max, now);
      if (attempts > max) await this.assertNotLocked([subject], now);
    }
    const found =
      input.password.length <= MAX_PASSWORD_LENGTH ? await this.users.checkCredentials(input.tenant, input.email, input.password) : null;
    if (!found) throw authError('InvalidCredentials', 'invalid email or password');
    // The account's counter is cleared; the address's only loses this attempt's reservation:
    // clearing it would let one valid login reset an attacker's budget for other accounts.
    await clearLoginFailures(this.db, account);
    if (input.clientAddress) await this.releaseAttempt(addressSubject(input.clientAddress), this.maxPerAddress);
    if (found.user.disabled) throw authError('AccountDisabled', 'this account is disabled');
    return this.openSession(found.user, found.appPasswordId, now, clip(input.clientAddress, 100), clip(input.userAgent, 512));
  }

  private async assertNotLocked(subjects: string[], now: number): Promise<void> {
    const until = await lockedUntil(this.db, subjects, now);
    if (until === undefined) return;
    const retryAfter = Math.max(1, Math.ceil((until - now) / 1000));
    throw authError('TooManyAttempts', `too many failed logins; try again in ${retryAfter} seconds`, retryAfter);
  }

  /** Counts a failure (see recordLoginFailure): returns the failures in the current window. */
  private recordFailure(subject: string, max: number, now: number): Promise<number> {
    return recordLoginFailure(this.db, subject, { max, now, windowMs: this.windowMs, lockUntil: now + this.lockMs });
  }

  /** Takes back a successful attempt's reservation (and the lock it may have set, if it alone reached the limit). */
  private releaseAttempt(subject: string, max: number): Promise<void> {
    return releaseLoginAttempt(this.db, subject, max);
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
      await insertSession(
        trx,
        {
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
        },
        { id: refresh.id, session_id: sessionId, secret_hash: refresh.secretHash, created_at: now, expires_at: expiresAt, used_at: null },
      );
      if (appPasswordId) await touchAppPassword(trx, appPasswordId, now);
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
      const row = await refreshTokenWithSession(trx, id);
      if (!row || !sameHash(row.secret_hash, sha256(secret))) return { error: invalidToken() };
      if (row.revoked_at !== null) return { error: authError('SessionRevoked', 'this session has been revoked') };
      const reuse = async () => {
        await revokeSessionRow(trx, row.session_id, 'refresh-token-reuse', now);
        return { error: authError('RefreshTokenReused', 'refresh token was already used; the session is revoked') };
      };
      if (row.used_at !== null) return reuse();
      if (Number(row.token_expires_at) <= now || Number(row.session_expires_at) <= now)
        return { error: invalidToken('refresh token expired') };
      if (Number(row.disabled) === 1) return { error: authError('SessionRevoked', 'this session has been revoked') };
      if (!(await markRefreshTokenUsed(trx, id, now))) return reuse();
      await insertRefreshToken(trx, {
        id: next.id,
        session_id: row.session_id,
        secret_hash: next.secretHash,
        created_at: now,
        expires_at: expiresAt,
        used_at: null,
      });
      await extendSession(trx, row.session_id, now, expiresAt, clientAddress);
      if (row.app_password_id) await touchAppPassword(trx, row.app_password_id, now);
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
    const row = await refreshTokenRow(this.db, id);
    if (!row || !sameHash(row.secret_hash, sha256(secret))) throw invalidToken();
    await revokeSessionRow(this.db, row.session_id, 'logout', this.now());
  }

  async logoutAll(userId: string): Promise<number> {
    return revokeUserSessions(this.db, userId, 'logout-all', this.now());
  }

  /** The user's live sessions, most recently used first; `current` marks currentSessionId when given. */
  async listSessions(userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
    const rows = await liveSessionRows(this.db, userId, this.now());
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
    return revokeSessionRow(this.db, sessionId, 'revoked', this.now(), userId);
  }

  /**
   * Verifies the JWT, then reads session, user and app password (one query):
   * the token proves identity, the database decides whether it still counts.
   * Role and rights come from the database, not the token, so changes apply at once.
   */
  async authenticate(accessToken: string): Promise<UserPrincipal> {
    const claims = await this.signer.verify(accessToken);
    return this.sessionPrincipal(claims.sid, claims);
  }

  /**
   * The principal of a live session, read from the database (session, user,
   * app password): revoked, expired, disabled or gone fails with the same
   * errors as authenticate(). With `claims`, they must match the session.
   * Session credentials for S3 (session-credentials.ts) come here too.
   */
  async sessionPrincipal(sessionId: string, claims?: AccessClaims): Promise<UserPrincipal> {
    const now = this.now();
    const row = await sessionForAuth(this.db, sessionId);
    // No row: the session (or its user, whose deletion takes the sessions along) is gone.
    if (!row) throw authError('InvalidToken', 'access token is not valid');
    if (claims && (row.id !== claims.sub || row.tenant_id !== claims.tid || (row.app_password_id ?? undefined) !== claims.apw)) {
      throw authError('InvalidToken', 'access token is not valid');
    }
    if (row.session_revoked_at !== null || Number(row.session_expires_at) <= now) {
      throw authError('SessionRevoked', 'this session has been revoked');
    }
    const user = userFromRow(row);
    if (user.disabled) throw authError('InvalidToken', 'access token is not valid');
    let permissions = this.users.permissionsOf(user);
    if (row.app_password_id !== null) {
      if (row.app_password_revoked_at !== null) throw authError('SessionRevoked', 'the app password of this session was revoked');
      permissions = permissions.intersect(permissionsFromColumn(row.app_password_policies ?? null));
    }
    if (now - Number(row.session_last_used_at) > LAST_USED_RESOLUTION_MS) {
      await touchSession(this.db, sessionId, now);
    }
    return {
      userId: user.id,
      tenantId: user.tenantId,
      role: user.role,
      sessionId,
      expiresAt: Number(row.session_expires_at),
      appPasswordId: row.app_password_id,
      permissions,
    };
  }

  /**
   * Deletes what can no longer be used (keeps tables bounded, ARCHITECTURE.md § Invariants):
   * expired refresh tokens, sessions dead for a day, and stale login-failure
   * counters. Meant to run periodically on one node. Returns rows deleted.
   */
  async prune(): Promise<number> {
    const now = this.now();
    const deadBefore = now - DEAD_SESSION_RETENTION_MS;
    return withTransaction(this.kind, this.db, async (trx) => {
      const sessions = await pruneSessions(trx, now, deadBefore);
      return sessions + (await pruneLoginFailures(trx, now - this.windowMs, now));
    });
  }
}
