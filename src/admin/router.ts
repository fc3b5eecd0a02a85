/**
 * A tiny router: method + path pattern with `:param` segments. Patterns are
 * compiled once; matching splits the path on `/` and compares segment by
 * segment (literal segments win over parameters when both match).
 */
import { adminErrors } from './errors.js';
import type { AdminRoute, HttpMethod } from './route.js';

interface CompiledRoute {
  route: AdminRoute;
  segments: Array<{ literal: string } | { param: string }>;
  literals: number;
}

export interface RouteMatch {
  route: AdminRoute;
  params: Record<string, string>;
}

export function pathParams(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s.startsWith(':'))
    .map((s) => s.slice(1));
}

export class Router {
  private readonly compiled: CompiledRoute[];

  constructor(routes: AdminRoute[]) {
    const seen = new Set<string>();
    this.compiled = routes.map((route) => {
      const key = `${route.method} ${route.path.replace(/:[^/]+/g, ':')}`;
      if (seen.has(key)) throw new Error(`admin route declared twice: ${key}`);
      seen.add(key);
      const segments = route.path
        .split('/')
        .slice(1)
        .map((s) => (s.startsWith(':') ? { param: s.slice(1) } : { literal: s }));
      return { route, segments, literals: segments.filter((s) => 'literal' in s).length };
    });
    // More literal segments first: /auth/whoami before a hypothetical /auth/:x.
    this.compiled.sort((a, b) => b.literals - a.literals);
  }

  /**
   * The route for a method and raw (still percent-encoded) path. Throws
   * NotFound when no pattern matches, MethodNotAllowed when only other
   * methods do.
   */
  match(method: string, rawPath: string): RouteMatch {
    const parts = rawPath.split('/').slice(1);
    const allowed = new Set<HttpMethod>();
    for (const c of this.compiled) {
      const params = matchSegments(c, parts);
      if (!params) continue;
      if (c.route.method === method) return { route: c.route, params };
      allowed.add(c.route.method);
    }
    if (allowed.size > 0) throw adminErrors.methodNotAllowed([...allowed]);
    throw adminErrors.notFound(`no admin API route ${rawPath}`);
  }
}

function matchSegments(c: CompiledRoute, parts: string[]): Record<string, string> | null {
  if (parts.length !== c.segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = c.segments[i];
    if ('literal' in seg) {
      if (seg.literal !== parts[i]) return null;
      continue;
    }
    if (parts[i] === '') return null;
    let value: string;
    try {
      value = decodeURIComponent(parts[i]);
    } catch {
      // A malformed percent-encoding names no resource: the route does not match (404), as for any unknown path.
      return null;
    }
    // Names reach the database; PostgreSQL cannot store NUL, so no route matches one.
    if (value.includes('\0')) return null;
    params[seg.param] = value;
  }
  return params;
}
