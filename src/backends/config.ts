/**
 * The backends section of the YAML config file:
 *
 *   placement: spread          # or pack (default spread)
 *   replication: 2             # default replication factor per bucket (default 1)
 *   read_stall_timeout_ms: 3000  # a replica that sends nothing for this long is left for the next (default 3000)
 *   backends:
 *     - name: disk1
 *       type: fs
 *       path: /mnt/disk1/anvil
 *       quota: 2TiB            # bytes, or 2TiB / 500GB / 1.5 GiB, or "unlimited"
 *       max_object_size: 5GiB
 *     - name: remote
 *       type: s3
 *       endpoint: https://s3.example.com
 *       region: us-east-1
 *       bucket: anvil-blobs
 *       prefix: node1/
 *       force_path_style: true
 *       access_key_id: ...     # or access_key_id_env: NAME_OF_ENV_VAR (same for the secret)
 *       secret_access_key: ...
 *       quota: 10TiB
 *       monthly: { requests: 10000000, ingress: 1TiB, egress: 1TiB }
 *
 * Without a `backends` list, one fs backend named `local` at <data_dir>
 * (unlimited quota) keeps an existing install's blobs where they are. To add
 * backends later, declare that one explicitly with the same name and path.
 *
 * Sizes: a plain number is bytes; KB/MB/GB/TB/PB are powers of 1000 and
 * KiB/MiB/GiB/TiB/PiB (and k/m/g/t/p) powers of 1024, units case-insensitive
 * (src/config/units.ts). Timeouts (`*_ms`): a plain number is milliseconds,
 * or a duration with units (`5s`, `2m`).
 *
 * Every mapping is strict: an unknown key is an error naming the closest
 * known one (a misspelt `qouta` must not leave a backend unlimited).
 */
import path from 'node:path';

import { z } from 'zod';

import { unknownKey } from '../config/suggest.js';
import { parseDuration, parseSize } from '../config/units.js';
import { isValidLocator } from './backend.js';
import { DEFAULT_READ_STALL_MS } from './failover.js';
import { MIN_PART_SIZE } from './s3-backend.js';

export const UNLIMITED = Number.MAX_SAFE_INTEGER;

export { parseSize };

/** A size (`2TiB`, `500 GB`, `4096`), turned into bytes. */
const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const quota = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'string' && v.trim().toLowerCase() === 'unlimited') return UNLIMITED;
    try {
      return parseSize(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  })
  .refine((n) => n > 0, 'quota must be positive');
const positiveSize = size.refine((n) => n > 0, 'must be positive');
/** Milliseconds: a plain number, or a duration with units (`5s`, `1m`). */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return parseDuration(v, 'ms');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const ms = duration.pipe(z.number().int().positive());

const monthlySchema = z.strictObject({
  requests: z.number().int().positive().optional(),
  ingress: positiveSize.optional(),
  egress: positiveSize.optional(),
});

const common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'name: lower-case letters, digits, "-" and "_" (at most 63)'),
  quota,
  max_object_size: positiveSize.optional(),
  monthly: monthlySchema.optional(),
};

const fsSchema = z.strictObject({
  type: z.literal('fs'),
  path: z.string().min(1),
  ...common,
});

const s3Schema = z.strictObject({
  type: z.literal('s3'),
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  region: z.string().min(1).default('us-east-1'),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'bucket: an S3 bucket name'),
  prefix: z
    .string()
    .default('')
    .refine((p) => p === '' || isValidLocator(p.replace(/\/$/, '')), 'prefix: letters, digits, ". _ - = + ~" in "/"-separated segments'),
  force_path_style: z.boolean().default(false),
  access_key_id: z.string().min(1).optional(),
  secret_access_key: z.string().min(1).optional(),
  session_token: z.string().min(1).optional(),
  /** Names of environment variables holding the key, to keep secrets out of the file. */
  access_key_id_env: z.string().min(1).optional(),
  secret_access_key_env: z.string().min(1).optional(),
  part_size: size.refine((n) => n >= MIN_PART_SIZE, 'part_size must be at least 5MiB').optional(),
  upload_concurrency: z.number().int().min(1).max(64).optional(),
  max_attempts: z.number().int().min(1).max(10).optional(),
  connect_timeout_ms: ms.optional(),
  request_timeout_ms: ms.optional(),
  idle_timeout_ms: ms.optional(),
  health_timeout_ms: ms.optional(),
  checksums: z.enum(['when_supported', 'when_required']).optional(),
  ...common,
});

export const backendsSectionSchema = z.object({
  placement: z.enum(['pack', 'spread']).default('spread'),
  replication: z.coerce.number().int().min(1).default(1),
  read_stall_timeout_ms: duration.pipe(z.number().int().min(100).max(600_000)).default(DEFAULT_READ_STALL_MS),
  backends: z
    .array(z.discriminatedUnion('type', [fsSchema, s3Schema]))
    .min(1, 'backends: declare at least one, or leave the section out')
    .optional(),
});

export interface MonthlyLimits {
  requests?: number;
  ingressBytes?: number;
  egressBytes?: number;
}

interface BackendDeclBase {
  name: string;
  quotaBytes: number;
  maxObjectSize?: number;
  monthly?: MonthlyLimits;
}

export interface FsBackendDecl extends BackendDeclBase {
  type: 'fs';
  /** Absolute (relative paths in the file are resolved against the working directory, like data_dir). */
  path: string;
}

export interface S3BackendDecl extends BackendDeclBase {
  type: 's3';
  endpoint?: string;
  region: string;
  bucket: string;
  prefix: string;
  forcePathStyle: boolean;
  /** Absent: the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  partSize?: number;
  uploadConcurrency?: number;
  maxAttempts?: number;
  timeouts: { connectMs?: number; requestMs?: number; idleMs?: number; healthMs?: number };
  checksums?: 'when_supported' | 'when_required';
}

export type BackendDecl = FsBackendDecl | S3BackendDecl;

export interface BackendsConfig {
  placement: 'pack' | 'spread';
  /** Default replication factor of a bucket. */
  replication: number;
  /**
   * A read waits this long for a replica's first response, and then for each
   * next chunk of its body, before it moves on to the next replica and opens
   * the backend's breaker (default DEFAULT_READ_STALL_MS). A stall timer,
   * not a deadline: any progress resets it.
   */
  readStallTimeoutMs?: number;
  backends: BackendDecl[];
  /** True when the file declared no backends and the data folder is the one backend. */
  isDefault: boolean;
}

export const DEFAULT_BACKEND_NAME = 'local';

/**
 * Validates the backends section. `raw` is the parsed YAML file (a mapping
 * holding placement / replication / backends among other settings), or the
 * `backends` list alone, or undefined. Throws `invalid configuration: …`.
 */
export function parseBackendsConfig(raw: unknown, dataDir: string, env: NodeJS.ProcessEnv = process.env): BackendsConfig {
  const { storage, problems } = checkBackendsConfig(raw, dataDir, env);
  if (!storage) throw new Error(`invalid configuration: ${problems.join('; ')}`);
  return storage;
}

/** Keys a mapping at `where` (a zod issue's path) may hold, for "did you mean". */
function knownKeysAt(where: PropertyKey[], input: unknown): string[] {
  if (where.length === 0) return Object.keys(backendsSectionSchema.shape);
  const entry = (input as { backends?: unknown[] }).backends?.[where[1] as number] as { type?: unknown } | undefined;
  const shape = entry?.type === 's3' ? s3Schema.shape : entry?.type === 'fs' ? fsSchema.shape : { ...fsSchema.shape, ...s3Schema.shape };
  if (where.length === 2) return Object.keys(shape);
  if (where[2] === 'monthly') return Object.keys(monthlySchema.shape);
  return [];
}

function valueAt(input: unknown, where: PropertyKey[]): unknown {
  let v = input;
  for (const k of where) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function describeIssues(issues: z.core.$ZodIssue[], input: unknown): string[] {
  return issues.flatMap((i) => {
    const where = i.path.join('.');
    if (i.path.length > 0 && valueAt(input, i.path) === undefined && i.code !== 'unrecognized_keys')
      return [`${where}: missing (required)`];
    if (i.code === 'unrecognized_keys') {
      const known = knownKeysAt(i.path, input);
      return i.keys.map((k) => `${where ? `${where}: ` : ''}${unknownKey(k, known)}`);
    }
    if (i.code === 'invalid_union' && i.path[i.path.length - 1] === 'type') return [`${where}: must be "fs" or "s3"`];
    return [`${where}: ${i.message}`];
  });
}

/** Validates the backends section (see parseBackendsConfig), naming every problem instead of throwing. */
export function checkBackendsConfig(
  raw: unknown,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): { storage?: BackendsConfig; problems: string[] } {
  const input = Array.isArray(raw) ? { backends: raw } : (raw ?? {});
  const result = backendsSectionSchema.safeParse(input);
  if (!result.success) return { problems: describeIssues(result.error.issues, input) };
  const section = result.data;

  if (!section.backends) {
    if (section.replication > 1)
      return { problems: [`replication: ${section.replication} needs at least that many backends (only the data folder is one)`] };
    return {
      storage: {
        placement: section.placement,
        replication: section.replication,
        readStallTimeoutMs: section.read_stall_timeout_ms,
        backends: [{ type: 'fs', name: DEFAULT_BACKEND_NAME, path: path.resolve(dataDir), quotaBytes: UNLIMITED }],
        isDefault: true,
      },
      problems: [],
    };
  }

  const problems: string[] = [];
  const backends: BackendDecl[] = section.backends.map((b, i) => {
    const base: BackendDeclBase = {
      name: b.name,
      quotaBytes: b.quota,
      ...(b.max_object_size !== undefined && { maxObjectSize: b.max_object_size }),
      ...(b.monthly && {
        monthly: {
          ...(b.monthly.requests !== undefined && { requests: b.monthly.requests }),
          ...(b.monthly.ingress !== undefined && { ingressBytes: b.monthly.ingress }),
          ...(b.monthly.egress !== undefined && { egressBytes: b.monthly.egress }),
        },
      }),
    };
    if (b.type === 'fs') return { ...base, type: 'fs', path: path.resolve(b.path) };
    const where = `backends.${i}`;
    const fromEnv = (name: string | undefined, key: string): string | undefined => {
      if (name === undefined) return undefined;
      const v = env[name];
      if (!v) problems.push(`${where}.${key}: environment variable ${name} is not set`);
      return v;
    };
    if (b.access_key_id && b.access_key_id_env) problems.push(`${where}: give access_key_id or access_key_id_env, not both`);
    if (b.secret_access_key && b.secret_access_key_env)
      problems.push(`${where}: give secret_access_key or secret_access_key_env, not both`);
    const accessKeyId = b.access_key_id ?? fromEnv(b.access_key_id_env, 'access_key_id_env');
    const secretAccessKey = b.secret_access_key ?? fromEnv(b.secret_access_key_env, 'secret_access_key_env');
    if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) problems.push(`${where}: access key id and secret access key go together`);
    return {
      ...base,
      type: 's3',
      endpoint: b.endpoint,
      region: b.region,
      bucket: b.bucket,
      prefix: b.prefix,
      forcePathStyle: b.force_path_style,
      ...(accessKeyId &&
        secretAccessKey && { credentials: { accessKeyId, secretAccessKey, ...(b.session_token && { sessionToken: b.session_token }) } }),
      ...(b.part_size !== undefined && { partSize: b.part_size }),
      ...(b.upload_concurrency !== undefined && { uploadConcurrency: b.upload_concurrency }),
      ...(b.max_attempts !== undefined && { maxAttempts: b.max_attempts }),
      timeouts: {
        ...(b.connect_timeout_ms !== undefined && { connectMs: b.connect_timeout_ms }),
        ...(b.request_timeout_ms !== undefined && { requestMs: b.request_timeout_ms }),
        ...(b.idle_timeout_ms !== undefined && { idleMs: b.idle_timeout_ms }),
        ...(b.health_timeout_ms !== undefined && { healthMs: b.health_timeout_ms }),
      },
      ...(b.checksums && { checksums: b.checksums }),
    };
  });

  const names = new Set<string>();
  for (const b of backends) {
    if (names.has(b.name)) problems.push(`backends: the name ${b.name} is used twice`);
    names.add(b.name);
  }
  if (section.replication > backends.length) {
    problems.push(`replication: ${section.replication} is more than the ${backends.length} backend(s) declared`);
  }
  // Two backends over the same bytes would count them twice, and one's
  // reconciliation would delete the other's blobs as orphans.
  const fsDecls = backends.filter((b): b is FsBackendDecl => b.type === 'fs');
  for (let i = 0; i < fsDecls.length; i++) {
    for (let j = i + 1; j < fsDecls.length; j++) {
      if (nested(fsDecls[i].path, fsDecls[j].path)) problems.push(`backends ${fsDecls[i].name} and ${fsDecls[j].name}: folders overlap`);
    }
  }
  const s3Decls = backends.filter((b): b is S3BackendDecl => b.type === 's3');
  for (let i = 0; i < s3Decls.length; i++) {
    for (let j = i + 1; j < s3Decls.length; j++) {
      const a = s3Decls[i];
      const b = s3Decls[j];
      const sameBucket = (a.endpoint ?? '') === (b.endpoint ?? '') && a.bucket === b.bucket;
      if (sameBucket && (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix))) {
        problems.push(`backends ${a.name} and ${b.name}: same bucket with overlapping prefixes`);
      }
    }
  }
  if (problems.length) return { problems };
  return {
    storage: {
      placement: section.placement,
      replication: section.replication,
      readStallTimeoutMs: section.read_stall_timeout_ms,
      backends,
      isDefault: false,
    },
    problems: [],
  };
}

function nested(a: string, b: string): boolean {
  const inside = (outer: string, inner: string) => {
    const rel = path.relative(outer, inner);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  return inside(a, b) || inside(b, a);
}
