/** Access keys: the operations behind /admin/v1/tenants/:tenant/keys and `anvil admin key …` (who may call them is the caller's check). */
import type { PolicyStatement } from '../../core/policy.js';
import type { AccessKeyInfo, CreateKeyOptions } from '../../core/tenants.js';
import type { AdminServices } from '../deps.js';

export interface CreatedKey {
  accessKeyId: string;
  secretAccessKey: string;
  tenant: string;
  name: string | null;
  policies: PolicyStatement[] | null;
}

/** Creates a key (the secret is in the answer, once). */
export async function createKey(s: AdminServices, tenantName: string, opts: CreateKeyOptions): Promise<CreatedKey> {
  const created = await s.tenants.createKey(tenantName, opts);
  return { ...created, name: opts.name ?? null };
}

/** Keys of one tenant, or of every tenant (never their secrets). */
export function listKeys(s: AdminServices, tenantName?: string): Promise<AccessKeyInfo[]> {
  return s.tenants.listKeys(tenantName);
}

/** Deletes a key (in effect at once); false if there was none. */
export function deleteKey(s: AdminServices, accessKeyId: string): Promise<boolean> {
  return s.tenants.deleteKey(accessKeyId);
}
