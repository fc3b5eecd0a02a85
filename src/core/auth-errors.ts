/**
 * The reasons the user, session and token services fail with, and the kind
 * of domain error each is (which picks the admin API's status: Unauthorized
 * 401, Forbidden 403, TooManyRequests 429 with Retry-After...). The reason is
 * what clients see as `reason` in the admin API's error JSON.
 */
import { AnvilError, type ErrorKind } from '../errors.js';

export type AuthErrorCode =
  | 'InvalidCredentials'
  | 'TooManyAttempts'
  | 'AccountDisabled'
  | 'InvalidToken'
  | 'TokenExpired'
  | 'RefreshTokenReused'
  | 'SessionRevoked'
  | 'NotFound'
  | 'Conflict'
  | 'InvalidRequest'
  | 'Forbidden';

const KIND_OF: Record<AuthErrorCode, ErrorKind> = {
  InvalidCredentials: 'Unauthorized',
  TooManyAttempts: 'TooManyRequests',
  AccountDisabled: 'Forbidden',
  InvalidToken: 'Unauthorized',
  TokenExpired: 'Unauthorized',
  RefreshTokenReused: 'Unauthorized',
  SessionRevoked: 'Unauthorized',
  NotFound: 'NotFound',
  Conflict: 'Conflict',
  InvalidRequest: 'Invalid',
  Forbidden: 'Forbidden',
};

/** An identity failure as the domain error: reason = code, kind from the table above. */
export function authError(code: AuthErrorCode, message: string, retryAfterSeconds?: number): AnvilError {
  return new AnvilError(KIND_OF[code], code, message, {}, retryAfterSeconds);
}
