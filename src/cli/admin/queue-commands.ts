/**
 * `anvil admin tasks|scrub|cleanup …`: the background queues and the
 * scrub's findings. These work on the database and are refused with
 * --endpoint (the admin API has routes for the tasks, GET /admin/v1/tasks
 * and …/cancel, …/retry, used by the web console; none for the rest).
 */
import type { Command } from 'commander';

import type { TaskStatus } from '../../meta/work/tasks.js';
import { directAction } from './action.js';
import { print } from './print.js';

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
      directAction(async ({ tasks }, json, opts: { status?: TaskStatus }) => {
        const rows = await tasks.list(opts.status);
        print(
          json,
          rows.map((t) => ({ ...t, payload: JSON.parse(t.payload) })),
          rows
            .map((t) => `${t.id}\t${t.type}\t${t.status}\tattempts=${t.attempts}/${t.max_attempts}\t${t.payload}\t${t.last_error ?? ''}`)
            .join('\n') || '(none)',
        );
      }),
    );
  tasks
    .command('retry <id>')
    .description('run a failed or cancelled task again')
    .action(
      directAction(async ({ tasks }, json, id: string) => {
        if (!(await tasks.retry(Number(id)))) throw new Error(`task ${id} is not failed or cancelled`);
        print(json, { retried: Number(id) }, `task ${id} queued again`);
      }),
    );
  tasks
    .command('cancel <id>')
    .description('cancel a task that has not finished')
    .action(
      directAction(async ({ tasks }, json, id: string) => {
        if (!(await tasks.cancel(Number(id)))) throw new Error(`task ${id} has already finished`);
        print(json, { cancelled: Number(id) }, `task ${id} cancelled`);
      }),
    );

  admin
    .command('scrub')
    .description('integrity scrub results')
    .command('status')
    .action(
      directAction(async ({ scrubber }, json) => {
        const s = await scrubber.status();
        print(
          json,
          s,
          `${s.verified}/${s.blobs} blobs verified, ${s.corrupt.length} corrupt${s.corrupt.map((c) => `\n  ${c.tenantId}/${c.hash}.${c.fileId}`).join('')}`,
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
