/**
 * Read-only counts across areas, for the operator's views: GET
 * /admin/v1/status (and `anvil admin status`), bucket usage in the admin
 * API, and the gauges of /-/metrics read at scrape time. Nothing here
 * writes; each count is one statement on one plane.
 */
import type { ControlDb, DataDb } from '../handles.js';
import { countTasksByStatus } from '../work/tasks.js';

export interface BucketUsage {
  objectCount: number;
  byteCount: number;
}

/** Usage of each bucket id this region has a state row for (batches of 500 ids per statement). */
export async function bucketUsage(db: DataDb, bucketIds: string[]): Promise<Map<string, BucketUsage>> {
  const out = new Map<string, BucketUsage>();
  for (let i = 0; i < bucketIds.length; i += 500) {
    const rows = await db
      .selectFrom('bucket_state')
      .select(['bucket_id', 'object_count', 'byte_count'])
      .where('bucket_id', 'in', bucketIds.slice(i, i + 500))
      .execute();
    for (const r of rows) out.set(r.bucket_id, { objectCount: Number(r.object_count), byteCount: Number(r.byte_count) });
  }
  return out;
}

export type ControlCounted = 'tenants' | 'buckets' | 'users' | 'access_keys';

/** The `n` of a `count(*) as n` row (pg returns counts as strings). */
async function countOf(row: Promise<{ n: number | string }>): Promise<number> {
  return Number((await row).n);
}

/** Rows of a control-plane table. */
export function countControlRows(db: ControlDb, table: ControlCounted): Promise<number> {
  return countOf(
    db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow(),
  );
}

/** Entries of the blob cleanup queue, or of its dead letters. */
export function countCleanupEntries(db: DataDb, table: 'cleanup_queue' | 'cleanup_dead_letters'): Promise<number> {
  return countOf(
    db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow(),
  );
}

/** Blobs the scrub found not matching their hash. */
export function countCorruptBlobs(db: DataDb): Promise<number> {
  return countOf(
    db
      .selectFrom('blobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('corrupt', '=', 1)
      .executeTakeFirstOrThrow(),
  );
}

export interface ServerCounts {
  tenants: number;
  buckets: number;
  users: number;
  accessKeys: number;
  tasks: { pending: number; running: number; failed: number };
  cleanup: { queued: number; deadLetters: number };
}

export async function serverCounts(control: ControlDb, data: DataDb): Promise<ServerCounts> {
  return {
    tenants: await countControlRows(control, 'tenants'),
    buckets: await countControlRows(control, 'buckets'),
    users: await countControlRows(control, 'users'),
    accessKeys: await countControlRows(control, 'access_keys'),
    tasks: await countTasksByStatus(control, ['pending', 'running', 'failed']),
    cleanup: {
      queued: await countCleanupEntries(data, 'cleanup_queue'),
      deadLetters: await countCleanupEntries(data, 'cleanup_dead_letters'),
    },
  };
}
