/**
 * Sizes (`5GiB`, `100MB`, `512k`, `4096`) and durations (`30s`, `5m`, `24h`,
 * `1h30m`) as the config file, the environment and the flags take them.
 *
 * Written here rather than taken from a package: `bytes` (the ubiquitous
 * one) reads `1MB` as 1024² and knows no `MiB`, and `ms` would be a new
 * dependency for twenty lines; neither knows our plain-number rule. The
 * rules, documented in README § Configuration:
 * - a plain number is bytes (sizes), or the unit in the setting's name
 *   (durations: `multipart_max_age_hours: 2` is two hours);
 * - KB MB GB TB PB are powers of 1000; KiB MiB GiB TiB PiB, Ki Mi Gi Ti Pi
 *   and the single letters k m g t p (as in dd, nginx and Docker) powers of
 *   1024; units are case-insensitive, a space before them is allowed;
 * - durations: ms, s, m, h, d, w, one or several (`1h30m`).
 */

const POWERS: Record<string, bigint> = {
  b: 1n,
  kb: 10n ** 3n,
  mb: 10n ** 6n,
  gb: 10n ** 9n,
  tb: 10n ** 12n,
  pb: 10n ** 15n,
  kib: 1n << 10n,
  mib: 1n << 20n,
  gib: 1n << 30n,
  tib: 1n << 40n,
  pib: 1n << 50n,
};
for (const p of ['k', 'm', 'g', 't', 'p']) POWERS[p] = POWERS[p + 'ib'];
for (const p of ['k', 'm', 'g', 't', 'p']) POWERS[p + 'i'] = POWERS[p + 'ib'];

const SIZE_HINT = 'bytes, or a number with a unit: 100MB, 5GiB, 512k (KB MB GB TB PB ×1000; KiB MiB GiB TiB PiB, k m g t p ×1024)';

/** `1.5GiB` → bytes, exactly (no floating point), rounded down to a whole byte. Throws on anything else. */
export function parseSize(value: string | number): number {
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else {
    const m = /^\s*(\d+)(?:\.(\d+))?\s*([a-z]*)\s*$/i.exec(value);
    const unit = m ? POWERS[(m[3] || 'b').toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new Error(`invalid size ${JSON.stringify(value)} (${SIZE_HINT})`);
    const fraction = m[2] ?? '';
    const exact = (BigInt(m[1] + fraction) * unit) / 10n ** BigInt(fraction.length);
    bytes = exact > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(exact);
  }
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`invalid size ${JSON.stringify(value)} (${SIZE_HINT})`);
  return bytes;
}

const FORMAT_UNITS: Array<[string, number]> = [
  ['PiB', 1024 ** 5],
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
  ['PB', 1e15],
  ['TB', 1e12],
  ['GB', 1e9],
  ['MB', 1e6],
  ['KB', 1e3],
];

/** Bytes as the shortest exact size with a unit (`5GiB`, `100MB`), or plain bytes: parseSize reads it back unchanged. */
export function formatSize(bytes: number): string {
  let best: string | undefined;
  for (const [name, unit] of FORMAT_UNITS) {
    const text = `${bytes / unit}${name}`;
    if (bytes >= unit && bytes % unit === 0 && (best === undefined || text.length < best.length)) best = text;
  }
  const plain = String(bytes);
  return best !== undefined && best.length <= plain.length ? best : plain;
}

export type DurationUnit = 'ms' | 's' | 'h';

const MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `30s`, `5m`, `1h30m`, `1.5h` → a number of `plain` units (`90m` in hours is
 * 1.5); a plain number is already in `plain` units. Throws on anything else.
 */
export function parseDuration(value: string | number, plain: DurationUnit): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`invalid duration ${value}`);
    return value;
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const part = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/gy;
  let total = 0;
  let at = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * MS[m[2]];
    at = part.lastIndex;
    while (text[at] === ' ') at++;
    part.lastIndex = at;
  }
  if (text === '' || at !== text.length) {
    throw new Error(
      `invalid duration ${JSON.stringify(value)} (a number of ${plain === 'ms' ? 'milliseconds' : plain === 's' ? 'seconds' : 'hours'}, or with units: 500ms, 30s, 5m, 24h, 7d, 1h30m)`,
    );
  }
  return total / MS[plain];
}

/** Milliseconds as `1h30m5s`, `250ms` or `0s`: parseDuration(…, 'ms') reads it back unchanged. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let left = ms;
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's', 'ms']) {
    const n = Math.floor(left / MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      left -= n * MS[unit];
    }
  }
  return left > 0 ? `${out}${left}ms` : out;
}

const PER: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600 };
const RATE_HINT = 'requests per second, or with a period: 100/s, 6000/min, 50000/h';

/** `100/s`, `6000/min`, `50000/h` → requests per second; a plain number already is. Throws on anything else. */
export function parseRate(value: string | number): number {
  let perSecond: number;
  if (typeof value === 'number') perSecond = value;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([a-z]+))?\s*$/i.exec(value);
    const per = m && (m[2] === undefined ? 1 : PER[m[2].toLowerCase()]);
    if (!m || per === undefined || per === null) throw new Error(`invalid rate ${JSON.stringify(value)} (${RATE_HINT})`);
    perSecond = Number(m[1]) / per;
  }
  if (!Number.isFinite(perSecond) || perSecond < 0) throw new Error(`invalid rate ${JSON.stringify(value)} (${RATE_HINT})`);
  return perSecond;
}

/** Requests per second as `100/s` (or `N/min`, `N/h` when that is a whole number and the per-second one is not). */
export function formatRate(perSecond: number): string {
  if (Number.isInteger(perSecond)) return `${perSecond}/s`;
  for (const [name, secs] of [
    ['min', 60],
    ['h', 3600],
  ] as const) {
    const n = perSecond * secs;
    if (Math.abs(n - Math.round(n)) < 1e-9) return `${Math.round(n)}/${name}`;
  }
  return `${perSecond}/s`;
}
