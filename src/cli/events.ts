/**
 * `anvil events tail BUCKET`: a bucket's change feed, printed as it happens
 * (core/events/, README § Change feed). Written once against a door
 * (cli/admin/door.ts): the database directly (the default) or, with
 * --endpoint, the admin API of a running server
 * (/admin/v1/buckets/:bucket/events, long-polled). Either way it resumes
 * from a cursor (--from) and prints each event once, in sequence order.
 */
import type { Command } from 'commander';

import type { EventView } from '../admin/ops/events.js';
import { action } from './admin/action.js';
import type { AdminDoor } from './admin/door.js';
import { doorFlags } from './flags.js';

/** How long one request waits for events before asking again (the API allows 60 s). */
const WAIT_SECONDS = 20;

function line(e: EventView): string {
  const what = e.key !== undefined ? e.key : e.detail ? JSON.stringify(e.detail) : '';
  const version = e.versionId !== undefined ? `  ${e.versionId}` : '';
  return `${e.cursor}\t${e.time}\t${e.name}\t${what}${version}`;
}

/** Prints events after `from` until `count` were printed (forever without one). */
export async function tailEvents(
  door: AdminDoor,
  json: boolean,
  bucket: string,
  opts: { branch: string; from?: string; count?: number },
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<void> {
  let after = opts.from ?? 'latest';
  let printed = 0;
  if (!json) process.stderr.write(`following the events of ${bucket} (branch ${opts.branch}) after ${after}; cursor, time, event, key\n`);
  while (opts.count === undefined || printed < opts.count) {
    const page = await door.events(bucket, { branch: opts.branch, after, limit: 100, wait: WAIT_SECONDS });
    if (page.gone) {
      throw new Error(`events after ${after} were pruned (older than events_retention); resume with --from ${page.oldest}`);
    }
    for (const e of page.events) {
      if (opts.count !== undefined && printed >= opts.count) break;
      out(json ? `${JSON.stringify(e)}\n` : `${line(e)}\n`);
      printed++;
      after = e.cursor;
    }
    // Past events hidden from the caller too (only when every event of the page was printed).
    if (opts.count === undefined || printed < opts.count) after = page.cursor;
  }
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new Error(`--count must be a whole number of at least 1, not ${JSON.stringify(value)}`);
  return Number(value);
}

export function registerEventCommands(program: Command): void {
  const events = doorFlags(program.command('events').description("a bucket's change feed"));
  events
    .command('tail <bucket>')
    .description('print the events of a bucket (or a branch) as they happen, in sequence order: one line each (--json: one JSON object)')
    .option('--branch <branch>', "the branch whose feed to follow (main: the bucket's own)", 'main')
    .option('--from <cursor>', "start after this cursor (a line's first column); default: only events to come")
    .option('--count <n>', 'exit after printing this many events', parseCount)
    .action(
      action(async (door, json, bucket: string, opts: { branch: string; from?: string; count?: number }) =>
        tailEvents(door, json, bucket, opts),
      ),
    );
}
