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
import { iso } from '../schemas.js';

export const TASK_STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;

/** How far a task got, as its handler last reported (written every few seconds while it runs). */
export interface TaskProgressView {
  done: number;
  /** null: the handler does not know how much there is. */
  total: number | null;
  /** The start of the attempt that reported it. */
  startedAt: string;
  updatedAt: string;
  /** Units per second over the attempt so far; null before there is a rate. */
  perSecond: number | null;
  /** Seconds left at that rate; null without a total or a rate. */
  etaSeconds: number | null;
}

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
  /** null: the task has reported none (not started, or a handler that reports nothing). */
  progress: TaskProgressView | null;
}

function progressView(t: Task): TaskProgressView | null {
  if (t.progress_done === null || t.progress_started_at === null || t.progress_at === null) return null;
  const done = Number(t.progress_done);
  const total = t.progress_total === null ? null : Number(t.progress_total);
  const seconds = (Number(t.progress_at) - Number(t.progress_started_at)) / 1000;
  const perSecond = seconds > 0 && done > 0 ? Math.round((done / seconds) * 10) / 10 : null;
  const etaSeconds = total === null ? null : total <= done ? 0 : perSecond ? Math.ceil((total - done) / perSecond) : null;
  return { done, total, startedAt: iso(Number(t.progress_started_at)), updatedAt: iso(Number(t.progress_at)), perSecond, etaSeconds };
}

/** `1200/5000 (24%), 310/s, ETA 13s` for the command line. */
export function progressLine(p: TaskProgressView | null): string {
  if (!p) return '';
  const share = p.total ? ` (${Math.floor((p.done / p.total) * 100)}%)` : '';
  const rate = p.perSecond === null ? '' : `, ${p.perSecond}/s`;
  const eta = p.etaSeconds === null || p.etaSeconds === 0 ? '' : `, ETA ${p.etaSeconds}s`;
  return `${p.done}${p.total === null ? '' : `/${p.total}`}${share}${rate}${eta}`;
}

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
    nextRunAt: iso(Number(t.next_run_at)),
    leaseExpiresAt: t.lease_expires_at === null ? null : iso(Number(t.lease_expires_at)),
    createdAt: iso(Number(t.created_at)),
    updatedAt: iso(Number(t.updated_at)),
    progress: progressView(t),
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
