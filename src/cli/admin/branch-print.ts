/**
 * How `anvil branch|commit|log|diff|merge|tag|revert` print answers: aligned
 * tables and short lines for people, the value itself with `--json` (the
 * admin API's JSON, the same from both doors).
 */
import type { BranchView, CommitView, ConflictView, DiffPageView, MergeView, SideView, TagView } from '../../admin/ops/branches.js';
import { print } from './print.js';

/** Rows under a header, each column as wide as its widest cell (the last one left ragged). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** 2025-01-02 10:00:00Z: an ISO time to the second. */
function when(isoTime: string): string {
  return isoTime.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function printBranches(json: boolean, list: BranchView[]): void {
  const rows = list.map((b) => [
    b.name,
    b.parent === null ? '-' : `${b.parent}${b.forkSeq === null ? '' : ` (seq ${b.forkSeq})`}`,
    b.headCommit ?? '-',
    `${b.depth}${b.flattened ? ' (flattened)' : ''}`,
    b.name === 'main' ? `${b.alias.slice(0, -'--main'.length)}, ${b.alias}` : b.alias,
  ]);
  print(json, list, table(['BRANCH', 'FROM', 'HEAD', 'DEPTH', 'S3 BUCKET'], rows));
}

export function printBranch(json: boolean, b: BranchView): void {
  const lines = [
    `branch ${b.name}  (S3: ${b.alias})`,
    `from:     ${b.parent === null ? '-' : `${b.parent} at seq ${b.forkSeq ?? '-'}`}`,
    `head:     ${b.headCommit === null ? '- (no commit yet)' : `commit ${b.headCommit}`}`,
    `depth:    ${b.depth}${b.flattened ? ' (flattened: reads stop at it)' : ''}`,
    `created:  ${when(b.createdAt)}${b.createdBy ? ` by ${b.createdBy}` : ''}`,
  ];
  print(json, b, lines.join('\n'));
}

export function printCreatedBranch(json: boolean, b: BranchView): void {
  print(
    json,
    b,
    `created branch ${b.name} from ${b.parent ?? 'main'} at commit ${b.headCommit ?? '-'}; S3 clients write to it as bucket ${b.alias}`,
  );
}

export function printDeleted(json: boolean, what: 'branch' | 'tag', bucket: string, name: string): void {
  print(json, { bucket, deleted: name, kind: what }, `deleted ${what} ${name} of ${bucket}`);
}

export function printCommit(json: boolean, c: CommitView): void {
  print(json, c, `[${c.branch ?? '?'} ${c.id}] ${c.message}\nread-only S3 bucket: ${c.alias}`);
}

/** `git log --oneline`, with the parents, author and time of each commit. */
export function printLog(json: boolean, commits: CommitView[]): void {
  if (commits.length === 0) {
    print(json, commits, '(no commits yet)');
    return;
  }
  const rows = commits.map((c) => [
    c.id,
    c.branch ?? '-',
    c.parents.length === 0 ? '-' : c.parents.join(','),
    c.author || '-',
    when(c.createdAt),
    c.message,
  ]);
  print(json, commits, table(['COMMIT', 'BRANCH', 'PARENTS', 'AUTHOR', 'TIME', 'MESSAGE'], rows));
}

const CHANGE = { added: 'A', changed: 'M', removed: 'D' } as const;

/** `A key`, `M key`, `D key`; with a limit that cut the list, where to go on. */
export function printDiff(json: boolean, from: string, to: string, page: DiffPageView): void {
  const lines = page.entries.map((e) => `${CHANGE[e.change]} ${e.key}`);
  if (lines.length === 0) lines.push(`(no differences from ${from} to ${to})`);
  if (page.nextAfter !== undefined) lines.push(`(more: --after ${JSON.stringify(page.nextAfter)})`);
  print(json, page, lines.join('\n'));
}

function side(s: SideView | undefined, missing: string): string {
  return s ? `${s.etag} (${s.size} B)` : missing;
}

function conflictTable(conflicts: ConflictView[]): string {
  return table(
    ['KEY', 'BASE', 'SOURCE', 'DEST'],
    conflicts.map((c) => [c.key, side(c.base, '(none)'), side(c.source, '(deleted)'), side(c.dest, '(deleted)')]),
  );
}

/**
 * A merge or revert: what was applied and the commit made, or the conflicts
 * (nothing applied; the exit code is 1 and stderr says how to resolve them).
 */
export function printMerge(json: boolean, m: MergeView, what: { verb: 'merge' | 'revert'; source: string; into: string }): void {
  if (m.status === 'conflicts') {
    print(json, m, conflictTable(m.conflicts));
    process.stderr.write(
      `${m.conflicts.length} conflicting key${m.conflicts.length === 1 ? '' : 's'}` +
        `${m.base ? ` (base ${m.base})` : ''}; nothing was applied. ` +
        `Choose a side for all of them with --strategy source-wins or --strategy dest-wins.\n`,
    );
    process.exitCode = 1;
    return;
  }
  const base = `${m.base === null ? 'no common base' : `base ${m.base}`}${m.bases > 1 ? ` (of ${m.bases} best common ancestors: a criss-cross)` : ''}`;
  if (m.status === 'up-to-date') {
    print(json, m, `${what.into} already has everything of ${what.source}: nothing to ${what.verb} (${base})`);
    return;
  }
  const done = what.verb === 'merge' ? `merged ${what.source} into ${what.into}` : `reverted ${what.source} on ${what.into}`;
  const commit = m.commit ? `; commit ${m.commit.id} (S3: ${m.commit.alias})` : '';
  print(json, m, `${done}: ${m.applied} key${m.applied === 1 ? '' : 's'} written${commit}; ${base}`);
}

export function printTag(json: boolean, t: TagView): void {
  print(json, t, `tagged commit ${t.commit} as ${t.name}; read-only S3 bucket: ${t.alias}`);
}

export function printTags(json: boolean, list: TagView[]): void {
  if (list.length === 0) {
    print(json, list, '(no tags)');
    return;
  }
  const rows = list.map((t) => [t.name, t.commit, t.alias, when(t.createdAt), t.createdBy || '-']);
  print(json, list, table(['TAG', 'COMMIT', 'S3 BUCKET', 'CREATED', 'BY'], rows));
}
