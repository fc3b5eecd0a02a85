/**
 * Server configuration, resolved once at start with the precedence
 * flags > environment > YAML config file > defaults, then validated by zod.
 */
import fs from 'node:fs';
import path from 'node:path';

import YAML from 'yaml';
import { z } from 'zod';

import { type BackendsConfig, parseBackendsConfig } from '../backends/config.js';

export const configSchema = z.object({
  listen: z.string().regex(/^(\[[^\]]+\]|[^:]+):\d{1,5}$/, 'listen must be host:port'),
  dataDir: z.string().min(1),
  databaseUrl: z.string().min(1),
  region: z.string().regex(/^[a-z0-9-]{1,64}$/, 'region must be lower-case letters, digits and dashes'),
  /** Base domain for virtual-host-style requests: BUCKET.<domain>. */
  domain: z.string().min(1),
  rootAccessKey: z.string().min(3).max(128).optional(),
  rootSecretKey: z.string().min(8).max(256).optional(),
  /** 32 bytes as hex or base64; generated into the data folder when absent. */
  masterKey: z.string().optional(),
  /** Master keys being rotated out: still decrypt, never encrypt (comma-separated). */
  previousMasterKeys: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** Largest single PUT body in bytes (S3: 5 GiB). */
  maxObjectSize: z.number().int().positive(),
  /** Also check encrypted blobs' plaintext against their BLAKE3 address on whole reads (plaintext blobs always are). */
  verifyReads: z.boolean(),
  /** Bytes per second the integrity scrub re-hashes (0 turns scrubbing off). */
  scrubBytesPerSecond: z.number().int().nonnegative(),
  /** Distinguishes nodes sharing one data folder (default: host name + folder id). */
  nodeId: z.string().min(1).max(128).optional(),
  /** Incomplete multipart uploads older than this are aborted (hours). */
  multipartMaxAgeHours: z.number().positive(),
  /**
   * For this long after a multipart upload completed, a retried
   * CompleteMultipartUpload with the same part list gets the first answer
   * again instead of NoSuchUpload (seconds; 0 turns this off).
   */
  multipartRetryWindowSeconds: z.number().nonnegative().finite(),
  /**
   * Encrypt new blobs at rest (AES-256-GCM frames, a data key per blob
   * wrapped by the master key). On by default; turn off only where the
   * disks are encrypted below Anvil (blobs written meanwhile stay as they are).
   */
  encryptAtRest: z.boolean(),
  /**
   * Open client connections at most; past it new connections are closed as
   * they are accepted (0 = no cap). Keep it under the process's open-file
   * limit (LimitNOFILE), which also covers blob files and database handles.
   */
  maxConnections: z.number().int().nonnegative(),
  /** S3 requests served at once at most; past it requests get 503 SlowDown (0 = no cap). */
  maxConcurrentRequests: z.number().int().nonnegative(),
  /**
   * OTLP/HTTP endpoint to send traces to (http://collector:4318; spans go to
   * its /v1/traces). Unset: tracing is off. OpenTelemetry's own variable, not
   * an ANVIL_ one, so that a collector set up for other services covers Anvil.
   */
  tracingEndpoint: z.url({ protocol: /^https?$/, error: 'tracing_endpoint must be an http(s) URL' }).optional(),
});

export type Config = z.infer<typeof configSchema> & {
  /** Backends, placement strategy and default replication (the YAML file's placement / replication / backends). */
  storage: BackendsConfig;
};

/** Names of every setting, with its environment variable and YAML key. */
const settings: Array<{ key: Exclude<keyof Config, 'storage'>; env: string; file: string }> = [
  { key: 'listen', env: 'ANVIL_LISTEN', file: 'listen' },
  { key: 'dataDir', env: 'ANVIL_DATA_DIR', file: 'data_dir' },
  { key: 'databaseUrl', env: 'ANVIL_DATABASE_URL', file: 'database_url' },
  { key: 'region', env: 'ANVIL_REGION', file: 'region' },
  { key: 'domain', env: 'ANVIL_DOMAIN', file: 'domain' },
  { key: 'rootAccessKey', env: 'ANVIL_ROOT_ACCESS_KEY', file: 'root_access_key' },
  { key: 'rootSecretKey', env: 'ANVIL_ROOT_SECRET_KEY', file: 'root_secret_key' },
  { key: 'masterKey', env: 'ANVIL_MASTER_KEY', file: 'master_key' },
  { key: 'previousMasterKeys', env: 'ANVIL_PREVIOUS_MASTER_KEYS', file: 'previous_master_keys' },
  { key: 'logLevel', env: 'ANVIL_LOG_LEVEL', file: 'log_level' },
  { key: 'maxObjectSize', env: 'ANVIL_MAX_OBJECT_SIZE', file: 'max_object_size' },
  { key: 'verifyReads', env: 'ANVIL_VERIFY_READS', file: 'verify_reads' },
  { key: 'nodeId', env: 'ANVIL_NODE_ID', file: 'node_id' },
  { key: 'scrubBytesPerSecond', env: 'ANVIL_SCRUB_BYTES_PER_SECOND', file: 'scrub_bytes_per_second' },
  { key: 'multipartMaxAgeHours', env: 'ANVIL_MULTIPART_MAX_AGE_HOURS', file: 'multipart_max_age_hours' },
  { key: 'multipartRetryWindowSeconds', env: 'ANVIL_MULTIPART_RETRY_WINDOW_SECONDS', file: 'multipart_retry_window_seconds' },
  { key: 'encryptAtRest', env: 'ANVIL_ENCRYPT_AT_REST', file: 'encrypt_at_rest' },
  { key: 'maxConnections', env: 'ANVIL_MAX_CONNECTIONS', file: 'max_connections' },
  { key: 'maxConcurrentRequests', env: 'ANVIL_MAX_CONCURRENT_REQUESTS', file: 'max_concurrent_requests' },
  { key: 'tracingEndpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT', file: 'tracing_endpoint' },
];

export type ConfigOverrides = Partial<Record<Exclude<keyof Config, 'storage'>, string | number | boolean | undefined>> & {
  configFile?: string;
};

function readConfigFile(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  const parsed = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file}: expected a YAML mapping`);
  return parsed as Record<string, unknown>;
}

export function loadConfig(flags: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = readConfigFile(flags.configFile ?? env.ANVIL_CONFIG);
  const raw: Record<string, unknown> = {};
  for (const s of settings) {
    const value = flags[s.key] ?? env[s.env] ?? file[s.file];
    if (value !== undefined && value !== '') raw[s.key] = value;
  }
  raw.listen ??= '127.0.0.1:9000';
  raw.dataDir ??= './data';
  raw.dataDir = path.resolve(String(raw.dataDir));
  raw.databaseUrl ??= `sqlite:${path.join(String(raw.dataDir), 'anvil.db')}`;
  raw.region ??= 'us-east-1';
  raw.domain ??= 'localhost';
  raw.logLevel ??= 'info';
  raw.maxObjectSize = Number(raw.maxObjectSize ?? 5 * 1024 ** 3);
  raw.verifyReads = ['1', 'true', 'yes', 'on'].includes(String(raw.verifyReads ?? 'false').toLowerCase());
  raw.scrubBytesPerSecond = Number(raw.scrubBytesPerSecond ?? 32 * 1024 * 1024);
  raw.multipartMaxAgeHours = Number(raw.multipartMaxAgeHours ?? 7 * 24);
  raw.multipartRetryWindowSeconds = Number(raw.multipartRetryWindowSeconds ?? 15 * 60);
  raw.encryptAtRest = !['0', 'false', 'no', 'off'].includes(String(raw.encryptAtRest ?? 'true').toLowerCase());
  raw.maxConnections = Number(raw.maxConnections ?? 4096);
  raw.maxConcurrentRequests = Number(raw.maxConcurrentRequests ?? 1024);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  if (Boolean(result.data.rootAccessKey) !== Boolean(result.data.rootSecretKey)) {
    throw new Error('invalid configuration: ANVIL_ROOT_ACCESS_KEY and ANVIL_ROOT_SECRET_KEY must be given together');
  }
  const storage = parseBackendsConfig(
    {
      placement: file.placement,
      replication: file.replication,
      read_stall_timeout_ms: file.read_stall_timeout_ms,
      backends: file.backends,
    },
    String(raw.dataDir),
    env,
  );
  return { ...result.data, storage };
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}
