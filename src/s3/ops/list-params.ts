/** Request parameters and response pieces shared by the listing operations. */
import type { S3Request } from '../context.js';
import { errors } from '../errors.js';
import type { XmlNode } from '../xml.js';

/** An integer query parameter such as max-keys, capped at S3's 1000. */
export function intParam(r: S3Request, name: string, fallback: number): number {
  const raw = r.addr.query.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw errors.invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  return Math.min(Number(raw), 1000);
}

/** encoding-type=url: S3 URL-encodes keys and prefixes in the response but keeps '/' readable. */
export function keyEncoder(r: S3Request): (s: string) => string {
  const enc = r.addr.query.get('encoding-type');
  if (enc === null) return (s) => s;
  if (enc !== 'url') throw errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', enc);
  return (s) => encodeURIComponent(s).replace(/%2F/g, '/');
}

/** The <Owner> element of a tenant: its canonical id and display name. */
export async function ownerOf(r: S3Request, tenantId: string): Promise<XmlNode> {
  const t = await r.services.tenants.getTenantById(tenantId);
  return { ID: t?.canonicalId ?? '', DisplayName: t?.displayName ?? '' };
}
