/**
 * The HTTP front: request ids, SigV4 authentication, routing to the S3
 * operation, error rendering and one structured log line per request.
 */
import crypto from 'node:crypto';
import http from 'node:http';

import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import { NO_TENANT_LIMITS, type TenantRateLimits } from '../core/limits.js';
import type { Permissions } from '../core/policy.js';
import { AnvilError } from '../errors.js';
import { authenticateS3 } from '../s3/auth/authenticate.js';
import type { S3Request, Services } from '../s3/context.js';
import { errors, S3Error, toS3Error } from '../s3/errors.js';
import { corsResponseHeaders } from '../s3/ops/cors.js';
import { isVirtualHostRequest, parseAddress, type S3Address } from '../s3/request.js';
import { sendError } from '../s3/respond.js';
import { route } from '../s3/router.js';
import { nameRequestSpan, withSpan } from '../tracing.js';
import type { Drainer } from './drain.js';
import type { Health } from './health.js';
import type { Metrics } from './metrics.js';
import { type RequestScope, requestScope } from './process-guard.js';
import type { RateLimitGate } from './rate-limit.js';
import { traceRequest } from './request-span.js';

const MAX_SKEW_MS = 15 * 60 * 1000;

/** Authentication, in a span of its own when tracing is on. */
const authenticate: typeof authenticateS3 = (...args) => withSpan('anvil.auth', {}, () => authenticateS3(...args));
/** Unread request bodies up to this size are drained so the connection can be reused; larger ones close it. */
const DRAIN_LIMIT = 8 * 1024 * 1024;

/** Errors that mean the peer closed or reset the connection, not that we failed. */
const PEER_GONE_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function clientGone(req: http.IncomingMessage, err: unknown): boolean {
  const socketGone = req.socket === null || req.socket.destroyed;
  return socketGone && (PEER_GONE_CODES.has((err as NodeJS.ErrnoException)?.code ?? '') || !req.complete || req.aborted);
}

/**
 * A request that failed before its body was read whole: detach whatever was
 * piped from it (a decoder that is no longer read would otherwise hold the
 * socket paused forever), then read the rest and throw it away when it is
 * small, so the connection can be reused, or close the connection after the
 * answer when it is large.
 */
function abandonBody(req: http.IncomingMessage, res: http.ServerResponse, streams: Array<{ destroy(): void }> = []): void {
  if (req.complete) return;
  req.unpipe();
  for (const s of streams) s.destroy();
  const length = Number(req.headers['content-length'] ?? Infinity);
  if (length <= DRAIN_LIMIT) req.resume();
  else if (!res.headersSent) res.setHeader('Connection', 'close');
}

/**
 * Who sent a request, for its log line: the peer's address, or with
 * trust_proxy the last X-Forwarded-For entry (the address the proxy in front
 * of Anvil saw; entries before it are whatever the client claimed) and the
 * proxy's own address.
 */
function clientAddress(req: http.IncomingMessage, trustProxy: boolean): { client?: string; proxy?: string } {
  const peer = req.socket?.remoteAddress;
  const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').pop()?.trim();
  return last ? { client: last, proxy: peer } : { client: peer };
}

function newRequestId(): string {
  return crypto.randomBytes(8).toString('hex').toUpperCase();
}

/** Cross-origin requests get the Access-Control-* headers their bucket's CORS rules allow. */
async function applyCors(req: http.IncomingMessage, res: http.ServerResponse, bucketName: string | undefined, services: Services) {
  const origin = req.headers.origin;
  if (!origin || !bucketName || req.method === 'OPTIONS') return;
  const bucket = await services.buckets.get(bucketName);
  if (!bucket?.cors) return;
  for (const [name, value] of Object.entries(corsResponseHeaders(bucket, origin, req.method ?? 'GET'))) res.setHeader(name, value);
}

/** A handler that serves requests under a reserved path prefix (the admin API under /admin/). */
export interface MountedHandler {
  prefix: string;
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}

/** What the server answers besides S3 (health probes), tracks (the drain) and enforces (request rate limits). */
export interface ServerLifecycle {
  health?: Health;
  drainer?: Drainer;
  rateLimit?: RateLimitGate;
}

export function createS3Server(
  config: Config,
  services: Services,
  log: Logger,
  metrics?: Metrics,
  mounts: MountedHandler[] = [],
  lifecycle: ServerLifecycle = {},
): http.Server {
  const server = http.createServer((req, res) => {
    const work = dispatch(req, res);
    lifecycle.drainer?.track(res, work);
  });

  /** Sends a request where it belongs; resolves when its handler is done. */
  function dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const health = lifecycle.health;
    const probe = health?.route(req);
    if (health && probe) {
      return health.serve(probe, req, res).catch((err) => {
        log.error({ err }, 'health endpoint failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    }
    // Mounted paths are reserved in path-style requests only: on a virtual host every path is a key.
    const pathStyle = !isVirtualHostRequest(req, config.domain);
    for (const m of pathStyle ? mounts : []) {
      if (url === m.prefix.replace(/\/$/, '') || url.startsWith(m.prefix)) {
        return m.handle(req, res).catch((err) => {
          log.error({ err }, 'mounted handler failed');
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'InternalError', message: 'internal error' } }));
        });
      }
    }
    if (metrics && pathStyle && req.method === 'GET' && url === '/-/metrics') {
      return metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
          res.end(text);
        },
        (err) => {
          log.error({ err }, 'metrics failed');
          res.writeHead(500).end();
        },
      );
    }
    const scope: RequestScope = {
      fail: () => {
        if (res.headersSent) res.destroy();
        else {
          scope.errorCode = 'InternalError';
          sendError(
            { req, res, requestId: scope.requestId ?? '', stats: { op: 'unknown', bytesIn: 0, bytesOut: 0 } },
            errors.internal(),
            (req.url ?? '/').split('?')[0],
          );
        }
      },
    };
    return requestScope.run(scope, () => traceRequest(req, res, () => handle(req, res, scope)));
  }
  // Large uploads may take long: no overall request deadline, but headers must arrive promptly.
  server.requestTimeout = 0;
  // A client may half-close its side once its request is sent (shutdown(SHUT_WR)); it still gets its answer.
  (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.headersTimeout = 60_000;
  // Longer than SDK idle timeouts, so clients do not reuse sockets we are closing.
  server.keepAliveTimeout = 65_000;
  // A client that stops sending mid-body (or never reads its response) is cut off, so a
  // stalled upload cannot hold a socket, a staged file and a file handle forever.
  server.timeout = 120_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, scope: RequestScope): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = newRequestId();
    scope.requestId = requestId;
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('Server', 'Anvil');
    const stats = { op: 'unknown', bytesIn: 0, bytesOut: 0 };
    let tenantId: string | null = null;
    let permissions: Permissions | null = null;
    let accessKeyId: string | undefined;
    let rateLimits: TenantRateLimits = NO_TENANT_LIMITS;
    let addr: S3Address | undefined;
    // Read now: once the connection is closed its peer address may be gone.
    const client = clientAddress(req, config.trustProxy);
    // 'close' also fires for aborted requests, so every request gets its log line.
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      metrics?.observe(stats.op, res.statusCode, ms / 1000, stats.bytesIn, stats.bytesOut);
      // What an operator searches for. Never the query string (a presigned URL's signature and
      // credential), never a header value beyond the access key id.
      log.info(
        {
          reqId: requestId,
          op: stats.op,
          method: req.method,
          bucket: addr?.bucket,
          key: addr?.key,
          status: res.statusCode,
          errorCode: scope.errorCode,
          accessKeyId,
          ...client,
          bytesIn: stats.bytesIn,
          bytesOut: stats.bytesOut,
          ms: Math.round(ms * 10) / 10,
          aborted: !res.writableFinished || undefined,
        },
        'request',
      );
    });
    const resource = (req.url ?? '/').split('?')[0];
    let r: S3Request | undefined;
    try {
      addr = parseAddress(req, config.domain);
      // Routed before authentication, so that a request refused there is logged under the operation it tried.
      const { op, handler } = route(req.method ?? 'GET', addr);
      stats.op = op;
      nameRequestSpan(op);
      const auth = await authenticate(
        { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers },
        {
          region: config.region,
          now: () => new Date(),
          maxSkewMs: MAX_SKEW_MS,
          lookupSecret: async (id) => {
            accessKeyId = id;
            const key = await services.tenants.lookupKey(id);
            tenantId = key?.tenantId ?? null;
            permissions = key?.permissions ?? null;
            rateLimits = key?.rateLimits ?? NO_TENANT_LIMITS;
            return key?.secret ?? null;
          },
          sigv2: { enabled: config.sigv2, virtualHostBucket: addr.virtualHost ? addr.bucket : undefined },
        },
      );
      if (auth.kind === 'anonymous') {
        tenantId = null;
        permissions = null;
      } else if (lifecycle.rateLimit && accessKeyId !== undefined && tenantId !== null) {
        // Before the handler reads a byte of the body (an unread body is drained or the connection closed).
        lifecycle.rateLimit.check({ accessKeyId, tenantId, limits: rateLimits });
      }
      r = { req, res, requestId, addr, auth, tenantId, permissions, services, config, log, stats };
      await applyCors(req, res, addr.bucket, services);
      await handler(r);
    } catch (err) {
      // A full disk on a path that did not translate it itself (bucket, tagging, ACL writes…) is still 507, not 500.
      let s3err = toS3Error(err);
      // A caller who may not list there must not learn that a key is absent (S3 answers 403 too).
      if (r?.hideMissing && s3err.code === 'NoSuchKey') s3err = errors.accessDenied();
      if (!(err instanceof S3Error) && !(err instanceof AnvilError)) {
        // Only a connection that is actually gone is the client's doing. (req.destroyed
        // is also true once a body has been read whole, so it cannot tell; a failure
        // after that, a full disk say, is ours and must be seen.)
        if (clientGone(req, err)) log.debug({ reqId: requestId, err }, 'client went away');
        else log.error({ reqId: requestId, err }, 'request failed');
      }
      scope.errorCode = s3err.code;
      abandonBody(req, res, r?.bodyStreams);
      sendError({ req, res, requestId, stats }, s3err, resource);
    }
  }

  return server;
}
