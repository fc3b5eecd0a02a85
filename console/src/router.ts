/**
 * Hash routes, so the server serves one index.html and a reload or a shared
 * link lands on the same screen:
 *   #/                    buckets
 *   #/b/BUCKET/PREFIX     the objects of a bucket under a prefix
 *   #/o/BUCKET/KEY        one object
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  { view: 'buckets' } | { view: 'browse'; bucket: string; prefix: string } | { view: 'object'; bucket: string; key: string };

export function parse(hash: string): Route {
  const m = /^#\/(b|o)\/([^/]+)\/?(.*)$/.exec(hash);
  if (!m) return { view: 'buckets' };
  const bucket = decodeURIComponent(m[2]);
  const rest = decodeURIComponent(m[3]);
  return m[1] === 'b' ? { view: 'browse', bucket, prefix: rest } : { view: 'object', bucket, key: rest };
}

export function href(route: Route): string {
  if (route.view === 'buckets') return '#/';
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
