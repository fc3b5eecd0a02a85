/**
 * `anvil branch|commit|log|diff|merge|tag|revert` (issue 15), on both
 * engines, against the database directly and with --endpoint through the
 * admin API, text and --json: a whole flow from branch create to branch
 * delete, with S3 writes through the branch alias in between. Runs
 * bin/anvil.js, which uses dist/ (npm run build first).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { CreateBucketCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/anvil.js');

type Mode = 'direct' | 'endpoint';
const MODES: Mode[] = ['direct', 'endpoint'];

/** The whole flow spawns some twenty CLI processes: room for a loaded CI machine (vitest's default is 60 s). */
const FLOW_TIMEOUT_MS = 240_000;

describeEachEngine('branches: the command line', (engine) => {
  const t = useAnvil(engine);

  /** `anvil …` against the database (direct) or the admin API (--endpoint); never throws on an exit code. */
  async function anvil(mode: Mode, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, ANVIL_REGION: t.config.region };
    for (const name of ['ANVIL_ENDPOINT', 'ANVIL_ACCESS_KEY', 'ANVIL_SECRET_KEY', 'ANVIL_ROOT_ACCESS_KEY', 'ANVIL_ROOT_SECRET_KEY'])
      delete env[name];
    const extra: string[] = [];
    if (mode === 'direct') {
      env.ANVIL_DATA_DIR = t.dataDir;
      env.ANVIL_DATABASE_URL = t.config.databaseUrl;
    } else {
      delete env.ANVIL_DATA_DIR;
      delete env.ANVIL_DATABASE_URL;
      extra.push('--endpoint', t.endpoint, '--auth-access-key', t.accessKeyId, '--auth-secret-key', t.secretAccessKey);
    }
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args, ...extra], {
        env,
        cwd: mode === 'endpoint' ? '/' : undefined,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      if (typeof e.code !== 'number') throw err;
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /** The command's --json answer; it must succeed. */
  async function json(mode: Mode, args: string[]): Promise<any> {
    const r = await anvil(mode, [...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  }

  /** The command's text answer; it must succeed. */
  async function text(mode: Mode, args: string[]): Promise<string> {
    const r = await anvil(mode, args);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  }

  async function versionedBucket(name: string): Promise<string> {
    await t.s3.send(new CreateBucketCommand({ Bucket: name }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    return name;
  }
  const put = (b: string, key: string, body: string) => t.s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
  async function get(b: string, key: string): Promise<string | null> {
    try {
      return await (await t.s3.send(new GetObjectCommand({ Bucket: b, Key: key }))).Body!.transformToString();
    } catch (err) {
      if ((err as Error).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  for (const mode of MODES) {
    it(`${mode}: branch create, list and show`, async () => {
      const b = await versionedBucket(`bcli-${mode}-list`);
      await put(b, 'k', 'v');
      const created = await json(mode, ['branch', 'create', b, 'dev', '--from', 'main']);
      expect(created).toMatchObject({ name: 'dev', parent: 'main', depth: 1, flattened: false, alias: `${b}--dev` });
      expect(created.headCommit).toMatch(/^[0-9a-f]{12}$/);
      expect(await text(mode, ['branch', 'create', b, 'feature'])).toMatch(new RegExp(`created branch feature from main .*${b}--feature`));

      const list = await json(mode, ['branch', 'list', b]);
      expect(list.map((x: any) => x.name)).toEqual(['main', 'dev', 'feature']);
      const table = await text(mode, ['branch', 'list', b]);
      expect(table.split('\n')[0]).toMatch(/^BRANCH\s+FROM\s+HEAD\s+DEPTH\s+S3 BUCKET$/);
      expect(table).toMatch(new RegExp(`^dev\\s+main \\(seq \\d+\\)\\s+${created.headCommit}\\s+1\\s+${b}--dev$`, 'm'));

      expect(await json(mode, ['branch', 'show', b, 'dev'])).toMatchObject({ name: 'dev', headCommit: created.headCommit });
      expect(await text(mode, ['branch', 'show', b, 'dev'])).toContain(`branch dev  (S3: ${b}--dev)`);

      // Errors: exit code 1 and a message naming the problem; nothing is made.
      const missing = await anvil(mode, ['branch', 'show', b, 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/no branch "nope"/);
      const taken = await anvil(mode, ['branch', 'create', b, 'dev']);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toMatch(/already has a branch or tag named "dev"/);
      await t.s3.send(new CreateBucketCommand({ Bucket: `bcli-${mode}-plain` }));
      const plain = await anvil(mode, ['branch', 'create', `bcli-${mode}-plain`, 'dev']);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(/enable versioning/);
      expect((await json(mode, ['branch', 'list', b])).length).toBe(3);
      expect(await get(`${b}--dev`, 'k')).toBe('v');
    });

    it(
      `${mode}: create → write on the alias → commit → log → diff → merge → tag → revert → delete`,
      async () => {
        const b = await versionedBucket(`bcli-${mode}-flow`);
        await put(b, 'a', 'a1');
        await put(b, 'x', 'base');
        await put(b, 'keep', 'k');
        const dev = await json(mode, ['branch', 'create', b, 'dev', '--from', 'main']);

        // Any S3 client writes to the branch through its alias; main does not see it.
        await put(`${b}--dev`, 'a', 'a2');
        await put(`${b}--dev`, 'new', 'n');
        await put(`${b}--dev`, 'x', 'dev');
        await put(b, 'x', 'main');
        expect(await get(b, 'new')).toBeNull();
        expect(await get(`${b}--dev`, 'keep')).toBe('k');

        const commit = await json(mode, ['commit', b, 'dev', '-m', 'new thumbnails']);
        expect(commit).toMatchObject({ branch: 'dev', message: 'new thumbnails', parents: [dev.headCommit] });
        expect(commit.alias).toBe(`${b}--c${commit.id}`);
        expect(commit.author).toMatch(mode === 'direct' ? /^cli(:|$)/ : new RegExp(`^key:${t.accessKeyId}$`));
        expect(await get(commit.alias, 'new')).toBe('n');
        await put(`${b}--dev`, 'later', 'l');
        // Writing what the branch already shows is no change (diff and merge compare content).
        await put(`${b}--dev`, 'keep', 'k');
        const second = await text(mode, ['commit', b, 'dev', '--message', 'later work']);
        expect(second).toMatch(/^\[dev ([0-9a-f]{12})\] later work\n/);
        const secondId = /^\[dev ([0-9a-f]{12})\]/.exec(second)![1];

        // log: newest first, with parents, author and message.
        const log = await json(mode, ['log', b, 'dev']);
        expect(log.map((c: any) => c.message)).toEqual(['later work', 'new thumbnails', expect.stringMatching(/^branch dev/)]);
        expect(log[2]).toMatchObject({ id: dev.headCommit, branch: 'main' });
        expect(log[0]).toMatchObject({ id: secondId, parents: [commit.id] });
        expect(await json(mode, ['log', b, 'dev', '--limit', '1'])).toHaveLength(1);
        const logText = await text(mode, ['log', b, 'dev']);
        const lines = logText.trimEnd().split('\n');
        expect(lines[0]).toMatch(/^COMMIT\s+BRANCH\s+PARENTS\s+AUTHOR\s+TIME\s+MESSAGE$/);
        expect(lines[1]).toMatch(
          new RegExp(`^${secondId}\\s+dev\\s+${commit.id}\\s+\\S+\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+later work$`),
        );
        expect(lines).toHaveLength(4);
        const badLimit = await anvil(mode, ['log', b, 'dev', '--limit', '0']);
        expect(badLimit.code).toBe(1);
        expect(badLimit.stderr).toMatch(/--limit must be a whole number from 1 to 1000/);

        // diff: every page unless --limit; A, M, D.
        const diff = await json(mode, ['diff', b, 'main', 'dev']);
        expect(diff.entries.map((e: any) => [e.key, e.change])).toEqual([
          ['a', 'changed'],
          ['later', 'added'],
          ['new', 'added'],
          ['x', 'changed'],
        ]);
        expect(diff.nextAfter).toBeUndefined();
        expect(await text(mode, ['diff', b, 'main', 'dev'])).toBe('M a\nA later\nA new\nM x\n');
        expect(await text(mode, ['diff', b, 'dev', 'main'])).toBe('M a\nD later\nD new\nM x\n');
        const cut = await json(mode, ['diff', b, 'main', 'dev', '--limit', '2']);
        expect(cut.entries.map((e: any) => e.key)).toEqual(['a', 'later']);
        expect(cut.nextAfter).toBe('later');
        expect(await text(mode, ['diff', b, 'main', 'dev', '--limit', '2', '--after', 'later'])).toBe('A new\nM x\n');
        expect(await text(mode, ['diff', b, 'main', 'dev', '--limit', '1'])).toBe('M a\n(more: --after "a")\n');
        expect(await text(mode, ['diff', b, 'dev', commit.alias.slice(b.length + 2)])).toBe('D later\n');

        // merge: a conflict (x changed on both sides) is listed, exit code 1, nothing applied.
        const conflict = await anvil(mode, ['merge', b, 'dev', '--into', 'main', '--json']);
        expect(conflict.code).toBe(1);
        const outcome = JSON.parse(conflict.stdout);
        expect(outcome.status).toBe('conflicts');
        expect(outcome.base).toBe(dev.headCommit);
        expect(outcome.conflicts).toHaveLength(1);
        expect(outcome.conflicts[0]).toMatchObject({ key: 'x' });
        for (const side of ['base', 'source', 'dest']) expect(outcome.conflicts[0][side].etag).toMatch(/^[0-9a-f]{32}$/);
        const conflictText = await anvil(mode, ['merge', b, 'dev', '--into', 'main']);
        expect(conflictText.code).toBe(1);
        expect(conflictText.stdout).toMatch(
          /^KEY\s+BASE\s+SOURCE\s+DEST\nx\s+[0-9a-f]{32} \(4 B\)\s+[0-9a-f]{32} \(3 B\)\s+[0-9a-f]{32} \(4 B\)\n$/,
        );
        expect(conflictText.stderr).toMatch(/1 conflicting key .*nothing was applied.*--strategy source-wins/);
        expect(await get(b, 'a')).toBe('a1');
        expect(await get(b, 'new')).toBeNull();
        expect(await get(b, 'x')).toBe('main');

        // Main's own work committed, so the merge commit's first parent is main just before the merge.
        const mainWork = await json(mode, ['commit', b, 'main', '-m', 'main work']);
        const merged = await json(mode, ['merge', b, 'dev', '--into', 'main', '--strategy', 'source-wins', '-m', 'ship dev']);
        expect(merged).toMatchObject({ status: 'merged', applied: 4, base: dev.headCommit, bases: 1 });
        expect(merged.commit).toMatchObject({ branch: 'main', message: 'ship dev' });
        expect(merged.commit.parents).toEqual(expect.arrayContaining([mainWork.id, secondId]));
        expect(merged.commit.parents).toHaveLength(2);
        expect(await get(b, 'x')).toBe('dev');
        expect(await get(b, 'new')).toBe('n');
        expect(await text(mode, ['merge', b, 'dev', '--into', 'main'])).toMatch(/^main already has everything of dev: nothing to merge/);
        const badStrategy = await anvil(mode, ['merge', b, 'dev', '--into', 'main', '--strategy', 'ours']);
        expect(badStrategy.code).toBe(1);
        expect(badStrategy.stderr).toMatch(/Allowed choices are fail, source-wins, dest-wins/);

        // tag: a read-only name of the merge.
        const tag = await json(mode, ['tag', 'create', b, 'v1', '--at', 'main']);
        expect(tag).toMatchObject({ name: 'v1', commit: merged.commit.id, alias: `${b}--v1` });
        expect(await get(`${b}--v1`, 'x')).toBe('dev');
        expect(await text(mode, ['tag', 'create', b, 'v0', '--at', 'dev'])).toBe(
          `tagged commit ${secondId} as v0; read-only S3 bucket: ${b}--v0\n`,
        );
        expect((await json(mode, ['tag', 'list', b])).map((x: any) => [x.name, x.commit])).toEqual([
          ['v0', secondId],
          ['v1', merged.commit.id],
        ]);
        expect(await text(mode, ['tag', 'list', b])).toMatch(new RegExp(`^v1\\s+${merged.commit.id}\\s+${b}--v1\\s`, 'm'));

        // revert the merge (back to main's side, parent 0): a merge commit needs --parent.
        const noParent = await anvil(mode, ['revert', b, 'main', merged.commit.id]);
        expect(noParent.code).toBe(1);
        expect(noParent.stderr).toMatch(/is a merge: name the parent/);
        const mainParent = merged.commit.parents.indexOf(mainWork.id);
        const reverted = await text(mode, ['revert', b, 'main', merged.commit.id, '--parent', String(mainParent)]);
        expect(reverted).toMatch(
          new RegExp(`^reverted ${merged.commit.id} on main: 4 keys written; commit ([0-9a-f]{12}) \\(S3: ${b}--c\\1\\)`),
        );
        expect(await get(b, 'a')).toBe('a1');
        expect(await get(b, 'x')).toBe('main');
        expect(await get(b, 'new')).toBeNull();
        // The tag still shows the merge.
        expect(await get(`${b}--v1`, 'new')).toBe('n');
        expect((await json(mode, ['log', b, 'main', '--limit', '1']))[0].message).toBe(`Revert "ship dev" (${merged.commit.id})`);

        // delete: tags on dev's commits keep it; then it goes, main stays.
        const held = await anvil(mode, ['branch', 'delete', b, 'dev']);
        expect(held.code).toBe(1);
        expect(held.stderr).toMatch(/Tags name commits of dev/);
        expect(await json(mode, ['tag', 'delete', b, 'v0'])).toEqual({ bucket: b, deleted: 'v0', kind: 'tag' });
        expect(await text(mode, ['branch', 'delete', b, 'dev'])).toBe(`deleted branch dev of ${b}\n`);
        expect((await json(mode, ['branch', 'list', b])).map((x: any) => x.name)).toEqual(['main']);
        expect(await get(b, 'keep')).toBe('k');
        const gone = await anvil(mode, ['log', b, 'dev']);
        expect(gone.code).toBe(1);
      },
      FLOW_TIMEOUT_MS,
    );
  }
});
