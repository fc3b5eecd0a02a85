/**
 * Logging in and out: user sessions with short-lived access tokens and
 * rotating refresh tokens (core/sessions.ts). Login is throttled per account
 * and per client address (TooManyAttempts with Retry-After).
 */
import { requireFullSession, requireUser } from './access.js';
import { adminErrors } from './errors.js';
import { route } from './route.js';
import { iso, Login, RefreshTokenBody, Revoked, SessionS3Credentials, TokenPair, WhoAmI } from './schemas.js';

export const authRoutes = [
  route({
    method: 'POST',
    path: '/admin/v1/auth/login',
    tag: 'auth',
    summary: 'Log in with email and password (or an app password): returns an access and a refresh token',
    auth: 'none',
    body: Login,
    response: TokenPair,
    async handle({ body, deps, clientAddress, userAgent }) {
      return deps.sessions.login({ ...body, clientAddress, userAgent });
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/auth/refresh',
    tag: 'auth',
    summary: 'Exchange a refresh token for a new token pair (the old refresh token is spent)',
    auth: 'none',
    body: RefreshTokenBody,
    response: TokenPair,
    async handle({ body, deps, clientAddress }) {
      return deps.sessions.refresh(body.refreshToken, clientAddress);
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/auth/logout',
    tag: 'auth',
    summary: "End the refresh token's session",
    auth: 'none',
    body: RefreshTokenBody,
    async handle({ body, deps }) {
      await deps.sessions.logout(body.refreshToken);
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/auth/logout-all',
    tag: 'auth',
    summary: 'End every session of the signed-in user (this one included)',
    access: 'a signed-in user, not through an app password',
    auth: 'bearer',
    response: Revoked,
    async handle({ principal, deps }) {
      const user = requireFullSession(principal);
      return { revoked: await deps.sessions.logoutAll(user.userId) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/auth/s3-credentials',
    tag: 'auth',
    summary:
      "S3 credentials for this session: sign S3 requests (SigV4) as the signed-in user, with the user's rights. " +
      'They expire within an hour (never after the session) and stop working the moment the session ends',
    access: 'a signed-in user (bearer token)',
    auth: 'bearer',
    response: SessionS3Credentials,
    async handle({ principal, deps }) {
      const user = requireUser(principal);
      const session = await deps.sessions.sessionPrincipal(user.sessionId);
      const c = await deps.sessionCredentials.issue(session);
      return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, expiresAt: iso(c.expiresAt), region: deps.config.region };
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/auth/whoami',
    tag: 'auth',
    summary: 'Who this request authenticates as, and at which level',
    auth: 'any',
    response: WhoAmI,
    async handle({ principal, deps }) {
      const base = {
        kind: principal.kind,
        level: principal.level,
        tenant: principal.tenantName,
        tenantId: principal.tenantId,
        policies: principal.permissions.statements,
      };
      if (principal.kind === 'key') return { ...base, accessKeyId: principal.id };
      const u = principal.user!;
      const user = await deps.users.getUser(u.userId);
      if (!user) throw adminErrors.unauthorized('the user no longer exists');
      return { ...base, userId: u.userId, email: user.email, role: u.role, sessionId: u.sessionId, appPasswordId: u.appPasswordId };
    },
  }),
];
