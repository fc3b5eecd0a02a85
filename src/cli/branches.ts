/**
 * `anvil branch|commit|log|diff|merge|tag|revert`: git for a bucket
 * (ARCHITECTURE.md § Branches). Like `anvil admin` (admin.ts), each command
 * is written once against a door (cli/admin/door.ts): the database directly
 * (the default; the same --data-dir / --database-url / --config as the
 * server, an existing deployment only) or, with --endpoint, the admin API
 * of a running server (/admin/v1/buckets/:bucket/branches|commits|tags|diff).
 *
 * A merge or revert that meets conflicts lists them, applies nothing and
 * exits with code 1.
 */
import { type Command, Option } from 'commander';

import type { DiffPageView, MergeStrategy } from '../admin/ops/branches.js';
import { action } from './admin/action.js';
import {
  printBranch,
  printBranches,
  printCommit,
  printCreatedBranch,
  printDeleted,
  printDiff,
  printLog,
  printMerge,
  printTag,
  printTags,
} from './admin/branch-print.js';
import type { AdminDoor } from './admin/door.js';
import { doorFlags } from './flags.js';

const HELP = `
Without --endpoint, commands open the metadata database directly (the same
--data-dir / --database-url / --master-key / --config as the server). With
--endpoint, they call the admin API (/admin/v1/) of a running server, signed
with SigV4; --region (env ANVIL_REGION) must be the server's region.

A ref is a branch (its present), a tag, a commit id, or any of them as of a
time: REF@<ISO 8601 time>. S3 clients address a branch as the bucket
BUCKET--BRANCH (main is BUCKET itself), a tag as BUCKET--TAG and a commit as
BUCKET--c<ID>; tags and commits are read-only. The bucket must have
versioning Enabled.`;

/** A whole number from `min` to `max`. */
function parseCount(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new Error(
      `${name} must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}, not ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

const strategyOption = () =>
  new Option('--strategy <strategy>', 'fail: list conflicts and apply nothing; source-wins / dest-wins: take that side of each conflict')
    .choices(['fail', 'source-wins', 'dest-wins'])
    .default('fail');

/** Differences per request: the API's page size at most. */
const DIFF_PAGE = 1000;

/** Every difference, page after page, until `limit` of them (all without one). */
async function collectDiff(
  door: AdminDoor,
  bucket: string,
  from: string,
  to: string,
  opts: { after?: string; limit?: number },
): Promise<DiffPageView> {
  const size = () => Math.min(DIFF_PAGE, opts.limit === undefined ? DIFF_PAGE : opts.limit - entries.length);
  const entries: DiffPageView['entries'] = [];
  let page = await door.diff(bucket, from, to, { after: opts.after, limit: size() });
  entries.push(...page.entries);
  while (page.nextAfter !== undefined && (opts.limit === undefined || entries.length < opts.limit)) {
    page = await door.diff(bucket, from, to, { after: page.nextAfter, limit: size() });
    entries.push(...page.entries);
  }
  return page.nextAfter === undefined ? { entries } : { entries, nextAfter: page.nextAfter };
}

/** The door's flags (after the command's own, in --help) and the note on doors and aliases. */
function withDoor(cmd: Command): Command {
  return doorFlags(cmd).addHelpText('after', HELP);
}

export function registerBranchCommands(program: Command): void {
  const branch = withDoor(program.command('branch').description("a bucket's branches: list, show, create, delete"));
  branch
    .command('list <bucket>')
    .description('the branches of a bucket (main first): where each was made from, its head commit, depth and S3 bucket name')
    .action(action(async (door, json, bucket: string) => printBranches(json, await door.listBranches(bucket))));
  branch
    .command('show <bucket> <branch>')
    .description('one branch')
    .action(action(async (door, json, bucket: string, name: string) => printBranch(json, await door.showBranch(bucket, name))));
  branch
    .command('create <bucket> <branch>')
    .description('make a branch (O(1): nothing is copied); it reads through its parent as of the fork')
    .option('--from <ref>', 'a branch (its head), a tag, a commit, or REF@<time>', 'main')
    .action(
      action(async (door, json, bucket: string, name: string, opts: { from: string }) =>
        printCreatedBranch(json, await door.createBranch(bucket, name, opts.from)),
      ),
    );
  branch
    .command('delete <bucket> <branch>')
    .description('delete a branch with its commits and the versions written on it (not main, not one others were made from or with tags)')
    .action(
      action(async (door, json, bucket: string, name: string) => {
        await door.deleteBranch(bucket, name);
        printDeleted(json, 'branch', bucket, name);
      }),
    );

  withDoor(
    program
      .command('commit <bucket> <branch>')
      .description("commit a branch's present state (O(1): a commit names a point in its history)")
      .requiredOption('-m, --message <text>', 'the commit message'),
  ).action(
    action(async (door, json, bucket: string, name: string, opts: { message: string }) =>
      printCommit(json, await door.commit(bucket, name, opts.message)),
    ),
  );

  withDoor(
    program
      .command('log <bucket> [ref]')
      .description('the commits reachable from a branch, tag or commit (default main), newest first: parents, author, time, message')
      .option('--limit <n>', 'at most this many commits (1 to 1000)', '100'),
  ).action(
    action(async (door, json, bucket: string, ref: string | undefined, opts: { limit: string }) =>
      printLog(json, await door.log(bucket, ref ?? 'main', parseCount('--limit', opts.limit, 1, 1000))),
    ),
  );

  withDoor(
    program
      .command('diff <bucket> <from> <to>')
      .description('keys added (A), changed (M) and deleted (D) from one ref (branch, tag or commit) to another')
      .option('--limit <n>', 'at most this many keys (default: all)')
      .option('--after <key>', 'start after this key (the "more: --after" of a list cut by --limit)'),
  ).action(
    action(async (door, json, bucket: string, from: string, to: string, opts: { limit?: string; after?: string }) =>
      printDiff(
        json,
        from,
        to,
        await collectDiff(door, bucket, from, to, {
          after: opts.after,
          limit: opts.limit === undefined ? undefined : parseCount('--limit', opts.limit, 1),
        }),
      ),
    ),
  );

  withDoor(
    program
      .command('merge <bucket> <source>')
      .description('three-way merge of a ref into a branch; conflicts are listed, nothing is applied and the exit code is 1')
      .requiredOption('--into <branch>', 'the branch to merge into')
      .addOption(strategyOption())
      .option('-m, --message <text>', 'the merge commit\'s message (default "Merge SOURCE into BRANCH")'),
  ).action(
    action(async (door, json, bucket: string, source: string, opts: { into: string; strategy: MergeStrategy; message?: string }) =>
      printMerge(json, await door.merge(bucket, source, opts.into, { strategy: opts.strategy, message: opts.message }), {
        verb: 'merge',
        source,
        into: opts.into,
      }),
    ),
  );

  const tag = withDoor(program.command('tag').description("a bucket's tags: immutable, read-only names of commits"));
  tag
    .command('create <bucket> <tag>')
    .description("tag a commit, or a branch's head (committed first if it changed)")
    .option('--at <ref>', 'a branch, tag or commit', 'main')
    .action(
      action(async (door, json, bucket: string, name: string, opts: { at: string }) =>
        printTag(json, await door.createTag(bucket, name, opts.at)),
      ),
    );
  tag
    .command('list <bucket>')
    .description('the tags of a bucket')
    .action(action(async (door, json, bucket: string) => printTags(json, await door.listTags(bucket))));
  tag
    .command('delete <bucket> <tag>')
    .description('delete a tag (its commit stays while a branch reaches it)')
    .action(
      action(async (door, json, bucket: string, name: string) => {
        await door.deleteTag(bucket, name);
        printDeleted(json, 'tag', bucket, name);
      }),
    );

  withDoor(
    program
      .command('revert <bucket> <branch> <commit>')
      .description("undo a commit's changes on a branch (a merge of its parent against it); conflicts as for merge")
      .option('--parent <n>', 'for a merge commit: which parent to go back to (0, 1, …)')
      .addOption(strategyOption()),
  ).action(
    action(async (door, json, bucket: string, into: string, commit: string, opts: { parent?: string; strategy: MergeStrategy }) =>
      printMerge(
        json,
        await door.revert(bucket, into, commit, {
          strategy: opts.strategy,
          parent: opts.parent === undefined ? undefined : parseCount('--parent', opts.parent, 0),
        }),
        { verb: 'revert', source: commit, into },
      ),
    ),
  );
}
