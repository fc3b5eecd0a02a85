/**
 * The resolved configuration in the config file's own terms (snake_case keys,
 * sizes with units), for `anvil config check` (secrets masked, each value's
 * source as a comment) and for SIGHUP's "what changed" (flattened paths such
 * as `log_level` or `backends.disk2.quota`).
 */
import YAML, { isMap, isScalar, type Pair, type Scalar } from 'yaml';

import { type BackendDecl, UNLIMITED } from '../backends/config.js';
import { type Config, type ConfigCheck, SECRET_SETTINGS, settingNames, type SettingSource } from './config.js';
import { formatRate, formatSize } from './units.js';

const MASK = '***';

/** A database URL with its password masked. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = MASK;
    return u.toString();
  } catch {
    // Not a URL the parser takes (sqlite:PATH): it has no password to hide.
    return url;
  }
}

const SIZES = new Set(['maxObjectSize', 'scrubBytesPerSecond']);
const RATES = new Set(['rateLimitPerKey', 'rateLimitPerTenant']);

function backendInFileTerms(d: BackendDecl, mask: boolean): Record<string, unknown> {
  const secret = (v: string | undefined) => (v === undefined ? undefined : mask ? MASK : v);
  const out: Record<string, unknown> = { name: d.name, type: d.type };
  if (d.type === 'fs') out.path = d.path;
  else {
    Object.assign(out, {
      endpoint: d.endpoint,
      region: d.region,
      bucket: d.bucket,
      prefix: d.prefix,
      force_path_style: d.forcePathStyle,
      access_key_id: d.credentials?.accessKeyId,
      secret_access_key: secret(d.credentials?.secretAccessKey),
      session_token: secret(d.credentials?.sessionToken),
      part_size: d.partSize === undefined ? undefined : formatSize(d.partSize),
      upload_concurrency: d.uploadConcurrency,
      max_attempts: d.maxAttempts,
      connect_timeout_ms: d.timeouts.connectMs,
      request_timeout_ms: d.timeouts.requestMs,
      idle_timeout_ms: d.timeouts.idleMs,
      health_timeout_ms: d.timeouts.healthMs,
      checksums: d.checksums,
    });
  }
  out.quota = d.quotaBytes === UNLIMITED ? 'unlimited' : formatSize(d.quotaBytes);
  if (d.maxObjectSize !== undefined) out.max_object_size = formatSize(d.maxObjectSize);
  if (d.monthly) {
    const m = d.monthly;
    out.monthly = {
      ...(m.requests !== undefined && { requests: m.requests }),
      ...(m.ingressBytes !== undefined && { ingress: formatSize(m.ingressBytes) }),
      ...(m.egressBytes !== undefined && { egress: formatSize(m.egressBytes) }),
    };
  }
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** The configuration as a config file would say it (file keys, sizes with units); secrets masked unless `mask` is false. */
export function configInFileTerms(config: Config, mask = true): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, file } of settingNames()) {
    let value: unknown = config[key];
    if (value === undefined) continue;
    if (SIZES.has(key)) value = formatSize(value as number);
    if (RATES.has(key)) value = formatRate(value as number);
    if (mask && SECRET_SETTINGS.has(key)) value = MASK;
    if (mask && key === 'databaseUrl') value = maskUrl(String(value));
    out[file] = value;
  }
  out.placement = config.storage.placement;
  out.replication = config.storage.replication;
  if (config.storage.readStallTimeoutMs !== undefined) out.read_stall_timeout_ms = config.storage.readStallTimeoutMs;
  out.backends = config.storage.backends.map((d) => backendInFileTerms(d, mask));
  return out;
}

/** `anvil config check`'s listing: YAML, secrets masked, each setting's source as a comment. */
export function describeConfig(checked: ConfigCheck & { config: Config }): string {
  const doc = new YAML.Document(configInFileTerms(checked.config));
  const byFile = new Map(settingNames().map((s) => [s.file, s]));
  if (isMap(doc.contents)) {
    for (const pair of doc.contents.items as Pair<Scalar, YAML.Node>[]) {
      const name = String(pair.key.value);
      const s = byFile.get(name);
      const src: SettingSource | undefined = s
        ? checked.sources[s.key]
        : checked.fileKeys.includes(name)
          ? { from: 'file', name }
          : undefined;
      const note =
        src?.from === 'flag' ? `flag ${src.name}` : src?.from === 'env' ? `env ${src.name}` : src?.from === 'file' ? 'file' : 'default';
      if (isScalar(pair.value)) pair.value.comment = ` ${note}`;
      else if (pair.value) pair.key.commentBefore = ` ${note}:`;
    }
  }
  return doc.toString({ lineWidth: 0 });
}

/** Every leaf of the configuration as `path → value` (backends by name), for comparing two configurations. */
export function flattenConfig(config: Config): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (prefix: string, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
    } else out.set(prefix, JSON.stringify(value));
  };
  const { backends, ...rest } = configInFileTerms(config, false);
  walk('', rest);
  const list = backends as Array<Record<string, unknown>>;
  out.set('backends', JSON.stringify(list.map((b) => b.name)));
  for (const b of list) walk(`backends.${String(b.name)}`, b);
  return out;
}

/**
 * The settings that differ between two configurations, by path: `log_level`,
 * `backends.disk2.quota`; a backend added or removed is `backends.NAME`, and a
 * changed list (names or order) also `backends`.
 */
export function changedSettings(before: Config, after: Config): string[] {
  const a = flattenConfig(before);
  const b = flattenConfig(after);
  const names = (m: Map<string, string>) => new Set(JSON.parse(m.get('backends') ?? '[]') as string[]);
  const [namesA, namesB] = [names(a), names(b)];
  const changed = new Set<string>();
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(key) === b.get(key)) continue;
    const m = /^backends\.([^.]+)\./.exec(key);
    if (m && !(namesA.has(m[1]) && namesB.has(m[1]))) changed.add(`backends.${m[1]}`);
    else changed.add(key);
  }
  return [...changed].sort();
}
