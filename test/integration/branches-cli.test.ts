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
      expect(table).toMatch(new RegExp(`^dev\\s+main@\\d+\\s+${created.headCommit}\\s+1\\s+${b}--dev$`, 'm'));

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
  }
});
