/**
 * Read-only counts the admin API reports: bucket usage from the regional
 * bucket_state rows, and the server-wide numbers of GET /admin/v1/status
 * (also used by `anvil admin status` without --endpoint).
 *
 * These are plain reads the core services do not offer yet; they belong in
 * BucketService / a StatsService once those grow them.
 */
import type { MetaDatabases } from '../meta/engine.js';

export interface BucketUsage {
  objectCount: number;
  byteCount: number;
}

/** Usage of each bucket id this region has a state row for. */
export async function bucketUsage(meta: MetaDatabases, bucketIds: string[]): Promise<Map<string, BucketUsage>> {
  const out = new Map<string, BucketUsage>();
  for (let i = 0; i < bucketIds.length; i += 500) {
    const rows = await meta.data
      .selectFrom('bucket_state')
      .select(['bucket_id', 'object_count', 'byte_count'])
      .where('bucket_id', 'in', bucketIds.slice(i, i + 500))
      .execute();
    for (const r of rows) out.set(r.bucket_id, { objectCount: Number(r.object_count), byteCount: Number(r.byte_count) });
  }
  return out;
}

export interface ServerCounts {
  tenants: number;
  buckets: number;
  users: number;
  accessKeys: number;
  tasks: { pending: number; running: number; failed: number };
  cleanup: { queued: number; deadLetters: number };
}

export async function serverCounts(meta: MetaDatabases): Promise<ServerCounts> {
  const count = async (table: 'tenants' | 'buckets' | 'users' | 'access_keys') =>
    Number((await meta.control.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const taskRows = await meta.control
    .selectFrom('tasks')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', ['pending', 'running', 'failed'])
    .groupBy('status')
    .execute();
  const tasks = { pending: 0, running: 0, failed: 0 };
  for (const r of taskRows) tasks[r.status as keyof typeof tasks] = Number(r.n);
  const regionalCount = async (table: 'cleanup_queue' | 'cleanup_dead_letters') =>
    Number((await meta.data.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return {
    tenants: await count('tenants'),
    buckets: await count('buckets'),
    users: await count('users'),
    accessKeys: await count('access_keys'),
    tasks,
    cleanup: { queued: await regionalCount('cleanup_queue'), deadLetters: await regionalCount('cleanup_dead_letters') },
  };
}
