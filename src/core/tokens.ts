/**
 * Access tokens: short-lived HS256 JWTs (jose). They only say who and which
 * session; SessionService.authenticate still reads the session and user on
 * every request, so a revocation is immediate and the token's lifetime only
 * bounds how long a stolen one is worth replaying against a live session.
 *
 * The HMAC key is a server secret (TenantService.serverSecret): generated
 * once, stored encrypted under the master key, shared by every node.
 */
import crypto from 'node:crypto';

import { errors, jwtVerify, SignJWT } from 'jose';

import { authError } from './auth-errors.js';
import type { TenantService } from './tenants.js';

export interface AccessClaims {
  /** User id. */
  sub: string;
  /** Tenant id. */
  tid: string;
  /** Session id. */
  sid: string;
  role: 'admin' | 'member';
  /** App password id, when the session was opened with one. */
  apw?: string;
}

export const JWT_SIGNING_KEY = 'jwt-signing-key';
const AUDIENCE = 'anvil-admin';

export class TokenSigner {
  private readonly issuer: string;
  private readonly now: () => number;
  private key: Promise<Uint8Array> | undefined;

  constructor(
    private readonly tenants: TenantService,
    opts: { issuer?: string; now?: () => number } = {},
  ) {
    this.issuer = opts.issuer ?? 'anvil';
    this.now = opts.now ?? Date.now;
  }

  /** Read (or created) once per process; a failed read is retried on the next call. */
  private signingKey(): Promise<Uint8Array> {
    this.key ??= this.tenants
      .serverSecret(JWT_SIGNING_KEY, () => crypto.randomBytes(32).toString('base64'))
      .then((b64) => new Uint8Array(Buffer.from(b64, 'base64')))
      .catch((err) => {
        this.key = undefined;
        throw err;
      });
    return this.key;
  }

  async sign(claims: AccessClaims, ttlSeconds: number): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const payload: Record<string, string> = { tid: claims.tid, sid: claims.sid, role: claims.role };
    if (claims.apw) payload.apw = claims.apw;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer(this.issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(await this.signingKey());
  }

  async verify(token: string): Promise<AccessClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await this.signingKey(), {
        algorithms: ['HS256'],
        issuer: this.issuer,
        audience: AUDIENCE,
        currentDate: new Date(this.now()),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw authError('TokenExpired', 'access token expired');
      if (err instanceof errors.JOSEError) throw authError('InvalidToken', 'access token is not valid');
      throw err;
    }
    const { sub, tid, sid, role, apw } = payload;
    const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
    if (!str(sub) || !str(tid) || !str(sid) || (role !== 'admin' && role !== 'member') || (apw !== undefined && !str(apw))) {
      throw authError('InvalidToken', 'access token is not valid');
    }
    return apw === undefined ? { sub, tid, sid, role } : { sub, tid, sid, role, apw };
  }
}
