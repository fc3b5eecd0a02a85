/**
 * A bucket's Object Lock configuration: whether lock is enabled (it can
 * never be turned off) and the default retention new versions get. Stored
 * as JSON in buckets.object_lock.
 */
import { fail } from '../errors.js';
import type { Bucket } from '../meta/buckets/types.js';
import type { LockMode, VersionLock } from '../meta/objects/types.js';

export interface DefaultRetention {
  mode: LockMode;
  days?: number;
  years?: number;
}

export interface ObjectLockConfig {
  enabled: true;
  rule?: DefaultRetention;
}

const DAY_MS = 86_400_000;

export function objectLockOf(bucket: Pick<Bucket, 'object_lock'>): ObjectLockConfig | undefined {
  return bucket.object_lock ? (JSON.parse(bucket.object_lock) as ObjectLockConfig) : undefined;
}

/** Checks a default retention as S3 does: a mode and exactly one positive period. */
export function validateDefaultRetention(rule: DefaultRetention): void {
  const bad = (m: string) => fail.invalid('InvalidArgument', m);
  if (rule.mode !== 'GOVERNANCE' && rule.mode !== 'COMPLIANCE') throw fail.invalid('MalformedXML', 'Unknown retention mode');
  if ((rule.days === undefined) === (rule.years === undefined))
    throw bad('Default retention period must have either Days or Years, not both');
  const n = rule.days ?? rule.years!;
  if (!Number.isInteger(n) || n <= 0) throw bad('Default retention period must be a positive integer value');
  if ((rule.days ?? 0) > 36500 || (rule.years ?? 0) > 100) throw bad('Default retention period is too large');
}

/**
 * What a new version of this bucket is protected by: the retention and
 * legal hold the request asks for, else the bucket's default retention.
 */
export function lockForNewVersion(
  bucket: Pick<Bucket, 'object_lock'>,
  asked: VersionLock | undefined,
  now = Date.now(),
): VersionLock | undefined {
  const config = objectLockOf(bucket);
  if (!config) {
    if (asked && (asked.mode || asked.legalHold)) throw fail.invalid('InvalidRequest', 'Bucket is missing Object Lock Configuration');
    return undefined;
  }
  if (asked?.mode) return asked;
  const rule = config.rule;
  if (!rule) return asked;
  const until = rule.days !== undefined ? now + rule.days * DAY_MS : addYears(now, rule.years!);
  return { mode: rule.mode, until, legalHold: asked?.legalHold ?? false };
}

function addYears(now: number, years: number): number {
  const d = new Date(now);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
}
