/**
 * Who may do what. Until policies exist, a bucket is reachable only by keys
 * of the tenant that owns it; anonymous callers are refused everything.
 */
import type { Bucket } from '../../core/buckets.js';
import type { S3Request } from '../context.js';
import { errors } from '../errors.js';

export function requireTenant(r: S3Request): string {
  if (!r.tenantId) throw errors.accessDenied();
  return r.tenantId;
}

/** The addressed bucket, if it exists and the caller owns it. */
export async function requireBucket(r: S3Request): Promise<Bucket> {
  const tenantId = requireTenant(r);
  const name = r.addr.bucket!;
  const bucket = await r.services.buckets.get(name);
  if (!bucket) throw errors.noSuchBucket(name);
  if (bucket.tenant_id !== tenantId) throw errors.accessDenied();
  return bucket;
}
