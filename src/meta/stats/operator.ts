/**
 * The counts an operator graphs (the DB-backed gauges of /-/metrics): usage
 * per tenant, replication debt, scrub progress. Read-only, a few aggregate
 * statements; the caller caches the answer (http/metrics.ts), so a storm of
 * scrapes costs one read per cache period.
 */
import { LOCATION_OK } from '../blobs/locations.js';
import type { ControlDb, DataDb } from '../handles.js';

export interface TenantUsage {
  tenantId: string;
  name: string;
  /** Live latest versions and their bytes (what listings show). */
  objects: number;
  bytes: number;
  /** Every version that is not a delete marker, latest or not, and their bytes (what is stored for the tenant). */
  versions: number;
  versionBytes: number;
}

/**
 * Usage of every tenant: the data plane's per-bucket counters (bucket_state)
 * summed over each tenant's buckets (the control plane says whose bucket is
 * whose; the two planes are read apart, never joined).
 */
export async function tenantUsage(control: ControlDb, data: DataDb): Promise<TenantUsage[]> {
  const tenants = await control.selectFrom('tenants').select(['id', 'name']).execute();
  const buckets = await control.selectFrom('buckets').select(['id', 'tenant_id']).execute();
  const states = await data
    .selectFrom('bucket_state')
    .select(['bucket_id', 'object_count', 'byte_count', 'version_count', 'version_bytes'])
    .execute();
  const out = new Map<string, TenantUsage>(
    tenants.map((t) => [t.id, { tenantId: t.id, name: t.name, objects: 0, bytes: 0, versions: 0, versionBytes: 0 }]),
  );
  const ownerOf = new Map(buckets.map((b) => [b.id, b.tenant_id]));
  for (const s of states) {
    const u = out.get(ownerOf.get(s.bucket_id) ?? '');
    if (!u) continue; // a bucket deleted meanwhile, or one of another region's tenant rows
    u.objects += Number(s.object_count);
    u.bytes += Number(s.byte_count);
    u.versions += Number(s.version_count);
    u.versionBytes += Number(s.version_bytes);
  }
  return [...out.values()];
}

/**
 * Referenced blobs with fewer good replicas (blob_locations in LOCATION_OK)
 * than they should have (blobs.replication): what the scrub still has to
 * repair or re-replicate. One pass over the blobs, an index probe each.
 */
export async function countReplicationDebt(db: DataDb): Promise<number> {
  const row = await db
    .selectFrom('blobs as b')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('b.ref_count', '>', 0)
    .where((eb) =>
      eb(
        'b.replication',
        '>',
        eb
          .selectFrom('blob_locations as l')
          .select((e) => e.fn.countAll<number>().as('c'))
          .whereRef('l.tenant_id', '=', 'b.tenant_id')
          .whereRef('l.hash', '=', 'b.hash')
          .where('l.state', '=', LOCATION_OK),
      ),
    )
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface ScrubProgress {
  /** Blob rows. */
  blobs: number;
  /** Blobs the scrub has verified at least once. */
  verified: number;
  /** Epoch ms of the least recent verification (null: none verified yet). */
  oldestVerifiedAt: number | null;
  /** Blobs with no good replica left. */
  corrupt: number;
  /** Replicas marked bad (by a read or the scrub) and not repaired yet. */
  badReplicas: number;
}

/** What the scrub has recorded (blobs.verified_at, blobs.corrupt, blob_locations.state), as counts. */
export async function scrubProgress(db: DataDb): Promise<ScrubProgress> {
  const b = await db
    .selectFrom('blobs')
    .select((eb) => [
      eb.fn.countAll<number>().as('blobs'),
      eb.fn.count<number>('verified_at').as('verified'),
      eb.fn.min<number | null>('verified_at').as('oldest'),
      eb.fn.sum<number | null>('corrupt').as('corrupt'),
    ])
    .executeTakeFirstOrThrow();
  const l = await db
    .selectFrom('blob_locations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('state', '!=', LOCATION_OK)
    .executeTakeFirstOrThrow();
  return {
    blobs: Number(b.blobs),
    verified: Number(b.verified),
    oldestVerifiedAt: b.oldest === null ? null : Number(b.oldest),
    corrupt: Number(b.corrupt ?? 0),
    badReplicas: Number(l.n),
  };
}
