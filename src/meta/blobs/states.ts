/**
 * Operator state of backends kept in the control database (backend_states:
 * the draining flag), and the control-plane facts backend administration
 * reads: the drain tasks of a backend and the buckets' replication.
 */
import type { Selectable } from 'kysely';

import type { ControlDb } from '../handles.js';
import type { TaskStatus, TaskTable } from '../schema.js';

/** Names of the backends marked draining. */
export async function drainingBackends(db: ControlDb): Promise<Set<string>> {
  const rows = await db.selectFrom('backend_states').selectAll().execute();
  return new Set(rows.filter((s) => s.draining === 1).map((s) => s.name));
}

export async function setBackendDraining(db: ControlDb, backend: string, draining: boolean): Promise<void> {
  const flag = draining ? 1 : 0;
  await db
    .insertInto('backend_states')
    .values({ name: backend, draining: flag, updated_at: Date.now() })
    .onConflict((oc) => oc.column('name').doUpdateSet({ draining: flag, updated_at: Date.now() }))
    .execute();
}

export async function backendStateExists(db: ControlDb, backend: string): Promise<boolean> {
  return (await db.selectFrom('backend_states').select('name').where('name', '=', backend).executeTakeFirst()) !== undefined;
}

export async function deleteBackendState(db: ControlDb, backend: string): Promise<void> {
  await db.deleteFrom('backend_states').where('name', '=', backend).execute();
}

/** Up to 1000 tasks of one type, newest first, optionally only in these statuses. */
export async function tasksOfType(db: ControlDb, type: string, statuses?: TaskStatus[]): Promise<Array<Selectable<TaskTable>>> {
  let q = db.selectFrom('tasks').selectAll().where('type', '=', type).orderBy('id', 'desc');
  if (statuses) q = q.where('status', 'in', statuses);
  return q.limit(1000).execute();
}

/** The highest replication a bucket asks for (0 when none sets its own). */
export async function highestBucketReplication(db: ControlDb): Promise<number> {
  const row = await db
    .selectFrom('buckets')
    .select((eb) => eb.fn.max<number | null>('replication').as('m'))
    .executeTakeFirst();
  return Number(row?.m ?? 0);
}

/** Sets a bucket's replication (null: the configured default). */
export async function setBucketReplicationRow(db: ControlDb, bucketId: string, replication: number | null): Promise<void> {
  await db.updateTable('buckets').set({ replication }).where('id', '=', bucketId).execute();
}
