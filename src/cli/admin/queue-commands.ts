/**
 * `anvil admin tasks|scrub|cleanup …`: the background queues and the
 * scrub's findings. Tasks and the scrub work on either door (the database,
 * or --endpoint through GET /admin/v1/tasks, …/cancel, …/retry and
 * GET /admin/v1/scrub); the cleanup queue needs the database (no API yet).
 */
import type { Command } from 'commander';

import { progressLine, TASK_STATUSES } from '../../admin/ops/tasks.js';
import type { TaskStatus } from '../../meta/work/tasks.js';
import { action, directAction } from './action.js';
import { print } from './print.js';

function taskId(id: string): number {
  if (!/^\d{1,15}$/.test(id)) throw new Error(`not a task id: ${id}`);
  return Number(id);
}

function parseIds(ids: string[]): number[] | undefined {
  if (ids.length === 0) return undefined;
  return ids.map((id) => {
    if (!/^\d+$/.test(id)) throw new Error(`not an entry id: ${id}`);
    return Number(id);
  });
}

export function registerQueueCommands(admin: Command): void {
  const tasks = admin.command('tasks').description('the durable background task queue');
  tasks
    .command('list')
    .option('--status <status>', 'pending, running, done, failed or cancelled')
    .action(
      action(async (door, json, opts: { status?: TaskStatus }) => {
        if (opts.status !== undefined && !(TASK_STATUSES as readonly string[]).includes(opts.status)) {
          throw new Error(`--status must be one of ${TASK_STATUSES.join(', ')}`);
        }
        const rows = await door.listTasks(opts.status);
        print(
          json,
          rows,
          rows
            .map(
              (t) =>
                `${t.id}\t${t.type}\t${t.status}\tattempts=${t.attempts}/${t.maxAttempts}\t${progressLine(t.progress) || '-'}\t${JSON.stringify(t.payload)}\t${t.lastError ?? ''}`,
            )
            .join('\n') || '(none)',
        );
      }),
    );
  tasks
    .command('retry <id>')
    .description('run a failed or cancelled task again')
    .action(
      action(async (door, json, id: string) => {
        const changed = await door.retryTask(taskId(id));
        print(json, changed, `task ${changed.id} queued again`);
      }),
    );
  tasks
    .command('cancel <id>')
    .description('cancel a task that has not finished')
    .action(
      action(async (door, json, id: string) => {
        const changed = await door.cancelTask(taskId(id));
        print(json, changed, `task ${changed.id} cancelled`);
      }),
    );

  admin
    .command('scrub')
    .description('integrity scrub results')
    .command('status')
    .action(
      action(async (door, json) => {
        const s = await door.scrubStatus();
        print(
          json,
          s,
          `${s.verified}/${s.blobs} blobs verified, ${s.corrupt.length} corrupt, ${s.badReplicas} bad replicas${s.corrupt.map((c) => `\n  ${c.tenantId}/${c.hash}.${c.fileId}`).join('')}`,
        );
      }),
    );

  const cleanup = admin.command('cleanup').description('the blob cleanup queue and its dead letters');
  const entryLines = (rows: Array<{ id: number; hash: string; file_id: string; attempts: number; last_error: string | null }>) =>
    rows.map((r) => `${r.id}\t${r.hash}.${r.file_id}\tattempts=${r.attempts}\t${r.last_error ?? ''}`).join('\n') || '(empty)';
  cleanup
    .command('list')
    .description('entries waiting for cleanup (with attempts and last error)')
    .action(
      directAction(async ({ core }, json) => {
        const rows = await core.blobs.cleanup.pending();
        print(json, rows, entryLines(rows));
      }),
    );
  const dlq = cleanup.command('dlq').description('cleanups that failed too often');
  dlq.command('list').action(
    directAction(async ({ core }, json) => {
      const rows = await core.blobs.cleanup.deadLetters();
      print(json, rows, entryLines(rows));
    }),
  );
  dlq
    .command('retry [ids...]')
    .description('move dead letters (all, or the given ids) back into the queue')
    .action(
      directAction(async ({ core }, json, ids: string[]) => {
        const n = await core.blobs.cleanup.retryDeadLetters(parseIds(ids));
        const handled = await core.blobs.cleanup.runDue();
        print(json, { requeued: n, processed: handled }, `requeued ${n}, processed ${handled}`);
      }),
    );
  dlq
    .command('purge [ids...]')
    .description('forget dead letters (all, or the given ids); leftover files are removed as orphans at the next start')
    .action(
      directAction(async ({ core }, json, ids: string[]) => {
        const n = await core.blobs.cleanup.purgeDeadLetters(parseIds(ids));
        print(json, { purged: n }, `purged ${n}`);
      }),
    );
}
