/**
 * The background task queue and the scrub's findings as the operator sees
 * them, for the admin API (admin/tasks.ts) and `anvil admin tasks|scrub` on
 * either door: one view, one set of refusals.
 */
import type { ScrubStatus } from '../../blobs/scrub.js';
import type { TaskStatus } from '../../meta/schema.js';
import type { Task } from '../../meta/work/tasks.js';
import type { AdminServices } from '../deps.js';
import { adminErrors } from '../errors.js';

export const TASK_STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;

export interface TaskView {
  id: number;
  type: string;
  payload: unknown;
  status: TaskStatus;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  nextRunAt: string;
  leaseExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function taskView(t: Task): TaskView {
  return {
    id: Number(t.id),
    type: t.type,
    payload: parsePayload(t.payload),
    status: t.status,
    attempts: Number(t.attempts),
    maxAttempts: Number(t.max_attempts),
    lastError: t.last_error,
    nextRunAt: iso(t.next_run_at),
    leaseExpiresAt: t.lease_expires_at === null ? null : iso(t.lease_expires_at),
    createdAt: iso(t.created_at),
    updatedAt: iso(t.updated_at),
  };
}

export async function listTasks(s: AdminServices, opts: { status?: TaskStatus; limit?: number } = {}): Promise<TaskView[]> {
  return (await s.tasks.recent({ status: opts.status, limit: opts.limit ?? 200 })).map(taskView);
}

/** 404 for a task that does not exist, 409 for one in the wrong state. */
async function notChanged(s: AdminServices, id: number, why: string) {
  const task = await s.tasks.get(id);
  return task ? adminErrors.conflict(`task ${id} ${why} (it is ${task.status})`) : adminErrors.notFound(`no task ${id}`);
}

export interface TaskChange {
  id: number;
  status: 'cancelled' | 'pending';
}

export async function cancelTask(s: AdminServices, id: number): Promise<TaskChange> {
  if (!(await s.tasks.cancel(id))) throw await notChanged(s, id, 'has already finished');
  return { id, status: 'cancelled' };
}

export async function retryTask(s: AdminServices, id: number): Promise<TaskChange> {
  if (!(await s.tasks.retry(id))) throw await notChanged(s, id, 'is not failed or cancelled');
  return { id, status: 'pending' };
}

export function scrubStatus(s: AdminServices): Promise<ScrubStatus> {
  return s.core.blobs.scrubber.status();
}
