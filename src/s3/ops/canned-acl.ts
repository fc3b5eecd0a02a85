/**
 * The canned ACLs Anvil supports: `private` and `public-read` (anonymous
 * read of an object; anonymous listing of a bucket). The bucket-owner-* ACLs
 * mean `private` here, since the bucket owner always owns the object. Every
 * other ACL (public-read-write, authenticated-read, explicit x-amz-grant-*
 * headers) is refused with a clear error rather than silently ignored.
 */
import type { IncomingHttpHeaders } from 'node:http';

import type { CannedAcl } from '../../core/objects.js';
import { errors } from '../errors.js';

const AS_PRIVATE = new Set(['private', 'bucket-owner-read', 'bucket-owner-full-control']);

export function cannedAclFromHeaders(h: IncomingHttpHeaders): CannedAcl {
  const grants = Object.keys(h).filter((name) => name.startsWith('x-amz-grant-'));
  if (grants.length > 0) {
    throw errors.notImplemented(`Explicit grants (${grants.join(', ')}) are not supported; use the canned ACL private or public-read`);
  }
  const raw = h['x-amz-acl'];
  const value = (Array.isArray(raw) ? raw.join(',') : raw)?.trim();
  if (value === undefined || value === '') return 'private';
  if (AS_PRIVATE.has(value)) return 'private';
  if (value === 'public-read') return 'public-read';
  if (['public-read-write', 'authenticated-read', 'aws-exec-read', 'log-delivery-write'].includes(value)) {
    throw errors.notImplemented(`The canned ACL ${value} is not supported; use private or public-read`);
  }
  throw errors.invalidArgument('The canned ACL is not valid', 'x-amz-acl', value);
}
