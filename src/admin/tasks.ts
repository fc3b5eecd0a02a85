/**
 * The durable background task queue as the operator watches it (root only:
 * tasks serve every tenant): the newest tasks with their state, attempts
 * and last error; cancel one that has not finished; retry a failed or
 * cancelled one (a fresh attempt budget). The same queue `anvil admin tasks`
 * reads on the database (work/tasks.ts).
 *
 *   GET  /admin/v1/tasks?status=&limit=
 *   POST /admin/v1/tasks/:id/cancel
 *   POST /admin/v1/tasks/:id/retry
 */
import { z } from 'zod';

import type { Task } from '../meta/work/tasks.js';
import { requireRoot } from './access.js';
import { adminErrors } from './errors.js';
import { route } from './route.js';
import { iso } from './schemas.js';

const STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;

const TaskSchema = z
  .object({
    id: z.number().int(),
    type: z.string().describe('what the task does (delete-bucket, drain-backend, …)'),
    payload: z.unknown().describe("the task's input, as enqueued"),
    status: z.enum(STATUSES),
    attempts: z.number().int(),
    maxAttempts: z.number().int().describe('failed for good after this many attempts (until retried)'),
    lastError: z.string().nullable(),
    nextRunAt: z.string().describe('ISO 8601: when a pending task is due (after a failed attempt: its backoff)'),
    leaseExpiresAt: z.string().nullable().describe('running: when its lease ends unless renewed'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Task' });

const TaskList = z.object({ tasks: z.array(TaskSchema).describe('newest first') }).meta({ id: 'TaskList' });
const TaskChanged = z.object({ id: z.number().int(), status: z.enum(STATUSES) }).meta({ id: 'TaskChanged' });

const ListQuery = z.object({
  status: z.enum(STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200).describe('tasks to return, newest first'),
});

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function taskJson(t: Task) {
  return {
    id: t.id,
    type: t.type,
    payload: parsePayload(t.payload),
    status: t.status,
    attempts: t.attempts,
    maxAttempts: t.max_attempts,
    lastError: t.last_error,
    nextRunAt: iso(t.next_run_at),
    leaseExpiresAt: t.lease_expires_at === null ? null : iso(t.lease_expires_at),
    createdAt: iso(t.created_at),
    updatedAt: iso(t.updated_at),
  };
}

const idParam = (id: string): number => {
  if (!/^\d{1,15}$/.test(id)) throw adminErrors.notFound(`no task ${id}`);
  return Number(id);
};

export const taskRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/tasks',
    tag: 'tasks',
    summary: 'List background tasks, newest first, with state, attempts and last error',
    access: 'root',
    auth: 'any',
    query: ListQuery,
    response: TaskList,
    async handle({ principal, query, deps }) {
      requireRoot(principal);
      return { tasks: (await deps.tasks.recent({ status: query.status, limit: query.limit })).map(taskJson) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/tasks/:id/cancel',
    tag: 'tasks',
    summary: 'Cancel a task that has not finished (a running one finishes its current attempt, and is not retried)',
    access: 'root',
    auth: 'any',
    response: TaskChanged,
    async handle({ principal, params, deps }) {
      requireRoot(principal);
      const id = idParam(params.id);
      if (!(await deps.tasks.cancel(id))) throw await notChanged(deps.tasks, id, 'has already finished');
      return { id, status: 'cancelled' as const };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/tasks/:id/retry',
    tag: 'tasks',
    summary: 'Run a failed or cancelled task again, with a fresh attempt budget',
    access: 'root',
    auth: 'any',
    response: TaskChanged,
    async handle({ principal, params, deps }) {
      requireRoot(principal);
      const id = idParam(params.id);
      if (!(await deps.tasks.retry(id))) throw await notChanged(deps.tasks, id, 'is not failed or cancelled');
      return { id, status: 'pending' as const };
    },
  }),
];

/** 404 for a task that does not exist, 409 for one in the wrong state. */
async function notChanged(tasks: { get(id: number): Promise<Task | undefined> }, id: number, why: string) {
  const task = await tasks.get(id);
  return task ? adminErrors.conflict(`task ${id} ${why} (it is ${task.status})`) : adminErrors.notFound(`no task ${id}`);
}
