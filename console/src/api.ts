/**
 * The console's only way to the server: the public admin API (/admin/v1/…)
 * and the S3 API, exactly as any script would call them.
 *
 * Sessions live in memory only (never localStorage, sessionStorage or a
 * cookie), so no other script on the page can read them from storage and a
 * closed tab leaves nothing behind; reloading the page signs out.
 * - A user signs in with email and password: a 15-minute access token
 *   (refreshed before it expires with the rotating refresh token) calls the
 *   admin API; S3 requests are signed with short-lived session credentials
 *   from POST /admin/v1/auth/s3-credentials, which die with the session.
 * - The root operator (or any key holder) signs in with an access key pair:
 *   admin and S3 requests are signed with it (SigV4).
 */
import type { PolicyStatement } from './policy.js';
import { type Credentials, presign, signHeaders, uriEncode } from './sigv4.js';

export interface Who {
  kind: 'key' | 'user';
  level: 'root' | 'admin' | 'member';
  tenant: string;
  email?: string;
  accessKeyId?: string;
  appPasswordId?: string | null;
  sessionId?: string;
  /** null: unrestricted within the tenant. */
  policies?: PolicyStatement[] | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface UserSession {
  kind: 'user';
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  accessExpires: number;
  s3?: Credentials & { expires: number };
}

interface KeySession {
  kind: 'key';
  credentials: Credentials;
}

let session: UserSession | KeySession | null = null;
let region = 'us-east-1';
let refreshing: Promise<void> | null = null;

/** Called when the session ends on its own (revoked elsewhere, expired): the app goes back to the sign-in screen. */
export const onSignedOut: { handler: (reason: string) => void } = { handler: () => undefined };

const host = () => location.host;

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const json = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (json.error) return new ApiError(res.status, json.error.code ?? String(res.status), json.error.message ?? res.statusText);
  } catch {
    // An S3 XML error, or no body.
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? String(res.status);
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? (res.statusText || `HTTP ${res.status}`);
  return new ApiError(res.status, code, decodeXml(message));
}

function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}

async function ensureFresh(s: UserSession): Promise<void> {
  if (Date.now() < s.accessExpires - 60_000) return;
  refreshing ??= (async () => {
    const res = await fetch('/admin/v1/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: s.refreshToken }),
    });
    if (!res.ok) {
      const err = await errorOf(res);
      session = null;
      onSignedOut.handler(`Your session ended (${err.message}). Please sign in again.`);
      throw err;
    }
    const pair = (await res.json()) as { accessToken: string; refreshToken: string; expiresIn: number };
    s.accessToken = pair.accessToken;
    s.refreshToken = pair.refreshToken;
    s.accessExpires = Date.now() + pair.expiresIn * 1000;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** An admin API call; `path` is below /admin/v1. */
export async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const s = session;
  if (!s) throw new ApiError(401, 'Unauthorized', 'not signed in');
  const [pathOnly, search = ''] = path.split('?');
  const fullPath = `/admin/v1${pathOnly}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (s.kind === 'user') {
    await ensureFresh(s);
    headers.authorization = `Bearer ${s.accessToken}`;
  } else {
    const query = [...new URLSearchParams(search)];
    Object.assign(headers, signHeaders({ method, path: fullPath, query, host: host(), region, credentials: s.credentials, body: text }));
  }
  const res = await fetch(search ? `${fullPath}?${search}` : fullPath, { method, headers, body: body === undefined ? undefined : text });
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

async function s3Credentials(fresh = false): Promise<Credentials & { expires?: number }> {
  const s = session;
  if (!s) throw new ApiError(401, 'Unauthorized', 'not signed in');
  if (s.kind === 'key') return s.credentials;
  if (fresh || !s.s3 || Date.now() > s.s3.expires - 5 * 60_000) {
    const c = await admin<{ accessKeyId: string; secretAccessKey: string; expiresAt: string; region: string }>(
      'POST',
      '/auth/s3-credentials',
    );
    region = c.region;
    s.s3 = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, expires: Date.parse(c.expiresAt) };
  }
  return s.s3;
}

/** The encoded path of a bucket or an object. */
export function s3Path(bucket: string, key?: string): string {
  return key === undefined ? `/${uriEncode(bucket)}` : `/${uriEncode(bucket)}/${uriEncode(key, true)}`;
}

/** A presigned S3 URL (path and query, this origin). */
export async function s3Url(method: string, bucket: string, key?: string, query: Record<string, string> = {}, expiresSeconds = 300) {
  const credentials = await s3Credentials();
  return presign({ method, path: s3Path(bucket, key), query: Object.entries(query), host: host(), region, credentials, expiresSeconds });
}

/** An S3 request through a presigned URL; throws ApiError with the S3 error's code and message. */
export async function s3(method: string, bucket: string, key?: string, query: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(await s3Url(method, bucket, key, query), { method });
  if (!res.ok) throw await errorOf(res);
  return res;
}

/**
 * An S3 request signed in its headers, for what a presigned URL cannot carry: a body whose hash is
 * signed (tagging XML) and x-amz-* headers (x-amz-acl), which the server refuses unsigned.
 */
export async function s3Signed(
  method: string,
  bucket: string,
  key: string | undefined,
  query: Record<string, string>,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const credentials = await s3Credentials();
  const path = s3Path(bucket, key);
  const entries = Object.entries(query);
  const headers = signHeaders({
    method,
    path,
    query: entries,
    host: host(),
    region,
    credentials,
    body: init.body ?? '',
    headers: init.headers,
  });
  const search = entries.map(([k, v]) => (v === '' ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join('&');
  const res = await fetch(search ? `${path}?${search}` : path, { method, headers, body: init.body });
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** Longest life of a presigned URL (SigV4's limit). */
export const MAX_SHARE_SECONDS = 7 * 24 * 3600;

/**
 * A link that lets anyone holding it GET the object until it expires: presigned with the signed-in
 * credentials. A user session's S3 credentials live at most an hour and die with the session, so its
 * links do too; `expiresAt` says when the link really stops working.
 */
export async function shareLink(bucket: string, key: string, seconds: number): Promise<{ url: string; expiresAt: Date }> {
  const credentials = await s3Credentials(true);
  const wanted = Date.now() + seconds * 1000;
  const until = credentials.expires === undefined ? wanted : Math.min(wanted, credentials.expires);
  const expiresSeconds = Math.max(1, Math.min(MAX_SHARE_SECONDS, Math.floor((until - Date.now()) / 1000)));
  const path = presign({ method: 'GET', path: s3Path(bucket, key), host: host(), region, credentials, expiresSeconds });
  return { url: `${location.protocol}//${host()}${path}`, expiresAt: new Date(Date.now() + expiresSeconds * 1000) };
}

export async function signInUser(tenant: string, email: string, password: string): Promise<Who> {
  const res = await fetch('/admin/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant, email, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const pair = (await res.json()) as { accessToken: string; refreshToken: string; expiresIn: number };
  session = {
    kind: 'user',
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    accessExpires: Date.now() + pair.expiresIn * 1000,
  };
  try {
    return await admin<Who>('GET', '/auth/whoami');
  } catch (err) {
    session = null;
    throw err;
  }
}

export async function signInKey(accessKeyId: string, secretAccessKey: string): Promise<Who> {
  session = { kind: 'key', credentials: { accessKeyId, secretAccessKey } };
  try {
    try {
      return await admin<Who>('GET', '/auth/whoami');
    } catch (err) {
      // The server's region is not known before the first signed request; its refusal names it.
      const expected = err instanceof ApiError ? /expecting '([a-z0-9-]+)'/.exec(err.message)?.[1] : undefined;
      if (!expected || expected === region) throw err;
      region = expected;
      return await admin<Who>('GET', '/auth/whoami');
    }
  } catch (err) {
    session = null;
    throw err;
  }
}

/** Ends the session on the server (a user's refresh token family), then forgets every credential. */
export async function signOut(): Promise<void> {
  const s = session;
  session = null;
  if (s?.kind === 'user') {
    await fetch('/admin/v1/auth/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: s.refreshToken }),
    }).catch(() => undefined);
  }
}

export function signedInKind(): 'user' | 'key' | null {
  return session?.kind ?? null;
}
