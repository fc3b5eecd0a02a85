/**
 * Who is calling the admin API. Two ways in:
 * - SigV4 (`Authorization: AWS4-HMAC-SHA256 …`), verified by the very code
 *   that verifies S3 requests; the key's tenant and policies make the
 *   principal. The body must hash to the signed x-amz-content-sha256.
 * - `Authorization: Bearer <access token>` from /admin/v1/auth/login: a
 *   user's session (SessionService.authenticate).
 *
 * The resulting level decides what the principal may manage:
 * - root: an unrestricted key of the `root` tenant, or an admin user of the
 *   `root` tenant (not through an app password): every tenant;
 * - admin: an unrestricted key, or an admin user (not through an app
 *   password): its own tenant;
 * - member: anyone else; only what its permissions allow (grant keys, reach
 *   buckets) and its own user, sessions and app passwords.
 */
import type http from 'node:http';

import type { Permissions } from '../core/policy.js';
import { type KeyPrincipal, ROOT_TENANT } from '../core/tenants.js';
import { authenticate as verifySigV4, sha256Hex } from '../s3/auth/sigv4.js';
import { S3Error } from '../s3/errors.js';
import type { AdminDeps } from './deps.js';
import { adminErrors, toAdminError } from './errors.js';

const MAX_SKEW_MS = 15 * 60 * 1000;

export type AdminLevel = 'root' | 'admin' | 'member';

export interface Principal {
  kind: 'key' | 'user';
  /** The access key id, or the user id: what `created_by` records for keys made by this principal. */
  id: string;
  tenantId: string;
  tenantName: string;
  level: AdminLevel;
  permissions: Permissions;
  /** For kind 'user'. */
  user?: { userId: string; role: 'admin' | 'member'; sessionId: string; appPasswordId: string | null };
}

export async function authenticateAdmin(req: http.IncomingMessage, body: Buffer, deps: AdminDeps, bearerOnly: boolean): Promise<Principal> {
  const authorization = req.headers.authorization;
  if (authorization && /^Bearer\s/i.test(authorization)) return bearerPrincipal(authorization.replace(/^Bearer\s+/i, '').trim(), deps);
  if (bearerOnly) throw adminErrors.unauthorized('this route needs a bearer access token (a user session)');
  const hasQueryAuth = /[?&]X-Amz-(Algorithm|Credential)=/.test(req.url ?? '');
  if (!authorization && !hasQueryAuth) throw adminErrors.unauthorized();
  return keyPrincipal(req, body, deps);
}

async function bearerPrincipal(token: string, deps: AdminDeps): Promise<Principal> {
  if (!token) throw adminErrors.unauthorized('empty bearer token');
  let p;
  try {
    p = await deps.sessions.authenticate(token);
  } catch (err) {
    const e = toAdminError(err);
    // Any failure to authenticate is a 401 (the reason says which: expired, revoked, …).
    throw e.status === 500 ? e : adminErrors.unauthorized(e.message, (e.details.reason as string | undefined) ?? 'InvalidToken');
  }
  const tenant = await deps.tenants.getTenantById(p.tenantId);
  if (!tenant) throw adminErrors.unauthorized('the session belongs to a tenant that no longer exists');
  const viaAppPassword = p.appPasswordId !== null;
  const level: AdminLevel = p.role === 'admin' && !viaAppPassword ? (tenant.name === ROOT_TENANT ? 'root' : 'admin') : 'member';
  return {
    kind: 'user',
    id: p.userId,
    tenantId: tenant.id,
    tenantName: tenant.name,
    level,
    permissions: p.permissions,
    user: { userId: p.userId, role: p.role, sessionId: p.sessionId, appPasswordId: p.appPasswordId },
  };
}

async function keyPrincipal(req: http.IncomingMessage, body: Buffer, deps: AdminDeps): Promise<Principal> {
  // Filled in by lookupSecret (authenticate asks once per request).
  const looked: { key: KeyPrincipal | null } = { key: null };
  let result;
  try {
    result = await verifySigV4(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers },
      {
        region: deps.config.region,
        now: () => new Date(),
        maxSkewMs: MAX_SKEW_MS,
        lookupSecret: async (accessKeyId) => {
          looked.key = await deps.tenants.lookupKey(accessKeyId);
          return looked.key?.secret ?? null;
        },
      },
    );
  } catch (err) {
    if (err instanceof S3Error) throw adminErrors.unauthorized(err.message, err.code);
    throw err;
  }
  const found = looked.key;
  if (result.kind !== 'signed' || !found) throw adminErrors.unauthorized();
  // A session's S3 credentials stay on the S3 API: through them, an app-password session would pass for a key.
  if (found.session) {
    throw adminErrors.unauthorized(
      "session credentials are for the S3 API; call the admin API with the session's bearer token",
      'InvalidToken',
    );
  }
  // The body is small and already read: check it against the signed hash. Streaming forms make no sense here.
  switch (result.payload.type) {
    case 'sha256':
      if (sha256Hex(body) !== result.payload.expectedHex) {
        throw adminErrors.unauthorized('the body does not match x-amz-content-sha256', 'XAmzContentSHA256Mismatch');
      }
      break;
    case 'unsigned':
      // Presigned URLs and UNSIGNED-PAYLOAD: only for requests that carry no body.
      if (body.length > 0) throw adminErrors.unauthorized('a request with a body must sign it (x-amz-content-sha256)', 'UnsignedPayload');
      break;
    default:
      throw adminErrors.invalid('aws-chunked bodies are not accepted by the admin API');
  }
  const tenant = await deps.tenants.getTenantById(found.tenantId);
  if (!tenant) throw adminErrors.unauthorized('the key belongs to a tenant that no longer exists');
  const unrestricted = found.permissions.unrestricted;
  const level: AdminLevel = unrestricted ? (tenant.name === ROOT_TENANT ? 'root' : 'admin') : 'member';
  return { kind: 'key', id: result.accessKeyId, tenantId: tenant.id, tenantName: tenant.name, level, permissions: found.permissions };
}
