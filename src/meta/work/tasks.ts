/**
 * The durable task queue's statements (control plane, table `tasks`). The
 * queue's policy (backoff, leases, who runs what) is work/tasks.ts; this
 * module only reads and writes rows. Claiming differs per engine: PostgreSQL
 * locks the chosen rows with FOR UPDATE SKIP LOCKED so concurrent runners
 * never pick the same ones; SQLite's BEGIN IMMEDIATE already serialises
 * writers, so the plain select is enough there.
 */
import type { Kysely, Selectable } from 'kysely';

import { withTransaction } from '../engine.js';
import { type ControlDb, engineOf } from '../handles.js';
import type { ControlSchema, TaskStatus, TaskTable } from '../schema.js';

export type Task = Selectable<TaskTable>;
export type { TaskStatus };

export interface NewTask {
  type: string;
  payload: unknown;
  priority: number;
  maxAttempts: number;
  runAt: number;
}

export async function insertTask(db: ControlDb, t: NewTask): Promise<number> {
  const now = Date.now();
  const row = await db
    .insertInto('tasks')
    .values({
      type: t.type,
      payload: JSON.stringify(t.payload),
      priority: t.priority,
      status: 'pending',
      attempts: 0,
      max_attempts: t.maxAttempts,
      next_run_at: t.runAt,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/**
 * Claims due tasks of the given types for `owner`: pending ones, and running
 * ones whose lease expired. A running task that already used every attempt
 * (its runner died each time) is marked failed instead of claimed again.
 */
export async function claimTasks(
  db: Kysely<ControlSchema>,
  owner: string,
  types: string[],
  limit: number,
  leaseMs: number,
): Promise<Task[]> {
  if (types.length === 0) return [];
  const kind = engineOf(db);
  return withTransaction(kind, db, async (trx) => {
    const now = Date.now();
    let q = trx
      .selectFrom('tasks')
      .select('id')
      .where('type', 'in', types)
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'pending'), eb('next_run_at', '<=', now)]),
          eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<', now)]),
        ]),
      )
      .orderBy('priority')
      .orderBy('next_run_at')
      .limit(limit);
    if (kind === 'postgres') q = q.forUpdate().skipLocked();
    let ids = (await q.execute()).map((r) => r.id);
    if (ids.length === 0) return [];
    // A task whose runner died on every attempt (it crashed the process) must not loop forever.
    const exhausted = await trx
      .updateTable('tasks')
      .set({
        status: 'failed',
        last_error: 'gave up: the runner stopped during every attempt',
        lease_owner: null,
        lease_expires_at: null,
        updated_at: now,
      })
      .where('id', 'in', ids)
      .where('status', '=', 'running')
      .where((eb) => eb('attempts', '>=', eb.ref('max_attempts')))
      .returning('id')
      .execute();
    const dead = new Set(exhausted.map((r) => r.id));
    ids = ids.filter((id) => !dead.has(id));
    if (ids.length === 0) return [];
    return trx
      .updateTable('tasks')
      .set((eb) => ({
        status: 'running',
        attempts: eb('attempts', '+', 1),
        lease_owner: owner,
        lease_expires_at: now + leaseMs,
        updated_at: now,
      }))
      .where('id', 'in', ids)
      .returningAll()
      .execute();
  });
}

/** Marks a task done, if `owner` still holds it. */
export async function completeTask(db: ControlDb, id: number, owner: string): Promise<void> {
  await db
    .updateTable('tasks')
    .set({ status: 'done', lease_owner: null, lease_expires_at: null, last_error: null, updated_at: Date.now() })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .where('lease_owner', '=', owner)
    .execute();
}

/** Records a failed attempt, if `owner` still holds it: pending again at `nextRunAt`, or failed for good when `dead`. */
export async function failTask(
  db: ControlDb,
  id: number,
  owner: string,
  f: { dead: boolean; message: string; nextRunAt: number },
): Promise<void> {
  await db
    .updateTable('tasks')
    .set({
      status: f.dead ? 'failed' : 'pending',
      last_error: f.message,
      next_run_at: f.nextRunAt,
      lease_owner: null,
      lease_expires_at: null,
      updated_at: Date.now(),
    })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .where('lease_owner', '=', owner)
    .execute();
}

/** Gives claimed tasks back without using up an attempt. */
export async function releaseTasks(db: ControlDb, ids: number[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('tasks')
    .set((eb) => ({ status: 'pending', attempts: eb('attempts', '-', 1), lease_owner: null, lease_expires_at: null }))
    .where('id', 'in', ids)
    .where('status', '=', 'running')
    .where('lease_owner', '=', owner)
    .execute();
}

/** Extends a running task's lease; false when `owner` no longer holds it. */
export async function renewTaskLease(db: ControlDb, id: number, owner: string, until: number): Promise<boolean> {
  const res = await db
    .updateTable('tasks')
    .set({ lease_expires_at: until })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Records how far a running task got (only while this owner holds it). */
export async function setTaskProgress(
  db: ControlDb,
  id: number,
  owner: string,
  p: { done: number; total: number | null; startedAt: number; at: number },
): Promise<void> {
  await db
    .updateTable('tasks')
    .set({ progress_done: p.done, progress_total: p.total, progress_started_at: p.startedAt, progress_at: p.at })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .execute();
}

export async function listTasks(db: ControlDb, status?: TaskStatus): Promise<Task[]> {
  let q = db.selectFrom('tasks').selectAll().orderBy('id');
  if (status) q = q.where('status', '=', status);
  return q.execute();
}

export async function getTask(db: ControlDb, id: number): Promise<Task | undefined> {
  return db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The newest tasks (optionally of one status), newest first, at most `limit`. */
export async function listRecentTasks(db: ControlDb, opts: { status?: TaskStatus; limit: number }): Promise<Task[]> {
  let q = db.selectFrom('tasks').selectAll().orderBy('id', 'desc');
  if (opts.status) q = q.where('status', '=', opts.status);
  return q.limit(opts.limit).execute();
}

/** Tasks of one type (optionally in these statuses), newest first, at most `limit`. */
export async function listTasksOfType(db: ControlDb, type: string, statuses?: TaskStatus[], limit = 1000): Promise<Task[]> {
  let q = db.selectFrom('tasks').selectAll().where('type', '=', type).orderBy('id', 'desc');
  if (statuses) q = q.where('status', 'in', statuses);
  return q.limit(limit).execute();
}

/** Failed or cancelled → pending with a fresh attempt budget. */
export async function retryTask(db: ControlDb, id: number): Promise<boolean> {
  const res = await db
    .updateTable('tasks')
    .set({ status: 'pending', attempts: 0, next_run_at: Date.now(), updated_at: Date.now() })
    .where('id', '=', id)
    .where('status', 'in', ['failed', 'cancelled'])
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Cancels a task that has not finished. */
export async function cancelTask(db: ControlDb, id: number): Promise<boolean> {
  const res = await db
    .updateTable('tasks')
    .set({ status: 'cancelled', updated_at: Date.now() })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'failed', 'running'])
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Tasks per status (only the statuses asked for; absent ones count 0). */
export async function countTasksByStatus<S extends TaskStatus>(db: ControlDb, statuses: S[]): Promise<Record<S, number>> {
  const rows = await db
    .selectFrom('tasks')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', statuses)
    .groupBy('status')
    .execute();
  const out = Object.fromEntries(statuses.map((s) => [s, 0])) as Record<S, number>;
  for (const r of rows) out[r.status as S] = Number(r.n);
  return out;
}
