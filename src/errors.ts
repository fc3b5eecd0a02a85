/**
 * The one error type below the protocol layers. Core, blobs, meta and the
 * backends say what went wrong in domain terms — a kind (what a caller can do
 * about it) and a reason (which rule failed, stable, machine-readable) — and
 * never in S3 or admin-API terms. Exactly two translators turn it into wire
 * errors at the edges: `toS3Error` (src/s3/errors.ts) and `toAdminError`
 * (src/admin/errors.ts). Anything else thrown is a bug and becomes a 500.
 *
 * Reasons reuse S3's error codes where S3 has one for the same rule
 * (NoSuchBucket, BucketNotEmpty, KeyTooLong…), so the S3 translator is a
 * lookup; the rest name the rule (InvalidCredentials, SessionRevoked…).
 * This module imports nothing: every layer may use it.
 */

export type ErrorKind =
  /** The thing named does not exist (or the caller may not know that it does). */
  | 'NotFound'
  /** The request contradicts the current state (name taken, not empty, in use). */
  | 'Conflict'
  /** The request itself is malformed or breaks a rule; retrying it unchanged fails again. */
  | 'Invalid'
  /** A condition the caller set (If-Match, If-None-Match…) does not hold. */
  | 'Precondition'
  /** A size limit was exceeded. */
  | 'TooLarge'
  /** No storage can take the bytes (quotas, full disks, drained backends). */
  | 'NoSpace'
  /** A dependency cannot serve right now; retrying later may succeed. */
  | 'Unavailable'
  /** The caller is known but not allowed. */
  | 'Forbidden'
  /** The caller could not be identified (bad credentials, token, session). */
  | 'Unauthorized'
  /** Too many attempts; retryAfterSeconds says when to come back. */
  | 'TooManyRequests'
  /** Anvil does not do this (yet). */
  | 'NotImplemented';

export class AnvilError extends Error {
  constructor(
    readonly kind: ErrorKind,
    /** Which rule failed: stable, for machines (an S3 error code where S3 has one). */
    readonly reason: string,
    message: string,
    /** Facts worth showing a client (BucketName, Key, MaxSizeAllowed…). */
    readonly details: Record<string, string | number> = {},
    /** For TooManyRequests and Unavailable: when a retry makes sense. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AnvilError';
  }
}

export function isAnvilError(err: unknown, kind?: ErrorKind, reason?: string): err is AnvilError {
  return err instanceof AnvilError && (kind === undefined || err.kind === kind) && (reason === undefined || err.reason === reason);
}

/**
 * Constructors for the errors the domain raises more than once. One-off
 * errors may call `new AnvilError(kind, reason, message)` directly.
 */
export const fail = {
  notFound: (reason: string, message: string, details?: Record<string, string | number>) =>
    new AnvilError('NotFound', reason, message, details),
  conflict: (reason: string, message: string, details?: Record<string, string | number>) =>
    new AnvilError('Conflict', reason, message, details),
  invalid: (reason: string, message: string, details?: Record<string, string | number>) =>
    new AnvilError('Invalid', reason, message, details),
  forbidden: (reason: string, message: string) => new AnvilError('Forbidden', reason, message),
  unauthorized: (reason: string, message: string) => new AnvilError('Unauthorized', reason, message),
  tooManyRequests: (reason: string, message: string, retryAfterSeconds: number) =>
    new AnvilError('TooManyRequests', reason, message, {}, retryAfterSeconds),
  notImplemented: (message: string) => new AnvilError('NotImplemented', 'NotImplemented', message),

  // The storage rules S3 clients see most, with the details S3 puts in its error body.
  noSuchBucket: (bucket: string) =>
    new AnvilError('NotFound', 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket }),
  /** An operation that a delete marker has no answer for (it has no body, tags or ACL). */
  notAllowedOnMarker: () =>
    new AnvilError('Invalid', 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {
      ResourceType: 'DeleteMarker',
    }),
  noSuchKey: (key: string) => new AnvilError('NotFound', 'NoSuchKey', 'The specified key does not exist.', { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new AnvilError(
      'NotFound',
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    ),
  preconditionFailed: (condition: string) =>
    new AnvilError('Precondition', 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: condition,
    }),
  entityTooLarge: (max: number) =>
    new AnvilError('TooLarge', 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: max }),
  /** No set of backends can take the blob (quotas, size limits, monthly limits, drained, failing or full). */
  insufficientStorage: () => new AnvilError('NoSpace', 'InsufficientStorage', 'There is not enough storage space to complete the request.'),
  /** A storage backend could not take or serve the bytes right now. */
  unavailable: (message = 'The service is unable to handle the request. Please try again.') =>
    new AnvilError('Unavailable', 'ServiceUnavailable', message),
} as const;
