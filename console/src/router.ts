/**
 * Hash routes, so the server serves one index.html and a reload or a shared
 * link lands on the same screen:
 *   #/                    buckets
 *   #/b/BUCKET/PREFIX     the objects of a bucket under a prefix
 *   #/o/BUCKET/KEY        one object
 *   #/g/BUCKET            the branch graph of a bucket
 *   #/admin/SCREEN        users, keys, sessions, tenants, backends, tasks
 */
import { useEffect, useState } from 'preact/hooks';

export const ADMIN_SCREENS = ['users', 'keys', 'sessions', 'tenants', 'backends', 'tasks'] as const;
export type AdminScreen = (typeof ADMIN_SCREENS)[number];

export type Route =
  | { view: 'buckets' }
  | { view: 'browse'; bucket: string; prefix: string }
  | { view: 'object'; bucket: string; key: string }
  | { view: 'admin'; screen: AdminScreen }
  | { view: 'graph'; bucket: string };

export function parse(hash: string): Route {
  const a = /^#\/admin\/([a-z]+)$/.exec(hash);
  if (a && (ADMIN_SCREENS as readonly string[]).includes(a[1])) return { view: 'admin', screen: a[1] as AdminScreen };
  const g = /^#\/g\/([^/]+)$/.exec(hash);
  if (g) return { view: 'graph', bucket: decodeURIComponent(g[1]) };
  const m = /^#\/(b|o)\/([^/]+)\/?(.*)$/.exec(hash);
  if (!m) return { view: 'buckets' };
  const bucket = decodeURIComponent(m[2]);
  const rest = decodeURIComponent(m[3]);
  return m[1] === 'b' ? { view: 'browse', bucket, prefix: rest } : { view: 'object', bucket, key: rest };
}

export function href(route: Route): string {
  if (route.view === 'buckets') return '#/';
  if (route.view === 'admin') return `#/admin/${route.screen}`;
  if (route.view === 'graph') return `#/g/${encodeURIComponent(route.bucket)}`;
  if (route.view === 'browse') return `#/b/${encodeURIComponent(route.bucket)}/${encodeURIComponent(route.prefix)}`;
  return `#/o/${encodeURIComponent(route.bucket)}/${encodeURIComponent(route.key)}`;
}

export function go(route: Route): void {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
