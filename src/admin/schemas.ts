/**
 * The admin API's shared zod schemas: request validation, response shaping
 * (responses are parsed through their schema, so nothing undeclared leaks)
 * and the OpenAPI components (each registered here under its name).
 */
import { z } from 'zod';

import { policySchema, policyStatementSchema } from '../core/policy.js';

/**
 * Names a schema: it becomes `#/components/schemas/<id>` in the OpenAPI
 * document. zod keeps ids (and .describe() texts) in its global registry,
 * which z.toJSONSchema reads.
 */
function named<T extends z.ZodType>(id: string, schema: T): T {
  if (z.globalRegistry.get(schema)?.id !== id) z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), id });
  return schema;
}

const timestamp = z.iso.datetime().describe('ISO 8601 time (UTC)');

export const PolicyStatement = named('PolicyStatement', policyStatementSchema);
export const Policies = named('Policies', policySchema);

export const ErrorBody = named(
  'Error',
  z.object({
    error: z.object({
      code: z.enum([
        'InvalidRequest',
        'Unauthorized',
        'Forbidden',
        'NotFound',
        'MethodNotAllowed',
        'Conflict',
        'PayloadTooLarge',
        'TooManyAttempts',
        'InternalError',
      ]),
      message: z.string(),
      path: z.array(z.string()).optional().describe('InvalidRequest: where the first problem is (body.email)'),
      reason: z.string().optional().describe('Unauthorized and auth errors: the precise cause (TokenExpired, SessionRevoked, …)'),
      retryAfterSeconds: z.number().int().optional(),
    }),
  }),
);

// ---- tenants

const bytesOrNone = z.number().int().min(0).nullable();
export const Quota = named(
  'Quota',
  z.object({
    bytes: bytesOrNone.describe('bytes of every stored version (and of the parts of uploads in progress) at most; null: no limit'),
    objects: bytesOrNone.describe('stored versions (not delete markers) at most; null: no limit'),
  }),
);
export const QuotaChange = named(
  'QuotaChange',
  z
    .object({
      bytes: bytesOrNone.optional().describe('null removes the limit; absent: unchanged'),
      objects: bytesOrNone.optional().describe('null removes the limit; absent: unchanged'),
    })
    .strict(),
);
const rps = z.number().min(0).max(1e9).nullable();
const burst = z.number().int().min(1).nullable();
export const TenantRateLimit = named(
  'TenantRateLimit',
  z.object({
    requestsPerSecond: rps.describe("the whole tenant's S3 requests per second; null: the server default; 0: no limit"),
    burst: burst.describe('requests the tenant may send at once above its rate; null: the default'),
    perKeyRequestsPerSecond: rps.describe('S3 requests per second of each of its access keys; null: the server default; 0: no limit'),
    perKeyBurst: burst.describe('the burst of each key; null: the default'),
  }),
);
export const StoredUsage = named(
  'StoredUsage',
  z.object({
    bytes: z.number().int().describe('what the quota counts: bytes of every stored version, and the parts of uploads in progress'),
    objects: z.number().int().describe('what the quota counts: stored versions that are not delete markers'),
  }),
);
export const Tenant = named(
  'Tenant',
  z.object({
    id: z.string(),
    name: z.string(),
    canonicalId: z.string(),
    displayName: z.string(),
    quota: Quota,
    rateLimit: TenantRateLimit,
    usage: StoredUsage.describe("in this region's data plane"),
  }),
);
export const TenantList = z.object({ tenants: z.array(Tenant) });
export const TenantSettings = named(
  'TenantSettings',
  z
    .object({
      quota: QuotaChange.optional(),
      rateLimit: z
        .object({
          requestsPerSecond: rps.optional(),
          burst: burst.optional(),
          perKeyRequestsPerSecond: rps.optional(),
          perKeyBurst: burst.optional(),
        })
        .strict()
        .optional()
        .describe('absent fields stay; null resets one to the server default'),
    })
    .strict(),
);
export const CreateTenant = named('CreateTenant', z.object({ name: z.string().min(1).max(63) }).strict());

// ---- access keys

export const AccessKey = named(
  'AccessKey',
  z.object({
    accessKeyId: z.string(),
    tenant: z.string(),
    createdAt: timestamp,
    name: z.string().nullable(),
    policies: Policies.nullable().describe('null: tenant-wide'),
    createdBy: z.string().nullable().describe('the user or key that created it under grant; null when made by an admin'),
  }),
);
export const AccessKeyList = z.object({ keys: z.array(AccessKey) });
export const CreateKey = named(
  'CreateKey',
  z
    .object({
      name: z.string().min(1).max(128).optional(),
      policies: Policies.optional().describe('omit for a tenant-wide key (admins only; others get at most their own rights)'),
      accessKeyId: z.string().min(3).max(128).optional().describe('import this key id (root only, with secretAccessKey)'),
      secretAccessKey: z.string().min(8).max(256).optional(),
    })
    .strict()
    .refine((b) => (b.accessKeyId === undefined) === (b.secretAccessKey === undefined), {
      message: 'accessKeyId and secretAccessKey must be given together',
      path: ['secretAccessKey'],
    }),
);
export const CreatedKey = named(
  'CreatedKey',
  z.object({
    accessKeyId: z.string(),
    secretAccessKey: z.string().describe('shown once: it cannot be read back'),
    tenant: z.string(),
    name: z.string().nullable(),
    policies: Policies.nullable(),
  }),
);

// ---- users

const role = z.enum(['admin', 'member']);
export const User = named(
  'User',
  z.object({
    id: z.string(),
    tenant: z.string(),
    email: z.string(),
    role,
    policies: Policies.nullable().describe("a member's rights (admins are unrestricted)"),
    disabled: z.boolean(),
    createdAt: timestamp,
  }),
);
export const UserList = z.object({ users: z.array(User) });
export const CreateUser = named(
  'CreateUser',
  z
    .object({
      email: z.string().min(3).max(254),
      password: z.string().min(1).max(1024),
      role: role.default('member'),
      policies: Policies.nullable().optional(),
    })
    .strict(),
);
export const UpdateUser = named(
  'UpdateUser',
  z
    .object({
      role: role.optional(),
      policies: Policies.nullable().optional(),
      disabled: z.boolean().optional(),
      password: z.string().min(1).max(1024).optional().describe('a new password ends all of the user’s sessions'),
    })
    .strict()
    .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change' }),
);

// ---- auth and sessions

export const Login = named(
  'Login',
  z.object({ tenant: z.string().min(1).max(63), email: z.string().min(1).max(254), password: z.string().min(1).max(1024) }).strict(),
);
export const RefreshTokenBody = named('RefreshToken', z.object({ refreshToken: z.string().min(1).max(4096) }).strict());
export const TokenPair = named(
  'TokenPair',
  z.object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().describe('seconds until the access token expires'),
    sessionId: z.string(),
  }),
);
export const SessionS3Credentials = named(
  'SessionS3Credentials',
  z.object({
    accessKeyId: z.string().describe('ASIA…: names the session; not a stored key'),
    secretAccessKey: z.string(),
    expiresAt: timestamp.describe('after this, ask again (while the session lives)'),
    region: z.string().describe('the region to sign for'),
  }),
);
export const WhoAmI = named(
  'WhoAmI',
  z.object({
    kind: z.enum(['key', 'user']),
    level: z.enum(['root', 'admin', 'member']).describe('root: every tenant; admin: its own tenant; member: its own rights'),
    tenant: z.string(),
    tenantId: z.string(),
    accessKeyId: z.string().optional(),
    userId: z.string().optional(),
    email: z.string().optional(),
    role: role.optional(),
    sessionId: z.string().optional(),
    appPasswordId: z.string().nullable().optional(),
    policies: Policies.nullable().describe('null: unrestricted within the tenant'),
  }),
);
export const Session = named(
  'Session',
  z.object({
    id: z.string(),
    createdAt: timestamp,
    lastUsedAt: timestamp,
    expiresAt: timestamp,
    appPasswordName: z.string().nullable().describe('set when the session was opened with an app password'),
    clientAddress: z.string().nullable(),
    userAgent: z.string().nullable(),
    current: z.boolean().describe('the session of this request'),
  }),
);
export const SessionList = z.object({ sessions: z.array(Session) });
export const Revoked = z.object({ revoked: z.number().int() });

export const AppPassword = named(
  'AppPassword',
  z.object({
    id: z.string(),
    name: z.string(),
    policies: Policies.nullable(),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
  }),
);
export const AppPasswordList = z.object({ appPasswords: z.array(AppPassword) });
export const CreateAppPassword = named(
  'CreateAppPassword',
  z.object({ name: z.string().min(1).max(64), policies: Policies.nullable().optional() }).strict(),
);
export const CreatedAppPassword = named(
  'CreatedAppPassword',
  z.object({
    id: z.string(),
    name: z.string(),
    password: z.string().describe('shown once: log in with it instead of the account password'),
  }),
);

// ---- buckets

export const BucketUsage = z.object({
  objectCount: z.number().int().describe('live objects: latest versions that are not delete markers'),
  byteCount: z.number().int().describe('bytes of the live objects'),
  versionCount: z.number().int().describe('every version that is not a delete marker, current or not'),
  versionBytes: z.number().int().describe('bytes of every version (what the bucket stores)'),
  noncurrentVersionCount: z.number().int().describe('versions that are not the live object of their key (versionCount - objectCount)'),
  noncurrentBytes: z.number().int().describe('bytes of the noncurrent versions (versionBytes - byteCount)'),
  deleteMarkerCount: z.number().int(),
});
const LockMode = z.enum(['GOVERNANCE', 'COMPLIANCE']);
export const ObjectLockState = named(
  'ObjectLockState',
  z.object({
    enabled: z.boolean().describe('Object Lock is on (it can never be turned off)'),
    defaultRetention: z
      .object({ mode: LockMode, days: z.number().int().optional(), years: z.number().int().optional() })
      .nullable()
      .describe('the retention new versions get unless they ask for their own; null: none'),
  }),
);
export const Bucket = named(
  'Bucket',
  z.object({
    name: z.string(),
    tenant: z.string(),
    region: z.string(),
    createdAt: timestamp,
    acl: z.string(),
    hasPolicy: z.boolean(),
    versioning: z.enum(['Unversioned', 'Enabled', 'Suspended']).describe('Unversioned: versioning was never turned on'),
    objectLock: ObjectLockState,
    quota: Quota,
    usage: BucketUsage.nullable().describe("from this region's bucket state; null if the region has no state row"),
  }),
);
export const BucketList = z.object({ buckets: z.array(Bucket) });
export const ForceQuery = z.object({
  force: z.enum(['true', 'false']).optional().describe('true: delete the contents too, in a background task'),
});
export const KeyVersionsQuery = z.object({
  key: z.string().min(1).max(1024).describe('the object key'),
  limit: z.coerce.number().int().min(1).max(1000).default(1000).describe('versions per page (1 to 1000)'),
  after: z.string().min(1).max(64).optional().describe("the previous page's nextVersionIdMarker"),
});
export const KeyVersion = named(
  'KeyVersion',
  z.object({
    versionId: z.string().describe('"null" for a version written while the bucket was not versioning'),
    isLatest: z.boolean(),
    isDeleteMarker: z.boolean(),
    size: z.number().int(),
    etag: z.string().describe('empty for a delete marker'),
    lastModified: timestamp,
    lockMode: LockMode.nullable().describe('Object Lock retention mode; null: none'),
    lockUntil: timestamp.nullable().describe('retained until (it may be past); null: no retention'),
    legalHold: z.boolean(),
  }),
);
export const KeyVersions = named(
  'KeyVersions',
  z.object({
    bucket: z.string(),
    key: z.string(),
    versions: z.array(KeyVersion).describe('newest first'),
    isTruncated: z.boolean(),
    nextVersionIdMarker: z.string().optional().describe('when truncated: pass as `after` for the next page'),
  }),
);
export const BucketDeleted = named(
  'BucketDeleted',
  z.object({
    bucket: z.string(),
    deleted: z.boolean().describe('true: deleted now (it was empty); false: a task will delete it'),
    task: z.number().int().optional().describe('the delete-bucket task (force=true)'),
  }),
);

// ---- status

export const Status = named(
  'Status',
  z.object({
    version: z.string(),
    region: z.string(),
    engine: z.enum(['sqlite', 'postgres']),
    uptimeSeconds: z.number().nullable().describe('null when not answered by a running server'),
    tenants: z.number().int(),
    buckets: z.number().int(),
    users: z.number().int(),
    accessKeys: z.number().int(),
    tasks: z.object({ pending: z.number().int(), running: z.number().int(), failed: z.number().int() }),
    cleanup: z.object({ queued: z.number().int(), deadLetters: z.number().int() }),
  }),
);

export const Empty = z.object({}).strict();

/** Dates as the API writes them. */
export function iso(d: Date | number): string {
  return (typeof d === 'number' ? new Date(d) : d).toISOString();
}
export function isoOrNull(d: Date | number | null | undefined): string | null {
  return d === null || d === undefined ? null : iso(d);
}
