/** `anvil admin bucket|backend|status …`: both doors. */
import type { Command } from 'commander';

import type { KeyVersionsPage } from '../../admin/ops/buckets.js';
import { parseSize } from '../../config/units.js';
import { action, parseObjects, quotaOption } from './action.js';
import type { AdminDoor } from './door.js';
import {
  printBackends,
  printBucket,
  printBucketDeletion,
  printBuckets,
  printDrain,
  printKeyVersions,
  printRebalance,
  printRemoved,
  printReplication,
  printStatus,
  printUndrain,
} from './print.js';

/** `N` or `default` (null). */
function parseReplication(value: string): number | null {
  if (value === 'default') return null;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new Error(`replication must be a positive integer or "default", not ${JSON.stringify(value)}`);
  return Number(value);
}

/** A positive integer option. */
function parseCount(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(value)}`);
  return Number(value);
}

/** Versions per request: the API's page size at most. */
const VERSIONS_PAGE = 1000;

/** A key's versions newest first, page after page until `limit` of them (all without one). */
async function collectVersions(
  door: AdminDoor,
  bucket: string,
  key: string,
  opts: { after?: string; limit?: number },
): Promise<KeyVersionsPage> {
  let page = await door.keyVersions(bucket, key, { after: opts.after, limit: Math.min(VERSIONS_PAGE, opts.limit ?? VERSIONS_PAGE) });
  const versions = [...page.versions];
  while (page.isTruncated && page.nextVersionIdMarker !== undefined && (opts.limit === undefined || versions.length < opts.limit)) {
    const limit = Math.min(VERSIONS_PAGE, opts.limit === undefined ? VERSIONS_PAGE : opts.limit - versions.length);
    page = await door.keyVersions(bucket, key, { after: page.nextVersionIdMarker, limit });
    versions.push(...page.versions);
  }
  return { ...page, versions };
}

export function registerStorageCommands(admin: Command): void {
  const bucket = admin.command('bucket').description('buckets');
  bucket
    .command('list')
    .description('buckets with their versioning, Object Lock and usage (objects, noncurrent versions, delete markers)')
    .option('--tenant <name>', 'only this tenant')
    .action(action(async (door, json, opts: { tenant?: string }) => printBuckets(json, await door.listBuckets(opts.tenant))));
  bucket
    .command('show <name>')
    .description('a bucket: owner, settings, versioning, Object Lock, usage with the versions and delete markers it keeps')
    .action(action(async (door, json, name: string) => printBucket(json, await door.showBucket(name))));
  bucket
    .command('versions <bucket> <key>')
    .description("a key's history, newest first: version id, latest, delete marker, size, ETag, last modified, retention, legal hold")
    .option('--limit <n>', 'at most this many versions (default: all)')
    .option('--after <version-id>', 'start after this version (the "more: --after" of a page cut by --limit)')
    .action(
      action(async (door, json, name: string, key: string, opts: { limit?: string; after?: string }) =>
        printKeyVersions(
          json,
          await collectVersions(door, name, key, {
            after: opts.after,
            limit: opts.limit === undefined ? undefined : parseCount('--limit', opts.limit),
          }),
        ),
      ),
    );
  bucket
    .command('delete <name>')
    .description('delete a bucket; with --force, a background task deletes everything in it first')
    .option('--force', 'delete the contents too (asynchronously, by the running server)')
    .action(
      action(async (door, json, name: string, opts: { force?: boolean }) =>
        printBucketDeletion(json, await door.deleteBucket(name, Boolean(opts.force))),
      ),
    );
  bucket
    .command('set-replication <name> <replicas>')
    .description('replicas of each new object of a bucket: a number (at most the backends configured), or "default"')
    .action(
      action(async (door, json, name: string, value: string) =>
        printReplication(json, await door.setBucketReplication(name, parseReplication(value))),
      ),
    );
  bucket
    .command('set-quota <name>')
    .description("a bucket's storage quota: every stored version (and parts of uploads in progress) counts")
    .option('--bytes <size>', 'bytes at most: 10GiB, 500MB…, or "none"')
    .option('--objects <n>', 'stored versions at most, or "none"')
    .action(
      action(async (door, json, name: string, opts: { bytes?: string; objects?: string }) => {
        const quota = {
          bytes: quotaOption('--bytes', opts.bytes, parseSize),
          objects: quotaOption('--objects', opts.objects, parseObjects),
        };
        if (quota.bytes === undefined && quota.objects === undefined) throw new Error('give --bytes, --objects or both');
        printBucket(json, await door.setBucketQuota(name, quota));
      }),
    );

  const backend = admin.command('backend').description('storage backends (declared in the config file): usage, draining, removal');
  backend
    .command('list')
    .description('every backend: quota, stored bytes, replicas, draining, health, breaker, monthly counters, drain progress')
    .action(action(async (door, json) => printBackends(json, await door.listBackends())));
  backend
    .command('drain <name>')
    .description('stop placing new blobs on a backend and move its replicas elsewhere (a running server does the moving)')
    .action(action(async (door, json, name: string) => printDrain(json, await door.drainBackend(name))));
  backend
    .command('rebalance')
    .description(
      'move replicas from the fullest backends to the emptiest until their fill ratios are close (a running server does the moving)',
    )
    .option('--tolerance <ratio>', 'stop when fill ratios differ by at most this (0 to 1)', '0.05')
    .action(action(async (door, json, opts: { tolerance: string }) => printRebalance(json, await door.rebalance(opts.tolerance))));
  backend
    .command('undrain <name>')
    .description('let a backend take new blobs again (a drain not yet finished is cancelled)')
    .action(action(async (door, json, name: string) => printUndrain(json, await door.undrainBackend(name))));
  backend
    .command('remove <name>')
    .description(
      'forget a backend once it holds no replicas (drain it first); then delete it from the config file. ' +
        'With --force, forget the replicas still on it: the scrub re-replicates their blobs from other replicas',
    )
    .option('--force', 'forget replicas still on it (blobs with no other replica are lost)')
    .action(
      action(async (door, json, name: string, opts: { force?: boolean }) =>
        printRemoved(json, await door.removeBackend(name, Boolean(opts.force))),
      ),
    );

  admin
    .command('status')
    .description('server version, region, engine and counts (tenants, buckets, task and cleanup backlogs)')
    .action(action(async (door, json) => printStatus(json, await door.status())));
}
