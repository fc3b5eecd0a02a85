/** Every admin API route, declared once: the router and the OpenAPI document are both built from this list. */
import { z } from 'zod';

import { appPasswordRoutes } from './app-passwords.js';
import { authRoutes } from './auth-routes.js';
import { backendRoutes } from './backends.js';
import { branchFlattenRoutes } from './branch-flatten.js';
import { branchRoutes } from './branches.js';
import { bucketRoutes } from './buckets.js';
import { eventRoutes } from './events.js';
import { keyRoutes } from './keys.js';
import { buildOpenApi } from './openapi.js';
import { type AdminRoute, route } from './route.js';
import { sessionRoutes } from './sessions.js';
import { statusRoutes } from './status.js';
import { taskRoutes } from './tasks.js';
import { tenantRoutes } from './tenants.js';
import { userRoutes } from './users.js';

export function adminRoutes(): AdminRoute[] {
  const routes: AdminRoute[] = [];
  let document: Record<string, unknown> | undefined;
  routes.push(
    route({
      method: 'GET',
      path: '/admin/v1/openapi.json',
      tag: 'server',
      summary: 'This document (OpenAPI 3.1)',
      auth: 'none',
      response: z.record(z.string(), z.unknown()),
      async handle({ deps }) {
        document ??= buildOpenApi(routes, deps.version);
        return document;
      },
    }),
    ...statusRoutes,
    ...authRoutes,
    ...tenantRoutes,
    ...userRoutes,
    ...keyRoutes,
    ...bucketRoutes,
    ...branchRoutes,
    ...eventRoutes,
    ...branchFlattenRoutes,
    ...backendRoutes,
    ...taskRoutes,
    ...sessionRoutes,
    ...appPasswordRoutes,
  );
  return routes;
}
