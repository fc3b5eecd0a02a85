/** Access key rows (S3 credentials of a tenant), and the rows a granted key's rights are derived from. */
import type { ControlDb } from '../handles.js';
import type { AccessKeyTable, UserRole } from '../schema.js';

export async function accessKeyExists(db: ControlDb, accessKeyId: string): Promise<boolean> {
  const row = await db.selectFrom('access_keys').select('access_key_id').where('access_key_id', '=', accessKeyId).executeTakeFirst();
  return row !== undefined;
}

export async function insertAccessKey(db: ControlDb, row: AccessKeyTable): Promise<void> {
  await db.insertInto('access_keys').values(row).execute();
}

export interface AccessKeyListRow {
  access_key_id: string;
  tenant: string;
  created_at: number;
  name: string | null;
  policies: string | null;
  created_by: string | null;
}

/** Keys with their tenant's name, by tenant name then key id; only one tenant's when tenantName is given. */
export function listAccessKeyRows(db: ControlDb, tenantName?: string): Promise<AccessKeyListRow[]> {
  let q = db
    .selectFrom('access_keys')
    .innerJoin('tenants', 'tenants.id', 'access_keys.tenant_id')
    .select([
      'access_keys.access_key_id',
      'tenants.name as tenant',
      'access_keys.created_at',
      'access_keys.name',
      'access_keys.policies',
      'access_keys.created_by',
    ]);
  if (tenantName) q = q.where('tenants.name', '=', tenantName);
  return q.orderBy('tenants.name').orderBy('access_keys.access_key_id').execute();
}

/** Whether a key was deleted. */
export async function deleteAccessKey(db: ControlDb, accessKeyId: string): Promise<boolean> {
  const res = await db.deleteFrom('access_keys').where('access_key_id', '=', accessKeyId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** What verifying a request signed with this key needs, with its tenant's request rate limits (one statement). */
export function accessKeyForAuth(
  db: ControlDb,
  accessKeyId: string,
): Promise<
  | {
      secret_enc: string;
      master_key_id: string;
      tenant_id: string;
      policies: string | null;
      created_by: string | null;
      rate_limit: number | null;
      rate_burst: number | null;
      key_rate_limit: number | null;
      key_rate_burst: number | null;
    }
  | undefined
> {
  return db
    .selectFrom('access_keys as k')
    .innerJoin('tenants as t', 't.id', 'k.tenant_id')
    .select([
      'k.secret_enc',
      'k.master_key_id',
      'k.tenant_id',
      'k.policies',
      'k.created_by',
      't.rate_limit',
      't.rate_burst',
      't.key_rate_limit',
      't.key_rate_burst',
    ])
    .where('k.access_key_id', '=', accessKeyId)
    .executeTakeFirst();
}

/** The standing of a user who created keys under `grant`. */
export function granterUser(
  db: ControlDb,
  userId: string,
): Promise<{ role: UserRole; policies: string | null; disabled: number; tenant_id: string } | undefined> {
  return db.selectFrom('users').select(['role', 'policies', 'disabled', 'tenant_id']).where('id', '=', userId).executeTakeFirst();
}

/** The scope of a key that created other keys under `grant`. */
export function granterKey(
  db: ControlDb,
  accessKeyId: string,
): Promise<{ policies: string | null; created_by: string | null; tenant_id: string } | undefined> {
  return db
    .selectFrom('access_keys')
    .select(['policies', 'created_by', 'tenant_id'])
    .where('access_key_id', '=', accessKeyId)
    .executeTakeFirst();
}
