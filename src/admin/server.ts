/**
 * The admin API as a handler mounted on the S3 server under /admin/: match
 * the route, read the (bounded) body, authenticate, validate with the
 * route's zod schemas, run the handler, shape the answer through the
 * response schema, and log one line per request.
 */
import crypto from 'node:crypto';
import type http from 'node:http';

import type { MountedHandler } from '../http/server.js';
import { authenticateAdmin, type Principal } from './auth.js';
import type { AdminDeps } from './deps.js';
import { adminErrors, fromZodError, toAdminError } from './errors.js';
import { parseJsonBody, readBody, sendError, sendJson } from './http.js';
import { Reply, Streamed, successStatus } from './route.js';
import { Router } from './router.js';
import { adminRoutes } from './routes.js';

export const ADMIN_PREFIX = '/admin/';

export function createAdminHandler(deps: AdminDeps): MountedHandler {
  const router = new Router(adminRoutes());

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = crypto.randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-request-id', requestId);
    res.setHeader('Server', 'Anvil');
    let op = 'admin:unknown';
    let principal: Principal | null = null;
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      deps.log.info(
        { reqId: requestId, op, method: req.method, status: res.statusCode, principal: principal?.id, ms: Math.round(ms * 10) / 10 },
        'admin request',
      );
    });
    try {
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const rawPath = (req.url ?? '/').split('?')[0];
      const { route, params } = router.match(req.method ?? 'GET', rawPath);
      op = `admin:${route.method} ${route.path}`;
      const body = await readBody(req);
      if (route.auth !== 'none') principal = await authenticateAdmin(req, body, deps, route.auth === 'bearer');
      let parsedBody: unknown = undefined;
      if (route.body) {
        const result = route.body.safeParse(parseJsonBody(body));
        if (!result.success) throw fromZodError('body', result.error);
        parsedBody = result.data;
      } else if (body.length > 0) {
        throw adminErrors.invalid('this route takes no request body', { path: ['body'] });
      }
      let parsedQuery: unknown = undefined;
      if (route.query) {
        // Presigned-URL auth parameters are not the route's business.
        const query = Object.fromEntries([...url.searchParams].filter(([name]) => !/^X-Amz-/i.test(name)));
        if (Object.entries(query).some(([k, v]) => `${k}${v}`.includes('\0'))) {
          throw adminErrors.invalid('query parameters must not contain NUL characters', { path: ['query'] });
        }
        const result = route.query.safeParse(query);
        if (!result.success) throw fromZodError('query', result.error);
        parsedQuery = result.data;
      }
      const out = await route.handle({
        principal,
        params,
        query: parsedQuery,
        body: parsedBody,
        req,
        res,
        deps,
        clientAddress: req.socket.remoteAddress,
        userAgent: req.headers['user-agent'],
      });
      if (out instanceof Streamed) {
        await out.write(res);
        return;
      }
      if (!route.response) {
        sendJson(res, successStatus(route), undefined);
        return;
      }
      const reply = out instanceof Reply ? out : new Reply(successStatus(route), out);
      sendJson(res, reply.status, route.response.parse(reply.value));
    } catch (err) {
      const e = toAdminError(err);
      if (e.status >= 500) deps.log.error({ reqId: requestId, err }, 'admin request failed');
      // Unread bodies (an early 401/404) are drained so the connection stays usable.
      if (!req.complete) req.resume();
      sendError(res, e);
    }
  }

  return { prefix: ADMIN_PREFIX, handle };
}
