/**
 * S3 credentials for a signed-in user's session: what lets the web console
 * (or any script holding a session) sign S3 requests with SigV4, without a
 * stored access key. Like AWS STS's temporary credentials, they carry no
 * rights of their own: a request signed with them is the session's user,
 * with the user's rights (narrowed by the app password, if the session came
 * from one), checked against the database on every request. They stop
 * working when they expire (at most an hour, never past the session) or the
 * moment the session ends (logout, revocation, disabled user).
 *
 * Nothing is stored. The key id names the session and the expiry:
 * `ASIA` + the session id (32 hex digits) + the expiry (10 decimal digits of
 * Unix seconds); the secret is an HMAC of the key id under a server secret
 * (TenantService.serverSecret, shared by every node, encrypted at rest), so
 * only the server can derive it and any node can check it. Stored keys can
 * never take this form (TenantService.createKey refuses it).
 */
import crypto from 'node:crypto';

import { AnvilError } from '../errors.js';
import type { SessionService, UserPrincipal } from './sessions.js';
import type { KeyPrincipal, TemporaryKeys, TenantService } from './tenants.js';

export const SESSION_CREDENTIALS_KEY = 'session-credentials-key';
/** Same form as tenants.ts's SESSION_KEY_ID (kept there too, so that tenants.ts imports nothing of this file). */
export const SESSION_KEY_ID = /^ASIA([0-9A-F]{32})(\d{10})$/;
/** Longest life of one set of session credentials; the console asks for fresh ones before they run out. */
export const SESSION_CREDENTIALS_TTL_SECONDS = 3600;

export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  expiresAt: Date;
}

export class SessionCredentialService implements TemporaryKeys {
  private key: Promise<Buffer> | undefined;

  constructor(
    private readonly tenants: TenantService,
    private readonly sessions: SessionService,
    private readonly now: () => number = Date.now,
  ) {}

  private secretKey(): Promise<Buffer> {
    this.key ??= this.tenants
      .serverSecret(SESSION_CREDENTIALS_KEY, () => crypto.randomBytes(32).toString('base64'))
      .then((b64) => Buffer.from(b64, 'base64'))
      .catch((err) => {
        this.key = undefined;
        throw err;
      });
    return this.key;
  }

  private async secretOf(accessKeyId: string): Promise<string> {
    return crypto
      .createHmac('sha256', await this.secretKey())
      .update(accessKeyId)
      .digest('base64url');
  }

  /** Credentials for the principal's session, valid for at most an hour and never past the session's end. */
  async issue(principal: UserPrincipal): Promise<SessionCredentials> {
    const expiresMs = Math.min(this.now() + SESSION_CREDENTIALS_TTL_SECONDS * 1000, principal.expiresAt);
    const expires = Math.floor(expiresMs / 1000);
    const accessKeyId = `ASIA${principal.sessionId.replace(/-/g, '').toUpperCase()}${String(expires).padStart(10, '0')}`;
    if (!SESSION_KEY_ID.test(accessKeyId)) throw new Error(`session id ${principal.sessionId} does not make a session key id`);
    return { accessKeyId, secretAccessKey: await this.secretOf(accessKeyId), expiresAt: new Date(expires * 1000) };
  }

  owns(accessKeyId: string): boolean {
    return SESSION_KEY_ID.test(accessKeyId);
  }

  /** The session's principal as a key (secret derived), or null: malformed, expired, or the session no longer live. */
  async lookup(accessKeyId: string): Promise<Omit<KeyPrincipal, 'rateLimits'> | null> {
    const m = SESSION_KEY_ID.exec(accessKeyId);
    if (!m) return null;
    if (Number(m[2]) * 1000 <= this.now()) return null;
    const hexId = m[1].toLowerCase();
    const sessionId = `${hexId.slice(0, 8)}-${hexId.slice(8, 12)}-${hexId.slice(12, 16)}-${hexId.slice(16, 20)}-${hexId.slice(20)}`;
    let principal: UserPrincipal;
    try {
      principal = await this.sessions.sessionPrincipal(sessionId);
    } catch (err) {
      // An ended session is an unknown key (S3 answers InvalidAccessKeyId); anything else is a real failure.
      if (err instanceof AnvilError && err.kind === 'Unauthorized') return null;
      throw err;
    }
    return {
      secret: await this.secretOf(accessKeyId),
      tenantId: principal.tenantId,
      permissions: principal.permissions,
      session: { userId: principal.userId, sessionId },
    };
  }
}
