/**
 * Real clients against a real Anvil: the aws CLI and rclone from Debian's
 * packages upload, list, download and delete a 100 MiB file (multipart for
 * the aws CLI), and the bytes must come back identical.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';

const exec = promisify(execFile);
const AWS = '/usr/bin/aws';
const RCLONE = '/usr/bin/rclone';
const haveTools = fs.existsSync(AWS) && fs.existsSync(RCLONE);
if (!haveTools) {
  const msg = 'interop tests need /usr/bin/aws and /usr/bin/rclone (apt-get install awscli rclone)';
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`\n!!!! SKIPPED: ${msg}\n`);
}

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describeEachEngine('interop: aws CLI and rclone', (engine) => {
  const t = useAnvil(engine, { enabled: haveTools });
  let work: string;
  let bigFile: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    if (!haveTools) return;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-interop-'));
    bigFile = path.join(work, 'big.bin');
    const fd = fs.openSync(bigFile, 'w');
    for (let i = 0; i < 100; i++) fs.writeSync(fd, crypto.randomBytes(1024 * 1024));
    fs.closeSync(fd);
    env = {
      ...process.env,
      HOME: work,
      AWS_ACCESS_KEY_ID: t.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
    };
    delete env.AWS_CA_BUNDLE;
    delete env.AWS_PROFILE;
  });
  afterAll(async () => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const aws = (...args: string[]) => exec(AWS, ['--endpoint-url', t.endpoint, ...args], { env, maxBuffer: 1 << 24 });
  const rclone = (...args: string[]) =>
    exec(RCLONE, ['--config', '/dev/null', ...args], {
      env: {
        ...env,
        RCLONE_CONFIG_ANVIL_TYPE: 's3',
        RCLONE_CONFIG_ANVIL_PROVIDER: 'Other',
        RCLONE_CONFIG_ANVIL_ACCESS_KEY_ID: t.accessKeyId,
        RCLONE_CONFIG_ANVIL_SECRET_ACCESS_KEY: t.secretAccessKey,
        RCLONE_CONFIG_ANVIL_ENDPOINT: t.endpoint,
        RCLONE_CONFIG_ANVIL_REGION: 'us-east-1',
      },
      maxBuffer: 1 << 24,
    });

  it.skipIf(!haveTools)('aws CLI: mb, cp up (multipart) and down, ls, rm, rb with a 100 MiB file', async () => {
    await aws('s3', 'mb', 's3://awscli');
    await aws('s3', 'cp', bigFile, 's3://awscli/dir/big.bin');
    const ls = await aws('s3', 'ls', 's3://awscli/dir/');
    expect(ls.stdout).toMatch(/104857600 big\.bin/);
    const root = await aws('s3', 'ls', 's3://awscli/');
    expect(root.stdout).toContain('PRE dir/');
    const head = JSON.parse((await aws('s3api', 'head-object', '--bucket', 'awscli', '--key', 'dir/big.bin')).stdout);
    expect(head.ContentLength).toBe(104857600);
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-\d+"$/);
    const down = path.join(work, 'aws-down.bin');
    await aws('s3', 'cp', 's3://awscli/dir/big.bin', down);
    expect(sha256File(down)).toBe(sha256File(bigFile));
    await aws('s3', 'rm', 's3://awscli/dir/big.bin');
    const after = await aws('s3', 'ls', 's3://awscli/', '--recursive');
    expect(after.stdout.trim()).toBe('');
    await aws('s3', 'rb', 's3://awscli');
    const buckets = await aws('s3', 'ls');
    expect(buckets.stdout).not.toContain('awscli');
  });

  it.skipIf(!haveTools)(
    'rclone: multipart up, multi-thread down, lsjson, check, sync, moveto, delete, purge with a 100 MiB file',
    async () => {
      await rclone('mkdir', 'anvil:rclone');
      // Multipart upload (16 MiB chunks) instead of rclone's default single PUT below 200 MiB.
      await rclone('copyto', '--s3-upload-cutoff', '16M', '--s3-chunk-size', '16M', bigFile, 'anvil:rclone/data/big.bin');
      const etag = await t.anvil.services.objects.head((await t.anvil.services.buckets.get('rclone'))!, 'data/big.bin');
      expect(etag.partSizes.length).toBe(7);
      const listing = JSON.parse((await rclone('lsjson', '-R', 'anvil:rclone')).stdout) as Array<{
        Path: string;
        Size: number;
        IsDir: boolean;
      }>;
      expect(listing.filter((e) => !e.IsDir).map((e) => [e.Path, e.Size])).toEqual([['data/big.bin', 104857600]]);
      const down = path.join(work, 'rclone-down.bin');
      await rclone('copyto', '--multi-thread-cutoff', '10M', '--multi-thread-streams', '4', 'anvil:rclone/data/big.bin', down);
      expect(sha256File(down)).toBe(sha256File(bigFile));
      const src = path.join(work, 'tree');
      fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(src, 'a.txt'), 'alpha');
      fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'beta');
      await rclone('copy', src, 'anvil:rclone/tree');
      await rclone('check', src, 'anvil:rclone/tree');
      // sync: a changed file, a new one and a removed one all reach the bucket.
      fs.writeFileSync(path.join(src, 'a.txt'), 'alpha, changed');
      fs.writeFileSync(path.join(src, 'c.txt'), 'gamma');
      fs.rmSync(path.join(src, 'sub', 'b.txt'));
      await rclone('sync', src, 'anvil:rclone/tree');
      await rclone('check', src, 'anvil:rclone/tree');
      const synced = JSON.parse((await rclone('lsjson', '-R', '--files-only', 'anvil:rclone/tree')).stdout) as Array<{ Path: string }>;
      expect(synced.map((e) => e.Path).sort()).toEqual(['a.txt', 'c.txt']);
      await rclone('moveto', 'anvil:rclone/tree/c.txt', 'anvil:rclone/moved/c.txt');
      const moved = JSON.parse((await rclone('lsjson', '-R', '--files-only', 'anvil:rclone')).stdout) as Array<{ Path: string }>;
      expect(moved.map((e) => e.Path).sort()).toEqual(['data/big.bin', 'moved/c.txt', 'tree/a.txt']);
      await rclone('purge', 'anvil:rclone/moved');
      await rclone('delete', 'anvil:rclone');
      const empty = JSON.parse((await rclone('lsjson', '-R', 'anvil:rclone')).stdout) as Array<{ IsDir: boolean }>;
      expect(empty.filter((e) => !e.IsDir)).toEqual([]);
      await rclone('rmdir', 'anvil:rclone');
    },
  );
});
