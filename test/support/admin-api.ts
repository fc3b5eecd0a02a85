/** The admin API as root, for suites that set things up through it. */
import type { TestAnvil } from './anvil.js';
import { signedFetch } from './signed-fetch.js';

/** A signed admin API request as root; the parsed JSON answer (throws on an error status). */
export async function adminApi(t: TestAnvil, method: string, path: string, body?: unknown): Promise<any> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const res = await signedFetch(t, method, `${t.endpoint}/admin/v1/${path}`, {
    body: text,
    headers: text === undefined ? {} : { 'content-type': 'application/json' },
  });
  const out = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${out}`);
  return out ? JSON.parse(out) : undefined;
}
