/**
 * The durable task queue (global DB) and its runner. A task is a typed JSON
 * payload with a priority; runners claim due tasks under a lease (FOR UPDATE
 * SKIP LOCKED on PostgreSQL), run the handler for its type, and on failure
 * retry with exponential backoff and jitter until `max_attempts`, after which
 * the task stays `failed` (the dead letters `anvil admin tasks` lists and
 * retries). A task whose runner died is picked up again when its lease
 * expires, so handlers must be idempotent (they are written to resume).
 */
import type { Selectable } from 'kysely';
import type { Logger } from 'pino';
import { withTransaction, type MetaDatabases } from '../meta/engine.js';
import type { TaskStatus, TaskTable } from '../meta/schema.js';

export type Task = Selectable<TaskTable>;
/**
 * A task handler. `signal` aborts when the task is cancelled, its lease is
 * lost, or the server shuts down: long handlers check it between steps.
 */
export type TaskHandler = (payload: any, signal: AbortSignal, task: Task) => Promise<void>;

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

  async enqueue(type: string, payload: unknown, opts: EnqueueOptions = {}): Promise<number> {
    const now = Date.now();
    const row = await this.meta.control
      .insertInto('tasks')
      .values({
        type,
        payload: JSON.stringify(payload),
        priority: opts.priority ?? 100,
        status: 'pending',
        attempts: 0,
        max_attempts: opts.maxAttempts ?? 10,
        next_run_at: opts.runAt ?? now,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  /** Claims due tasks of the given types: pending ones, and running ones whose lease expired. */
  async claim(types: string[], limit = 10): Promise<Task[]> {
    if (types.length === 0) return [];
    const { kind, control: global } = this.meta;
    return withTransaction(kind, global, async (trx) => {
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
        .set({ status: 'failed', last_error: 'gave up: the runner stopped during every attempt', lease_owner: null, lease_expires_at: null, updated_at: now })
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
          lease_owner: this.owner,
          lease_expires_at: now + this.settings.leaseMs,
          updated_at: now,
        }))
        .where('id', 'in', ids)
        .returningAll()
        .execute();
    });
  }

  async complete(task: Task): Promise<void> {
    await this.meta.control
      .updateTable('tasks')
      .set({ status: 'done', lease_owner: null, lease_expires_at: null, last_error: null, updated_at: Date.now() })
      .where('id', '=', task.id)
      .where('status', '=', 'running')
      .where('lease_owner', '=', this.owner)
      .execute();
  }

  async fail(task: Task, err: unknown): Promise<void> {
    const message = String((err as Error)?.message ?? err).slice(0, 2000);
    const dead = task.attempts >= task.max_attempts;
    const delay = this.settings.backoffMs * 2 ** Math.max(0, task.attempts - 1) * (0.5 + Math.random());
    await this.meta.control
      .updateTable('tasks')
      .set({
        status: dead ? 'failed' : 'pending',
        last_error: message,
        next_run_at: Date.now() + Math.round(delay),
        lease_owner: null,
        lease_expires_at: null,
        updated_at: Date.now(),
      })
      .where('id', '=', task.id)
      .where('status', '=', 'running')
      .where('lease_owner', '=', this.owner)
      .execute();
  }

  /** Gives a claimed task back (shutdown): it runs again later without using up an attempt. */
  async release(tasks: Task[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.meta.control
      .updateTable('tasks')
      .set((eb) => ({ status: 'pending', attempts: eb('attempts', '-', 1), lease_owner: null, lease_expires_at: null }))
      .where('id', 'in', tasks.map((t) => t.id))
      .where('status', '=', 'running')
      .where('lease_owner', '=', this.owner)
      .execute();
  }

  /** Extends the lease of a running task; false when it was lost (cancelled, or taken over after expiry). */
  async renew(task: Task): Promise<boolean> {
    const res = await this.meta.control
      .updateTable('tasks')
      .set({ lease_expires_at: Date.now() + this.settings.leaseMs })
      .where('id', '=', task.id)
      .where('status', '=', 'running')
      .where('lease_owner', '=', this.owner)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  get leaseMs(): number {
    return this.settings.leaseMs;
  }

  async list(status?: TaskStatus): Promise<Task[]> {
    let q = this.meta.control.selectFrom('tasks').selectAll().orderBy('id');
    if (status) q = q.where('status', '=', status);
    return q.execute();
  }

  /** Puts failed (or cancelled) tasks back in the queue with a fresh attempt budget. */
  async retry(id: number): Promise<boolean> {
    const res = await this.meta.control
      .updateTable('tasks')
      .set({ status: 'pending', attempts: 0, next_run_at: Date.now(), updated_at: Date.now() })
      .where('id', '=', id)
      .where('status', 'in', ['failed', 'cancelled'])
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Cancels a task that has not finished; a running one finishes its current attempt but is not retried. */
  async cancel(id: number): Promise<boolean> {
    const res = await this.meta.control
      .updateTable('tasks')
      .set({ status: 'cancelled', updated_at: Date.now() })
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'failed', 'running'])
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
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
    const heartbeat = setInterval(() => {
      this.queue.renew(task).then(
        (held) => {
          if (!held) {
            leaseLost = true;
            control.abort(new Error('task lease lost or task cancelled'));
          }
        },
        () => undefined,
      );
    }, Math.max(10, this.queue.leaseMs / 3));
    try {
      await handler(JSON.parse(task.payload), control.signal, task);
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
