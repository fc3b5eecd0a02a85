/**
 * A serving node's periodic background work, one worker tick after another
 * (work/worker.ts): cleanup retries, backend health, durable tasks, and the
 * singleton jobs that one process of the cluster at a time runs (LOCKS).
 */
import type { Logger } from 'pino';

import { asLeader } from '../work/leader.js';
import { LOCKS } from '../work/task-names.js';
import type { TaskRunner } from '../work/tasks.js';
import { startWorker } from '../work/worker.js';
import type { NodeContext } from './assemble.js';

const SESSION_PRUNE_INTERVAL_MS = 10 * 60_000;
/** How often the change feed's retention runs (at most; a short retention runs it more often). */
const EVENTS_PRUNE_INTERVAL_MS = 60_000;

/** Starts the jobs; stop() stops the task runner and waits for the tick in progress. */
export function startBackgroundWork(node: NodeContext, runner: TaskRunner, log: Logger, intervalMs: number): { stop(): Promise<void> } {
  const { meta, config, core, services, sessions } = node;
  let sessionsPrunedAt = 0;
  let eventsPrunedAt = 0;
  const worker = startWorker(log, intervalMs, [
    { name: 'cleanup', run: () => core.blobs.cleanup.runDue() },
    { name: 'backends', run: () => core.blobs.tickBackends() },
    { name: 'tasks', run: () => runner.runDue() },
    {
      name: 'expire-uploads',
      run: () =>
        asLeader(meta, LOCKS.expireUploads, async () => {
          await services.multipart.abortOlderThan(Date.now() - config.multipartMaxAgeHours * 3600_000);
        }),
    },
    {
      // Answers kept for retried Completes, once past their window (a bounded table).
      name: 'prune-completed-uploads',
      run: () =>
        asLeader(meta, LOCKS.pruneCompletedUploads, async () => {
          await services.multipart.pruneCompletions();
        }),
    },
    {
      // Expired refresh tokens, long-dead sessions and stale login-failure counters (bounded tables).
      name: 'prune-sessions',
      run: async () => {
        if (Date.now() - sessionsPrunedAt < SESSION_PRUNE_INTERVAL_MS) return;
        sessionsPrunedAt = Date.now();
        await asLeader(meta, LOCKS.pruneSessions, async () => {
          await sessions.prune();
        });
      },
    },
    {
      // Events past the retention (a bounded table); a cursor older than them then gets 410.
      name: 'prune-events',
      run: async () => {
        const retentionMs = config.eventsRetention * 1000;
        // By the feed's clock, which tests move forward.
        const now = node.events.clock();
        if (now - eventsPrunedAt < Math.min(EVENTS_PRUNE_INTERVAL_MS, retentionMs / 10)) return;
        eventsPrunedAt = now;
        await asLeader(meta, LOCKS.pruneEvents, async () => {
          await node.events.prune(retentionMs);
        });
      },
    },
    {
      name: 'scrub',
      run: async () => {
        if (config.scrubBytesPerSecond <= 0) return;
        await asLeader(meta, LOCKS.scrub, async () => {
          await core.blobs.scrubber.runSlice((config.scrubBytesPerSecond * intervalMs) / 1000);
        });
      },
    },
  ]);
  return {
    async stop() {
      runner.stop();
      await worker.stop();
    },
  };
}
