/**
 * Errors of the user, session and token services. Each carries the HTTP
 * status the admin API answers with, so the protocol layer only translates
 * (and sets Retry-After from retryAfterSeconds on 429).
 */
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

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    readonly status: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}
