/**
 * A tiny periodic runner for background jobs (cleanup retries now; tasks,
 * scrub and lifecycle later). Runs never overlap; stop() waits for the
 * current run so shutdown does not cut a job in half.
 */
import type { Logger } from 'pino';

export interface Job {
  name: string;
  run(): Promise<unknown>;
}

export function startWorker(log: Logger, intervalMs: number, jobs: Job[]): { stop(): Promise<void> } {
  let current: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (current || stopped) return;
    current = (async () => {
      for (const job of jobs) {
        try {
          await job.run();
        } catch (err) {
          log.warn({ err, job: job.name }, 'background job failed');
        }
      }
    })().finally(() => (current = undefined));
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
