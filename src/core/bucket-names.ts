/** Names Anvil keeps for itself: `/admin/...` is the admin API in path-style requests. */
export const RESERVED_BUCKET_NAMES = new Set(['admin']);

/** S3's general-purpose bucket naming rules, plus Anvil's reserved names. */
export function isValidBucketName(name: string): boolean {
  if (RESERVED_BUCKET_NAMES.has(name)) return false;
  if (name.length < 3 || name.length > 63) return false;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return false;
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) return false;
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return false;
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return false;
  if (/(-s3alias|--ol-s3|--x-s3|\.mrap)$/.test(name)) return false;
  // `--` separates a bucket from a branch, tag or commit in an alias (core/branches/names.ts).
  if (name.includes('--')) return false;
  return true;
}
