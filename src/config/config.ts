/**
 * Server configuration, resolved once at start (and again on SIGHUP) with the
 * precedence flags > environment > YAML config file > defaults, then
 * validated by zod. Strict: an unknown key in the file is an error with a
 * "did you mean", and every problem is named at once (checkConfig), each
 * with where the bad value came from (flag, variable, or file and key).
 *
 * To add a setting: a line in configSchema, one in `settings` (its variable
 * and YAML key), its default below, and its unit in UNITS if it is a size or
 * a duration; a secret goes in SECRET_SETTINGS.
 */
import fs from 'node:fs';
import path from 'node:path';

import YAML from 'yaml';
import { z } from 'zod';

import { type BackendsConfig, checkBackendsConfig } from '../backends/config.js';
import { unknownKey } from './suggest.js';
import { type DurationUnit, parseDuration, parseRate, parseSize } from './units.js';

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
  /** A file holding the master key (kept away from the data folder and its blobs); created on a first start. */
  masterKeyFile: z.string().min(1).optional(),
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
   * Request rate limits (core/limits.ts): S3 requests per second of each
   * access key and of each tenant (all its keys together), in this node;
   * 0 = no limit. A tenant's own limits (admin API) replace them. Past a
   * limit requests get 503 SlowDown with Retry-After. Reloaded on SIGHUP.
   */
  rateLimitPerKey: z.number().nonnegative().finite(),
  /** Requests a key may send at once above its rate (0 = one second's worth, at least 1). */
  rateLimitPerKeyBurst: z.number().int().nonnegative(),
  rateLimitPerTenant: z.number().nonnegative().finite(),
  rateLimitPerTenantBurst: z.number().int().nonnegative(),
  /** At SIGTERM/SIGINT, requests in flight get this long to finish before they are cut (seconds). */
  shutdownTimeout: z.number().nonnegative().finite(),
  /** Behind a reverse proxy: log the client address from the last X-Forwarded-For entry (the proxy's address too). */
  trustProxy: z.boolean(),
  /**
   * Accept AWS Signature Version 2 (header, presigned URL, POST policy) as
   * S3 and MinIO do: Debian's boto3 presigns with it by default, `s3cmd
   * signurl` only speaks it. Off, such requests get 403 naming the option.
   */
  sigv2: z.boolean(),
  /**
   * OTLP/HTTP endpoint to send traces to (http://collector:4318; spans go to
   * its /v1/traces). Unset: tracing is off. OpenTelemetry's own variable, not
   * an ANVIL_ one, so that a collector set up for other services covers Anvil.
   */
  tracingEndpoint: z.url({ protocol: /^https?$/, error: 'tracing_endpoint must be an http(s) URL' }).optional(),
  /**
   * How long the change feed keeps events (seconds; `7d`, `12h`): older ones
   * are pruned by a background job, and a cursor older than that gets 410.
   */
  eventsRetention: z.number().positive().finite(),
  /** Serve the web console at /-/console/ (static files; it talks only to the admin and S3 APIs). On by default. */
  console: z.boolean(),
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
  { key: 'masterKeyFile', env: 'ANVIL_MASTER_KEY_FILE', file: 'master_key_file' },
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
  { key: 'rateLimitPerKey', env: 'ANVIL_RATE_LIMIT_PER_KEY', file: 'rate_limit_per_key' },
  { key: 'rateLimitPerKeyBurst', env: 'ANVIL_RATE_LIMIT_PER_KEY_BURST', file: 'rate_limit_per_key_burst' },
  { key: 'rateLimitPerTenant', env: 'ANVIL_RATE_LIMIT_PER_TENANT', file: 'rate_limit_per_tenant' },
  { key: 'rateLimitPerTenantBurst', env: 'ANVIL_RATE_LIMIT_PER_TENANT_BURST', file: 'rate_limit_per_tenant_burst' },
  { key: 'shutdownTimeout', env: 'ANVIL_SHUTDOWN_TIMEOUT', file: 'shutdown_timeout' },
  { key: 'trustProxy', env: 'ANVIL_TRUST_PROXY', file: 'trust_proxy' },
  { key: 'sigv2', env: 'ANVIL_SIGV2', file: 'sigv2' },
  { key: 'tracingEndpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT', file: 'tracing_endpoint' },
  { key: 'console', env: 'ANVIL_CONSOLE', file: 'console' },
  { key: 'eventsRetention', env: 'ANVIL_EVENTS_RETENTION', file: 'events_retention' },
];

export type ConfigOverrides = Partial<Record<Exclude<keyof Config, 'storage'>, string | number | boolean | undefined>> & {
  configFile?: string;
};

type SettingKey = (typeof settings)[number]['key'];

/**
 * Settings that take a size (`5GiB`, src/config/units.ts) or a duration
 * (`30s`, `24h`); a plain number keeps its old meaning (bytes, or the unit
 * in the setting's name).
 */
const UNITS: Partial<Record<SettingKey, 'size' | 'rate' | DurationUnit>> = {
  rateLimitPerKey: 'rate',
  rateLimitPerTenant: 'rate',
  maxObjectSize: 'size',
  scrubBytesPerSecond: 'size',
  multipartMaxAgeHours: 'h',
  multipartRetryWindowSeconds: 's',
  shutdownTimeout: 's',
  eventsRetention: 's',
};

/**
 * YAML keys besides the settings above: the storage section
 * (src/backends/config.ts). A part that adds a YAML section lists its key
 * here; any other key in the file is an error.
 */
export const FILE_SECTIONS = ['placement', 'replication', 'read_stall_timeout_ms', 'backends'];

/** Settings whose values are secrets: `anvil config check` and logs show them masked. */
export const SECRET_SETTINGS = new Set<string>(['rootSecretKey', 'masterKey', 'previousMasterKeys']);

/** Each setting's camelCase key, environment variable and YAML key. */
export function settingNames(): ReadonlyArray<{ key: SettingKey; env: string; file: string }> {
  return settings;
}

/** Every key the YAML file may hold. */
export function knownFileKeys(): string[] {
  return [...settings.map((s) => s.file), ...FILE_SECTIONS];
}

/** Where a setting's value came from: a flag, an environment variable, the config file, or the default. */
export type SettingSource =
  { from: 'flag'; name: string } | { from: 'env'; name: string } | { from: 'file'; name: string } | { from: 'default' };

export interface ConfigCheck {
  /** The resolved configuration, when there were no problems. */
  config?: Config;
  /** Every problem found, each naming where the bad value came from. */
  problems: string[];
  /** The config file read, if any. */
  file?: string;
  /** Where each setting's value came from (by camelCase key). */
  sources: Partial<Record<SettingKey, SettingSource>>;
  /** The keys the config file holds. */
  fileKeys: string[];
}

/** A configuration that does not validate: every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function readConfigFile(file: string | undefined, problems: string[]): Record<string, unknown> {
  if (!file) return {};
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return {};
  }
  // Every YAML error at once (a duplicate key is one), each with its line.
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) problems.push(`${file}: ${e.message.split('\n')[0]}`);
    return {};
  }
  const parsed: unknown = doc.toJS() ?? {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${file}: expected a YAML mapping (key: value lines)`);
    return {};
  }
  return parsed as Record<string, unknown>;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Resolves and validates the configuration; throws a ConfigError naming every problem. */
export function loadConfig(flags: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const checked = checkConfig(flags, env);
  if (!checked.config) throw new ConfigError(checked.problems);
  return checked.config;
}

/**
 * Resolves the configuration with the precedence flags > environment > file >
 * defaults, and validates it strictly: an unknown key in the file, a value
 * that does not parse, settings that do not go together. Never throws for
 * bad input: `problems` names each (`anvil config check` prints them all).
 */
export function checkConfig(flags: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  const problems: string[] = [];
  const fileName = flags.configFile ?? env.ANVIL_CONFIG;
  const file = readConfigFile(fileName, problems);
  const known = knownFileKeys();
  for (const key of Object.keys(file)) if (!known.includes(key)) problems.push(`${fileName}: ${unknownKey(key, known)}`);

  const raw: Record<string, unknown> = {};
  const sources: ConfigCheck['sources'] = {};
  const given: Partial<Record<SettingKey, unknown>> = {};
  const label = (key: SettingKey): string => {
    const src = sources[key];
    const s = settings.find((x) => x.key === key)!;
    if (src?.from === 'flag') return `--${kebab(key)}`;
    if (src?.from === 'env') return src.name;
    if (src?.from === 'file') return `${fileName}: ${s.file}`;
    return `${s.file} (default)`;
  };
  for (const s of settings) {
    const fromFlag = flags[s.key];
    const fromEnv = env[s.env];
    const fromFile = file[s.file];
    let value: unknown;
    if (fromFlag !== undefined && fromFlag !== '') [value, sources[s.key]] = [fromFlag, { from: 'flag', name: `--${kebab(s.key)}` }];
    else if (fromEnv !== undefined && fromEnv !== '') [value, sources[s.key]] = [fromEnv, { from: 'env', name: s.env }];
    else if (fromFile !== undefined && fromFile !== '') [value, sources[s.key]] = [fromFile, { from: 'file', name: s.file }];
    else continue;
    given[s.key] = value;
    if (value === null) {
      problems.push(`${label(s.key)}: no value (remove the key for the default)`);
      continue;
    }
    const unit = UNITS[s.key];
    if (unit && (typeof value === 'string' || typeof value === 'number')) {
      try {
        value = unit === 'size' ? parseSize(value) : unit === 'rate' ? parseRate(value) : parseDuration(value, unit);
      } catch (err) {
        problems.push(`${label(s.key)}: ${(err as Error).message}`);
        continue;
      }
    }
    raw[s.key] = value;
  }
  for (const s of settings) sources[s.key] ??= { from: 'default' };
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
  raw.shutdownTimeout = Number(raw.shutdownTimeout ?? 30);
  raw.eventsRetention = Number(raw.eventsRetention ?? 7 * 86400);
  raw.rateLimitPerKey = Number(raw.rateLimitPerKey ?? 0);
  raw.rateLimitPerKeyBurst = Number(raw.rateLimitPerKeyBurst ?? 0);
  raw.rateLimitPerTenant = Number(raw.rateLimitPerTenant ?? 0);
  raw.rateLimitPerTenantBurst = Number(raw.rateLimitPerTenantBurst ?? 0);
  raw.trustProxy = ['1', 'true', 'yes', 'on'].includes(String(raw.trustProxy ?? 'false').toLowerCase());
  raw.sigv2 = !['0', 'false', 'no', 'off'].includes(String(raw.sigv2 ?? 'true').toLowerCase());
  raw.console = !['0', 'false', 'no', 'off'].includes(String(raw.console ?? 'true').toLowerCase());
  if (raw.masterKeyFile !== undefined) raw.masterKeyFile = path.resolve(String(raw.masterKeyFile));
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const i of result.error.issues) {
      const key = i.path[0] as SettingKey;
      // A value that failed its unit parsing above is reported once, there.
      if (problems.some((p) => p.startsWith(`${label(key)}: `))) continue;
      const got = given[key] !== undefined && !SECRET_SETTINGS.has(key) ? ` (got ${JSON.stringify(given[key])})` : '';
      problems.push(`${label(key)}: ${i.message}${got}`);
    }
  }
  const data = result.data;
  if (data && Boolean(data.rootAccessKey) !== Boolean(data.rootSecretKey)) {
    const [given, missing] = data.rootAccessKey
      ? (['rootAccessKey', 'rootSecretKey'] as const)
      : (['rootSecretKey', 'rootAccessKey'] as const);
    const m = settings.find((s) => s.key === missing)!;
    problems.push(`${label(given)}: the root access key and secret key go together; ${m.env} (or ${m.file}) is missing`);
  }
  if (data?.masterKey && data.masterKeyFile) {
    problems.push(`${label('masterKey')} and ${label('masterKeyFile')}: give the master key or a file holding it, not both`);
  }
  const section: Record<string, unknown> = {};
  for (const key of FILE_SECTIONS) if (file[key] !== undefined) section[key] = file[key];
  const checkedStorage = checkBackendsConfig(section, String(raw.dataDir), env);
  problems.push(...checkedStorage.problems.map((p) => `${fileName}: ${p}`));
  const fileKeys = Object.keys(file);
  if (problems.length || !data || !checkedStorage.storage) return { problems, file: fileName, sources, fileKeys };
  return { config: { ...data, storage: checkedStorage.storage }, problems, file: fileName, sources, fileKeys };
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}
