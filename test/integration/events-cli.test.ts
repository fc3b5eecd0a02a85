/**
 * `anvil events tail` (issue 16), on both engines, against the database
 * directly and with --endpoint through the admin API: it prints events live,
 * in order, from a cursor, as text or JSON lines, and names the cursor to
 * resume from when the one given was pruned. Runs bin/anvil.js, which uses
 * dist/ (npm run build first).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { feed, feedEnd } from '../support/events.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/anvil.js');

type Mode = 'direct' | 'endpoint';

describeEachEngine('events: the command line', (engine) => {
  const t = useAnvil(engine, { buckets: ['tailed'] });

  function invocation(mode: Mode, args: string[]): { env: NodeJS.ProcessEnv; argv: string[] } {
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
    return { env, argv: [BIN, ...args, ...extra] };
  }

  /** Starts `anvil events tail …` and resolves with its output once it exits. */
  function tail(
    mode: Mode,
    args: string[],
  ): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
    const { env, argv } = invocation(mode, ['events', 'tail', ...args]);
    const child = spawn(process.execPath, argv, { env, cwd: mode === 'endpoint' ? '/' : undefined });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += String(d)));
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    );
    return { child, done };
  }

  for (const mode of ['direct', 'endpoint'] as const) {
    it(`prints events live and from a cursor (${mode})`, async () => {
      const start = await feedEnd(t, 'tailed');
      await t.s3.send(new PutObjectCommand({ Bucket: 'tailed', Key: `${mode}/before`, Body: 'x' }));
      // From a cursor: what came after it, then what comes next, live.
      const live = tail(mode, ['tailed', '--from', start, '--count', '3', '--json']);
      // Once it is following (it printed the first event), two more writes.
      await new Promise<void>((resolve) => live.child.stdout!.once('data', () => resolve()));
      await t.s3.send(new PutObjectCommand({ Bucket: 'tailed', Key: `${mode}/live1`, Body: 'y' }));
      await t.s3.send(new PutObjectCommand({ Bucket: 'tailed', Key: `${mode}/live2`, Body: 'z' }));
      const out = await live.done;
      expect(out.code, out.stderr).toBe(0);
      const events = out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(events.map((e) => [e.name, e.key])).toEqual([
        ['s3:ObjectCreated:Put', `${mode}/before`],
        ['s3:ObjectCreated:Put', `${mode}/live1`],
        ['s3:ObjectCreated:Put', `${mode}/live2`],
      ]);

      // Text: one line per event, the cursor first.
      const text = tail(mode, ['tailed', '--from', start, '--count', '1']);
      const lines = (await text.done).stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0].split('\t')[0]).toBe(events[0].cursor);
      expect(lines[0]).toContain(`s3:ObjectCreated:Put\t${mode}/before`);
    });
  }

  it('refuses a bad cursor and a missing bucket with a clear error', async () => {
    for (const mode of ['direct', 'endpoint'] as const) {
      const { env, argv } = invocation(mode, ['events', 'tail', 'tailed', '--from', 'yesterday']);
      const bad = await run(process.execPath, argv, { env, cwd: mode === 'endpoint' ? '/' : undefined }).catch((e) => e);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/invalid cursor/);
      const missing = invocation(mode, ['events', 'tail', 'no-such-bucket']);
      const gone = await run(process.execPath, missing.argv, { env: missing.env, cwd: mode === 'endpoint' ? '/' : undefined }).catch(
        (e) => e,
      );
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/no-such-bucket/);
    }
    expect((await feed(t, 'tailed')).status).toBe(200);
  });
});
