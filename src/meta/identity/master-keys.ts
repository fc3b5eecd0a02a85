/**
 * Rows encrypted under a master key: access key secrets and server secrets
 * (control plane), and blob data keys (data plane; only master-key rotation
 * reads them this way, by wrapping key). Rotation rewrites a row only while
 * it is still under the key it was read with, so concurrent runs are harmless.
 */
import type { ControlDb, DataDb } from '../handles.js';
import type { ServerSecretTable } from '../schema.js';

/** Access key secrets not under the given master key. */
export function keySecretsNotUnder(db: ControlDb, masterKeyId: string) {
  return db
    .selectFrom('access_keys')
    .select(['access_key_id', 'secret_enc', 'master_key_id'])
    .where('master_key_id', '<>', masterKeyId)
    .execute();
}

/** Rewrites one key's secret if it is still under `fromKeyId`; returns rows changed (0 or 1). */
export async function rewriteKeySecret(
  db: ControlDb,
  accessKeyId: string,
  fromKeyId: string,
  to: { secretEnc: string; masterKeyId: string },
): Promise<number> {
  const res = await db
    .updateTable('access_keys')
    .set({ secret_enc: to.secretEnc, master_key_id: to.masterKeyId })
    .where('access_key_id', '=', accessKeyId)
    .where('master_key_id', '=', fromKeyId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Server secrets not under the given master key. */
export function serverSecretsNotUnder(db: ControlDb, masterKeyId: string): Promise<ServerSecretTable[]> {
  return db.selectFrom('server_secrets').selectAll().where('master_key_id', '<>', masterKeyId).execute();
}

/** Rewrites one server secret if it is still under `fromKeyId`; returns rows changed (0 or 1). */
export async function rewriteServerSecret(
  db: ControlDb,
  name: string,
  fromKeyId: string,
  to: { valueEnc: string; masterKeyId: string },
): Promise<number> {
  const res = await db
    .updateTable('server_secrets')
    .set({ value_enc: to.valueEnc, master_key_id: to.masterKeyId })
    .where('name', '=', name)
    .where('master_key_id', '=', fromKeyId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** How many stored secrets (access keys, server secrets) are under each master key id. */
export async function secretCountsByMasterKey(db: ControlDb): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['access_keys', 'server_secrets'] as const) {
    const rows = await db
      .selectFrom(table)
      .select(['master_key_id', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('master_key_id')
      .execute();
    for (const r of rows) out[r.master_key_id] = (out[r.master_key_id] ?? 0) + Number(r.n);
  }
  return out;
}

export function serverSecretRow(db: ControlDb, name: string): Promise<ServerSecretTable | undefined> {
  return db.selectFrom('server_secrets').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Inserts a server secret unless one of that name exists (the first insert wins). */
export async function insertServerSecretIfAbsent(db: ControlDb, row: ServerSecretTable): Promise<void> {
  await db
    .insertInto('server_secrets')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** Up to `limit` encrypted blobs whose data key is wrapped by another master key than the given one. */
export function blobKeysNotUnder(db: DataDb, masterKeyId: string, limit: number) {
  return db
    .selectFrom('blobs')
    .select(['tenant_id', 'hash', 'enc_key', 'enc_master_key_id'])
    .where('enc_key', 'is not', null)
    .where('enc_master_key_id', '<>', masterKeyId)
    .limit(limit)
    .execute();
}

/** Re-wraps one blob's data key if it is still under `fromKeyId`; returns rows changed (0 or 1). */
export async function rewrapBlobKey(
  db: DataDb,
  blob: { tenantId: string; hash: string },
  fromKeyId: string,
  to: { encKey: string; masterKeyId: string },
): Promise<number> {
  const res = await db
    .updateTable('blobs')
    .set({ enc_key: to.encKey, enc_master_key_id: to.masterKeyId })
    .where('tenant_id', '=', blob.tenantId)
    .where('hash', '=', blob.hash)
    .where('enc_master_key_id', '=', fromKeyId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Blob data keys per wrapping master key id. */
export async function blobKeyCountsByMasterKey(db: DataDb): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('blobs')
    .select(['enc_master_key_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('enc_key', 'is not', null)
    .groupBy('enc_master_key_id')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.enc_master_key_id!, Number(r.n)]));
}
