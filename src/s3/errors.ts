import { isDiskFull } from '../blobs/index.js';
import { AnvilError, type ErrorKind } from '../errors.js';

/**
 * The one error type of the S3 protocol layer: an S3 error code, its HTTP
 * status and a human message. The HTTP layer renders it as S3 XML with the
 * request id; anything else thrown becomes InternalError (and is logged).
 */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Extra elements rendered inside <Error> (e.g. BucketName, Key). */
    readonly extra: Record<string, string | number> = {},
    /** Extra response headers (e.g. Allow for MethodNotAllowed). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** Constructors for the codes Anvil uses, with S3's status and wording. */
export const errors = {
  accessDenied: (msg = 'Access Denied') => new S3Error('AccessDenied', msg, 403),
  invalidAccessKeyId: () => new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403),
  signatureDoesNotMatch: (extra: Record<string, string> = {}) =>
    new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      403,
      extra,
    ),
  requestTimeTooSkewed: (requestTime: string, serverTime: string) =>
    new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', 403, {
      RequestTime: requestTime,
      ServerTime: serverTime,
      MaxAllowedSkewMilliseconds: 900000,
    }),
  expiredToken: () => new S3Error('AccessDenied', 'Request has expired', 403),
  authorizationHeaderMalformed: (msg: string) => new S3Error('AuthorizationHeaderMalformed', msg, 400),
  authorizationQueryParametersError: (msg: string) => new S3Error('AuthorizationQueryParametersError', msg, 400),
  missingSecurityHeader: (msg = 'Your request was missing a required header') => new S3Error('MissingSecurityHeader', msg, 400),
  invalidRequest: (msg: string) => new S3Error('InvalidRequest', msg, 400),
  invalidArgument: (msg: string, name?: string, value?: string) =>
    new S3Error('InvalidArgument', msg, 400, name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' }),
  incompleteBody: () =>
    new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.', 400),
  missingContentLength: () => new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.', 411),
  entityTooLarge: (max: number) =>
    new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400, { MaxSizeAllowed: max }),
  malformedACL: () =>
    new S3Error('MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema.', 400),
  unexpectedContent: () => new S3Error('UnexpectedContent', 'This request does not support content.', 400),
  noSuchBucketPolicy: (bucket: string) =>
    new S3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404, { BucketName: bucket }),
  malformedXML: () =>
    new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.', 400),
  noSuchBucket: (bucket: string) => new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: bucket }),
  invalidLocationConstraint: () => new S3Error('InvalidLocationConstraint', 'The specified location-constraint is not valid', 400),
  methodNotAllowed: (method: string, allow: string) =>
    new S3Error(
      'MethodNotAllowed',
      'The specified method is not allowed against this resource.',
      405,
      {
        Method: method,
        ResourceType: 'OBJECT',
      },
      { Allow: allow },
    ),
  notImplemented: (what = 'A header you provided implies functionality that is not implemented') =>
    new S3Error('NotImplemented', what, 501),
  malformedPOSTRequest: () =>
    new S3Error('MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.', 400),
  invalidURI: () => new S3Error('InvalidURI', "Couldn't parse the specified URI.", 400),
  malformedPolicy: (message: string) => new S3Error('MalformedPolicy', message, 400),
  internal: () => new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500),
  /** No set of backends can take the blob (quotas, size limits, monthly limits, drained or failing backends). */
  insufficientStorage: () => new S3Error('InsufficientStorage', 'There is not enough storage space to complete the request.', 507),
  /** A storage backend could not take or serve the bytes right now. */
  serviceUnavailable: () => new S3Error('ServiceUnavailable', 'The service is unable to handle the request. Please try again.', 503),
  preconditionFailed: (condition: string) =>
    new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
      Condition: condition,
    }),
  /** Admission control: too many requests in flight (clients retry with backoff; Retry-After says when). */
  slowDown: (retryAfterSeconds = 1) =>
    new S3Error('SlowDown', 'Please reduce your request rate.', 503, {}, { 'Retry-After': String(retryAfterSeconds) }),
} as const;

/** Reasons that are S3 error codes of their own; any other reason is answered with its kind's code. */
const S3_CODES = new Set([
  'NoSuchBucket',
  'NoSuchKey',
  'NoSuchUpload',
  'NoSuchVersion',
  'BucketNotEmpty',
  'BucketAlreadyExists',
  'BucketAlreadyOwnedByYou',
  'InvalidBucketName',
  'KeyTooLongError',
  'EntityTooLarge',
  'EntityTooSmall',
  'InvalidArgument',
  'InvalidRequest',
  'InvalidPart',
  'InvalidPartOrder',
  'InvalidRange',
  'InvalidDigest',
  'BadDigest',
  'PreconditionFailed',
  'InsufficientStorage',
  'ServiceUnavailable',
  'NotImplemented',
  'AccessDenied',
  'IllegalLocationConstraintException',
  'InvalidLocationConstraint',
  'MalformedXML',
  'MalformedPolicy',
  'InvalidEncryptionAlgorithmError',
  'IncompleteBody',
  'OperationAborted',
  'NoSuchBucketPolicy',
  'XAmzContentSHA256Mismatch',
  'MethodNotAllowed',
  'InvalidBucketState',
  'ObjectLockConfigurationNotFoundError',
  'NoSuchObjectLockConfiguration',
  'NoSuchTagSet',
  // Anvil's own, for history that branches and commits keep (core/branches/).
  'VersionRetained',
  'BucketHasBranches',
  // A bucket or tenant storage quota (core/objects/quota.ts): 403, as Ceph RGW answers.
  'QuotaExceeded',
]);

/** Reasons whose S3 status is not their kind's. */
const STATUS_BY_REASON: Record<string, number> = {
  NoSuchBucketPolicy: 404,
  MethodNotAllowed: 405,
};

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  NotFound: 404,
  Conflict: 409,
  Invalid: 400,
  Precondition: 412,
  TooLarge: 400,
  NoSpace: 507,
  Unavailable: 503,
  Forbidden: 403,
  Unauthorized: 403,
  TooManyRequests: 503,
  NotImplemented: 501,
};

const CODE_BY_KIND: Record<ErrorKind, string> = {
  NotFound: 'NotFound',
  Conflict: 'OperationAborted',
  Invalid: 'InvalidRequest',
  Precondition: 'PreconditionFailed',
  TooLarge: 'EntityTooLarge',
  NoSpace: 'InsufficientStorage',
  Unavailable: 'ServiceUnavailable',
  Forbidden: 'AccessDenied',
  Unauthorized: 'AccessDenied',
  TooManyRequests: 'SlowDown',
  NotImplemented: 'NotImplemented',
};

/**
 * The S3 edge's translator: any thrown value as the S3Error to answer with.
 * Domain errors keep their reason as the code when S3 has that code; a full
 * disk that reached here untranslated is still 507; anything else is a bug
 * and answers InternalError (the caller logs it).
 */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof AnvilError) {
    const code = S3_CODES.has(err.reason) ? err.reason : CODE_BY_KIND[err.kind];
    const status = STATUS_BY_REASON[err.reason] ?? STATUS_BY_KIND[err.kind];
    const headers: Record<string, string> =
      err.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterSeconds))) };
    return new S3Error(code, err.message, status, err.details, headers);
  }
  if (isDiskFull(err)) return errors.insufficientStorage();
  return errors.internal();
}
