/** Everything a handler needs to serve one S3 request. */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import type { BucketService } from '../core/buckets.js';
import type { ListingService } from '../core/listing.js';
import type { MultipartService } from '../core/multipart.js';
import type { ObjectService } from '../core/objects.js';
import type { Permissions } from '../core/policy.js';
import type { TenantService } from '../core/tenants.js';
import type { AuthResult } from './auth/sigv4.js';
import type { S3Address } from './request.js';

export interface Services {
  tenants: TenantService;
  buckets: BucketService;
  objects: ObjectService;
  listing: ListingService;
  multipart: MultipartService;
}

export interface S3Request {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  addr: S3Address;
  auth: AuthResult;
  /** The authenticated tenant; null for anonymous callers. */
  tenantId: string | null;
  /** What the authenticated key may do inside its tenant; null for anonymous callers. */
  permissions: Permissions | null;
  /**
   * Set by the access check (s3/access.ts) when the caller may not list where
   * the addressed key lives: a missing object must then answer AccessDenied,
   * not NoSuchKey, so its absence is not revealed (as S3 does).
   */
  hideMissing?: boolean;
  /** Set when a read is allowed only if the object's own ACL is public-read (checked once it is read). */
  requireObjectAcl?: boolean;
  services: Services;
  config: Config;
  log: Logger;
  /**
   * Streams built over the request body (see s3/body.ts). When the request
   * ends early they are unpiped and destroyed, so an unread body is drained
   * or the connection closed, never left stuck behind a full buffer.
   */
  bodyStreams?: Array<{ destroy(): void }>;
  /** Filled in by handlers for the access log. */
  stats: { op: string; bytesIn: number; bytesOut: number };
}

export function header(r: S3Request, name: string): string | undefined {
  const v = r.req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
