/**
 * The durable task queue (global DB) and its runner. A task is a typed JSON
 * payload with a priority; runners claim due tasks under a lease (FOR UPDATE
 * SKIP LOCKED on PostgreSQL), run the handler for its type, and on failure
 * retry with exponential backoff and jitter until `max_attempts`, after which
 * the task stays `failed` (the dead letters `anvil admin tasks` lists and
 * retries). A task whose runner died is picked up again when its lease
 * expires, so handlers must be idempotent (they are written to resume).
 */
import type { Logger } from 'pino';

import type { MetaDatabases } from '../meta/engine.js';
import {
  cancelTask,
  claimTasks,
  completeTask,
  failTask,
  getTask,
  insertTask,
  listRecentTasks,
  listTasks,
  listTasksOfType,
  releaseTasks,
  renewTaskLease,
  retryTask,
  setTaskProgress,
  type Task,
  type TaskStatus,
} from '../meta/work/tasks.js';

export type { Task };
/**
 * A task handler. `signal` aborts when the task is cancelled, its lease is
 * lost, or the server shuts down: long handlers check it between steps.
 */
export type TaskHandler = (payload: any, signal: AbortSignal, task: Task, progress: TaskProgress) => Promise<void>;

/**
 * How a handler says how far it got: `done` of `total` units (blobs,
 * versions…; total undefined when unknown). Cheap to call per unit: the
 * runner writes the latest figures every PROGRESS_WRITE_MS and once at the
 * end, so operators see done/total, a rate and an ETA (admin/ops/tasks.ts).
 */
export type TaskProgress = (done: number, total?: number) => void;

/** How often a running task's progress is written (a statement per interval at most). */
const PROGRESS_WRITE_MS = 2000;

export interface EnqueueOptions {
  priority?: number;
  maxAttempts?: number;
  runAt?: number;
}

export class TaskQueue {
  constructor(
    private readonly meta: MetaDatabases,
    private readonly owner: string,
    private readonly settings = { backoffMs: 2000, leaseMs: 5 * 60_000 },
  ) {}

  enqueue(type: string, payload: unknown, opts: EnqueueOptions = {}): Promise<number> {
    return insertTask(this.meta.control, {
      type,
      payload,
      priority: opts.priority ?? 100,
      maxAttempts: opts.maxAttempts ?? 10,
      runAt: opts.runAt ?? Date.now(),
    });
  }

  /** Claims due tasks of the given types: pending ones, and running ones whose lease expired. */
  claim(types: string[], limit = 10): Promise<Task[]> {
    return claimTasks(this.meta.control, this.owner, types, limit, this.settings.leaseMs);
  }

  complete(task: Task): Promise<void> {
    return completeTask(this.meta.control, task.id, this.owner);
  }

  async fail(task: Task, err: unknown): Promise<void> {
    const message = String((err as Error)?.message ?? err).slice(0, 2000);
    const dead = task.attempts >= task.max_attempts;
    const delay = this.settings.backoffMs * 2 ** Math.max(0, task.attempts - 1) * (0.5 + Math.random());
    await failTask(this.meta.control, task.id, this.owner, { dead, message, nextRunAt: Date.now() + Math.round(delay) });
  }

  /** Gives a claimed task back (shutdown): it runs again later without using up an attempt. */
  release(tasks: Task[]): Promise<void> {
    return releaseTasks(
      this.meta.control,
      tasks.map((t) => t.id),
      this.owner,
    );
  }

  /** Extends the lease of a running task; false when it was lost (cancelled, or taken over after expiry). */
  renew(task: Task): Promise<boolean> {
    return renewTaskLease(this.meta.control, task.id, this.owner, Date.now() + this.settings.leaseMs);
  }

  /** Records a running task's progress (see TaskProgress). */
  progress(task: Task, p: { done: number; total: number | null; startedAt: number; at: number }): Promise<void> {
    return setTaskProgress(this.meta.control, task.id, this.owner, p);
  }

  get leaseMs(): number {
    return this.settings.leaseMs;
  }

  list(status?: TaskStatus): Promise<Task[]> {
    return listTasks(this.meta.control, status);
  }

  get(id: number): Promise<Task | undefined> {
    return getTask(this.meta.control, id);
  }

  /** The newest tasks (optionally of one status), newest first. */
  recent(opts: { status?: TaskStatus; limit: number }): Promise<Task[]> {
    return listRecentTasks(this.meta.control, opts);
  }

  /** Tasks of one type (optionally in these statuses), newest first. */
  listOfType(type: string, statuses?: TaskStatus[]): Promise<Task[]> {
    return listTasksOfType(this.meta.control, type, statuses);
  }

  /** Puts failed (or cancelled) tasks back in the queue with a fresh attempt budget. */
  retry(id: number): Promise<boolean> {
    return retryTask(this.meta.control, id);
  }

  /** Cancels a task that has not finished; a running one finishes its current attempt but is not retried. */
  cancel(id: number): Promise<boolean> {
    return cancelTask(this.meta.control, id);
  }
}

/** Runs due tasks with the registered handlers; one pass per worker tick. */
export class TaskRunner {
  private readonly handlers = new Map<string, TaskHandler>();
  private stopping = false;

  constructor(
    private readonly queue: TaskQueue,
    private readonly log: Logger,
  ) {}

  register(type: string, handler: TaskHandler): this {
    this.handlers.set(type, handler);
    return this;
  }

  /** Claims and runs due tasks one at a time (a claimed task never waits behind another). */
  async runDue(): Promise<number> {
    let handled = 0;
    while (!this.stopping) {
      const [task] = await this.queue.claim([...this.handlers.keys()], 1);
      if (!task) break;
      await this.runOne(task);
      handled++;
    }
    return handled;
  }

  private async runOne(task: Task): Promise<void> {
    const handler = this.handlers.get(task.type)!;
    const control = new AbortController();
    this.current = control;
    let leaseLost = false;
    // Keep the lease while the handler runs; stop it if the task was cancelled or taken over.
    const heartbeat = setInterval(
      () => {
        this.queue.renew(task).then(
          (held) => {
            if (!held) {
              leaseLost = true;
              control.abort(new Error('task lease lost or task cancelled'));
            }
          },
          // A failed renewal is not a lost lease: the next beat tries again, and the lease outlives several beats.
          (err) => this.log.warn({ err, taskId: task.id, type: task.type }, 'task lease renewal failed'),
        );
      },
      Math.max(10, this.queue.leaseMs / 3),
    );
    // This attempt's progress, written on its own beat (the lease's is minutes apart).
    const progress = { done: 0, total: null as number | null, startedAt: Date.now(), dirty: false };
    const writeProgress = () => {
      if (!progress.dirty) return Promise.resolve();
      progress.dirty = false;
      return this.queue.progress(task, { done: progress.done, total: progress.total, startedAt: progress.startedAt, at: Date.now() });
    };
    const progressBeat = setInterval(() => {
      // Progress is advice: a failed write is retried at the next beat with newer figures.
      writeProgress().catch((err) => this.log.debug({ err, taskId: task.id }, 'task progress not written'));
    }, PROGRESS_WRITE_MS);
    const report: TaskProgress = (done, total) => {
      progress.done = done;
      progress.total = total ?? null;
      progress.dirty = true;
    };
    try {
      await handler(JSON.parse(task.payload), control.signal, task, report);
      clearInterval(progressBeat);
      await writeProgress();
      if (!leaseLost) await this.queue.complete(task);
    } catch (err) {
      if (leaseLost) return; // no longer ours to finish
      if (this.stopping && control.signal.aborted) {
        await this.queue.release([task]); // interrupted by shutdown: resume later
        return;
      }
      this.log.warn({ err, taskId: task.id, type: task.type, attempt: task.attempts }, 'task failed');
      await this.queue.fail(task, err);
    } finally {
      clearInterval(heartbeat);
      clearInterval(progressBeat);
      this.current = undefined;
    }
  }

  private current: AbortController | undefined;

  /** Stops claiming and asks the running handler to stop; it is released to run again later. */
  stop(): void {
    this.stopping = true;
    this.current?.abort(new Error('server shutting down'));
  }
}
