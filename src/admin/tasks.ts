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
 *   GET  /admin/v1/scrub
 */
import { z } from 'zod';

import { requireRoot } from './access.js';
import { adminErrors } from './errors.js';
import { cancelTask, listTasks, retryTask, scrubStatus, TASK_STATUSES } from './ops/tasks.js';
import { route } from './route.js';

const STATUSES = TASK_STATUSES;

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
    progress: z
      .object({
        done: z.number().describe('units done (versions deleted, replicas moved…)'),
        total: z.number().nullable().describe('units to do; null when the task does not know'),
        startedAt: z.string().describe("the reporting attempt's start"),
        updatedAt: z.string().describe('when it was last reported (every few seconds while running)'),
        perSecond: z.number().nullable(),
        etaSeconds: z.number().nullable().describe('seconds left at that rate'),
      })
      .nullable()
      .describe('how far it got, as its handler reports; null if it reported nothing'),
  })
  .meta({ id: 'Task' });

const TaskList = z.object({ tasks: z.array(TaskSchema).describe('newest first') }).meta({ id: 'TaskList' });
const TaskChanged = z.object({ id: z.number().int(), status: z.enum(STATUSES) }).meta({ id: 'TaskChanged' });

const ListQuery = z.object({
  status: z.enum(STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200).describe('tasks to return, newest first'),
});

const idParam = (id: string): number => {
  if (!/^\d{1,15}$/.test(id)) throw adminErrors.notFound(`no task ${id}`);
  return Number(id);
};

const ScrubSchema = z
  .object({
    blobs: z.number().int().describe('blobs known'),
    verified: z.number().int().describe('blobs the scrub has verified at least once'),
    corrupt: z
      .array(z.object({ tenantId: z.string(), hash: z.string(), fileId: z.string() }))
      .describe('blobs found corrupt on every replica'),
    badReplicas: z.number().int().describe('replicas marked bad and not yet repaired'),
  })
  .meta({ id: 'ScrubStatus' });

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
      return { tasks: await listTasks(deps, { status: query.status, limit: query.limit }) };
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
      return cancelTask(deps, idParam(params.id));
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
      return retryTask(deps, idParam(params.id));
    },
  }),
  route({
    method: 'GET',
    path: '/admin/v1/scrub',
    tag: 'tasks',
    summary: "The integrity scrub's findings: blobs verified, corrupt blobs, bad replicas",
    access: 'root',
    auth: 'any',
    response: ScrubSchema,
    async handle({ principal, deps }) {
      requireRoot(principal);
      return scrubStatus(deps);
    },
  }),
];
