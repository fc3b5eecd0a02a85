/**
 * The admin API's one error type and its JSON form:
 * `{ "error": { "code": "...", "message": "...", ... } }`. Codes are stable;
 * clients switch on them, never on messages. Errors thrown by the core
 * services are translated here (toAdminError), so handlers just throw.
 */
import type { z } from 'zod';

import { AnvilError, type ErrorKind } from '../errors.js';
import { S3Error } from '../s3/errors.js';

export type AdminErrorCode =
  | 'InvalidRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'Conflict'
  | 'Gone'
  | 'PayloadTooLarge'
  | 'TooManyAttempts'
  | 'InternalError';

export class AdminApiError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    readonly status: number,
    message: string,
    /** Extra fields of the error object (the zod issue path, an auth reason). */
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AdminApiError';
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export const adminErrors = {
  invalid: (message: string, details: Record<string, unknown> = {}) => new AdminApiError('InvalidRequest', 400, message, details),
  unauthorized: (message = 'authentication required', reason?: string) =>
    new AdminApiError('Unauthorized', 401, message, reason ? { reason } : {}, { 'WWW-Authenticate': 'Bearer, AWS4-HMAC-SHA256' }),
  forbidden: (message = 'not allowed') => new AdminApiError('Forbidden', 403, message),
  notFound: (message = 'not found') => new AdminApiError('NotFound', 404, message),
  methodNotAllowed: (allowed: string[]) =>
    new AdminApiError('MethodNotAllowed', 405, `method not allowed; allowed: ${allowed.join(', ')}`, {}, { Allow: allowed.join(', ') }),
  conflict: (message: string) => new AdminApiError('Conflict', 409, message),
  gone: (message: string, details: Record<string, unknown> = {}) => new AdminApiError('Gone', 410, message, details),
  tooLarge: (limit: number) => new AdminApiError('PayloadTooLarge', 413, `request body larger than ${limit} bytes`),
  tooManyAttempts: (message: string, retryAfterSeconds: number) =>
    new AdminApiError('TooManyAttempts', 429, message, { retryAfterSeconds }, { 'Retry-After': String(retryAfterSeconds) }),
  internal: () => new AdminApiError('InternalError', 500, 'internal error'),
};

/** A zod failure as InvalidRequest, naming where the first problem is (`body.policies.0.effect`). */
export function fromZodError(where: 'body' | 'query' | 'params', error: z.ZodError): AdminApiError {
  const issue = error.issues[0];
  const path = [where, ...(issue?.path ?? []).map(String)];
  return adminErrors.invalid(`${path.join('.')}: ${issue?.message ?? 'invalid'}`, {
    path,
    issues: error.issues.map((i) => ({ path: [where, ...i.path.map(String)], message: i.message })),
  });
}

/**
 * Any thrown value as an AdminApiError. Unknown errors become InternalError
 * (the caller logs the original); nothing internal reaches the client.
 */
export function toAdminError(err: unknown): AdminApiError {
  if (err instanceof AdminApiError) return err;
  if (err instanceof AnvilError) return fromDomainError(err);
  if (err instanceof S3Error) {
    if (err.status === 409) return adminErrors.conflict(err.message);
    if (err.status === 404) return adminErrors.notFound(err.message);
    if (err.status === 403) return adminErrors.forbidden(err.message);
    if (err.status === 400) return adminErrors.invalid(err.message);
  }
  return adminErrors.internal();
}

/** How each domain error kind is answered on the admin API. */
const ADMIN_CODE_BY_KIND: Partial<Record<ErrorKind, [AdminErrorCode, number]>> = {
  Invalid: ['InvalidRequest', 400],
  TooLarge: ['PayloadTooLarge', 413],
  Unauthorized: ['Unauthorized', 401],
  Forbidden: ['Forbidden', 403],
  NotFound: ['NotFound', 404],
  Conflict: ['Conflict', 409],
  Precondition: ['Conflict', 409],
};

/** A domain error in the admin API's JSON form: its kind picks the code, its reason is passed on. */
function fromDomainError(err: AnvilError): AdminApiError {
  const reason = { reason: err.reason };
  if (err.kind === 'TooManyRequests') {
    const retry = Math.max(1, Math.ceil(err.retryAfterSeconds ?? 60));
    return new AdminApiError(
      'TooManyAttempts',
      429,
      err.message,
      { ...reason, retryAfterSeconds: retry },
      { 'Retry-After': String(retry) },
    );
  }
  const mapped = ADMIN_CODE_BY_KIND[err.kind];
  if (!mapped) return adminErrors.internal();
  const headers: Record<string, string> = err.kind === 'Unauthorized' ? { 'WWW-Authenticate': 'Bearer, AWS4-HMAC-SHA256' } : {};
  return new AdminApiError(mapped[0], mapped[1], err.message, reason, headers);
}
