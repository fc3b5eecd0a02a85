/**
 * Per-backend accounting: stored bytes and replica counts (backend_usage,
 * moved in the transactions that add or remove locations) and the monthly
 * request and byte counters (backend_monthly).
 */
import { sql } from 'kysely';

import type { DataDb } from '../handles.js';

export interface UsageRow {
  backend: string;
  storedBytes: number;
  blobCount: number;
}

export interface MonthlyCounts {
  requests: number;
  ingressBytes: number;
  egressBytes: number;
}

/** Starts a zero row for each backend that has none. */
export async function ensureUsageRows(db: DataDb, backends: string[]): Promise<void> {
  for (const backend of backends) {
    await db
      .insertInto('backend_usage')
      .values({ backend, stored_bytes: 0, blob_count: 0 })
      .onConflict((oc) => oc.column('backend').doNothing())
      .execute();
  }
}

export async function usageRows(db: DataDb): Promise<UsageRow[]> {
  const rows = await db.selectFrom('backend_usage').selectAll().execute();
  return rows.map((r) => ({ backend: r.backend, storedBytes: Number(r.stored_bytes), blobCount: Number(r.blob_count) }));
}

export async function usageRowExists(db: DataDb, backend: string): Promise<boolean> {
  return (await db.selectFrom('backend_usage').select('backend').where('backend', '=', backend).executeTakeFirst()) !== undefined;
}

/**
 * Moves one backend's counters by `bytes` and `count`. Growth is checked
 * against `quota` by the UPDATE itself; returns false (nothing changed)
 * when the quota would be passed. A backend without a row (no longer
 * configured) gets one.
 */
export async function moveUsage(trx: DataDb, backend: string, bytes: number, count: number, quota: number | undefined): Promise<boolean> {
  let q = trx
    .updateTable('backend_usage')
    .set((eb) => ({ stored_bytes: eb('stored_bytes', '+', bytes), blob_count: eb('blob_count', '+', count) }))
    .where('backend', '=', backend);
  if (bytes > 0 && quota !== undefined) q = q.where(sql<boolean>`stored_bytes + ${bytes} <= ${quota}`);
  const res = await q.executeTakeFirst();
  if (Number(res.numUpdatedRows) > 0) return true;
  if (await usageRowExists(trx, backend)) return false;
  await trx
    .insertInto('backend_usage')
    .values({ backend, stored_bytes: Math.max(0, bytes), blob_count: Math.max(0, count) })
    .execute();
  return true;
}

/** Forgets a backend's counters (the last rows a transaction locks: see moveUsage's callers). */
export async function deleteUsage(trx: DataDb, backend: string): Promise<void> {
  await trx.deleteFrom('backend_usage').where('backend', '=', backend).execute();
}

/** Every backend's counters of one month ('YYYY-MM'). */
export async function monthlyRows(db: DataDb, month: string): Promise<Map<string, MonthlyCounts>> {
  const rows = await db.selectFrom('backend_monthly').selectAll().where('month', '=', month).execute();
  return new Map(
    rows.map((r) => [
      r.backend,
      { requests: Number(r.requests), ingressBytes: Number(r.ingress_bytes), egressBytes: Number(r.egress_bytes) },
    ]),
  );
}

/** Adds counts to a backend's month. */
export async function addMonthly(db: DataDb, backend: string, month: string, m: MonthlyCounts): Promise<void> {
  await db
    .insertInto('backend_monthly')
    .values({ backend, month, requests: m.requests, ingress_bytes: m.ingressBytes, egress_bytes: m.egressBytes })
    .onConflict((oc) =>
      oc.columns(['backend', 'month']).doUpdateSet((eb) => ({
        requests: eb('backend_monthly.requests', '+', m.requests),
        ingress_bytes: eb('backend_monthly.ingress_bytes', '+', m.ingressBytes),
        egress_bytes: eb('backend_monthly.egress_bytes', '+', m.egressBytes),
      })),
    )
    .execute();
}
