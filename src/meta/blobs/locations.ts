/**
 * Replica locations (blob_locations): which backends hold a blob, and
 * whether each replica is believed good or is marked for repair.
 */
import { sql } from 'kysely';

import type { DataDb } from '../handles.js';

/** blob_locations.state: a replica believed good. */
export const LOCATION_OK = 0;
/** blob_locations.state: a replica a read or the reconciler found missing or corrupt (the scrub repairs it). */
export const LOCATION_BAD = 1;

/** Records replicas, all in the good state. */
export async function insertLocations(trx: DataDb, rows: Array<{ tenantId: string; hash: string; backend: string }>): Promise<void> {
  if (rows.length === 0) return;
  const now = Date.now();
  await trx
    .insertInto('blob_locations')
    .values(rows.map((r) => ({ tenant_id: r.tenantId, hash: r.hash, backend: r.backend, state: LOCATION_OK, created_at: now })))
    .execute();
}

/** Forgets a blob's replicas on `backends` (all of them when omitted). */
export async function deleteLocations(trx: DataDb, tenantId: string, hash: string, backends?: string[]): Promise<void> {
  if (backends && backends.length === 0) return;
  let q = trx.deleteFrom('blob_locations').where('tenant_id', '=', tenantId).where('hash', '=', hash);
  if (backends) q = q.where('backend', 'in', backends);
  await q.execute();
}

/** The backends holding a blob's replicas. */
export async function locationsOf(trx: DataDb, tenantId: string, hash: string): Promise<string[]> {
  const rows = await trx
    .selectFrom('blob_locations')
    .select('backend')
    .where('tenant_id', '=', tenantId)
    .where('hash', '=', hash)
    .execute();
  return rows.map((r) => r.backend);
}

/** Sets the state (LOCATION_OK, LOCATION_BAD) of a blob's replicas on `backends`. */
export async function markLocations(db: DataDb, tenantId: string, hash: string, backends: string[], state: number): Promise<void> {
  if (backends.length === 0) return;
  await db
    .updateTable('blob_locations')
    .set({ state })
    .where('tenant_id', '=', tenantId)
    .where('hash', '=', hash)
    .where('backend', 'in', backends)
    .execute();
}

/** Replicas on a backend. */
export async function countReplicasOn(db: DataDb, backend: string): Promise<number> {
  const row = await db
    .selectFrom('blob_locations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('backend', '=', backend)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The first `limit` blobs with a replica on `backend`, in (tenant, hash) order. */
export async function replicasOn(db: DataDb, backend: string, limit: number): Promise<Array<{ tenantId: string; hash: string }>> {
  const rows = await db
    .selectFrom('blob_locations')
    .select(['tenant_id', 'hash'])
    .where('backend', '=', backend)
    .orderBy('tenant_id')
    .orderBy('hash')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, hash: r.hash }));
}

/** Up to `limit` blobs with a replica marked for repair. */
export async function blobsWithBadReplicas(db: DataDb, limit: number): Promise<Array<{ tenantId: string; hash: string }>> {
  const rows = await db
    .selectFrom('blob_locations')
    .select(['tenant_id', 'hash'])
    .distinct()
    .where('state', '=', LOCATION_BAD)
    .limit(limit)
    .execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, hash: r.hash }));
}

/** Replicas marked for repair. */
export async function countBadReplicas(db: DataDb): Promise<number> {
  const row = await db
    .selectFrom('blob_locations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('state', '=', LOCATION_BAD)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The first `limit` blobs with a replica on `from` and none on `to`, in (tenant, hash) order (rebalance). */
export async function movableReplicas(
  db: DataDb,
  from: string,
  to: string,
  limit: number,
): Promise<Array<{ tenantId: string; hash: string }>> {
  const rows = await db
    .selectFrom('blob_locations as l')
    .select(['l.tenant_id', 'l.hash'])
    .where('l.backend', '=', from)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('blob_locations as o')
            .select(sql`1`.as('one'))
            .whereRef('o.tenant_id', '=', 'l.tenant_id')
            .whereRef('o.hash', '=', 'l.hash')
            .where('o.backend', '=', to),
        ),
      ),
    )
    .orderBy('l.tenant_id')
    .orderBy('l.hash')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, hash: r.hash }));
}

/**
 * Inside a transaction: forgets every replica on a backend. Returns how
 * many were forgotten and how many blobs had no other good replica (lost).
 */
export async function forgetReplicasOn(trx: DataDb, backend: string): Promise<{ forgotten: number; lost: number }> {
  const lostRow = await trx
    .selectFrom('blob_locations as l')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('l.backend', '=', backend)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('blob_locations as o')
            .select('o.backend')
            .whereRef('o.tenant_id', '=', 'l.tenant_id')
            .whereRef('o.hash', '=', 'l.hash')
            .where('o.backend', '<>', backend)
            .where('o.state', '=', LOCATION_OK),
        ),
      ),
    )
    .executeTakeFirstOrThrow();
  const res = await trx.deleteFrom('blob_locations').where('backend', '=', backend).executeTakeFirst();
  return { forgotten: Number(res.numDeletedRows), lost: Number(lostRow.n) };
}
