/**
 * Real s3cmd (Debian's package) against a real Anvil, configured through a
 * generated config file the way users write one for a non-AWS endpoint:
 * mb, a 20 MiB multipart put, get, ls, la, sync both ways, info, del, rb —
 * with the bytes and listings checked, not just exit codes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { cleanEnv, fileExists, md5File, pythonCan, randomFile, requireTools, run, sha256File, treeDigest } from './tools.js';

const S3CMD = '/usr/bin/s3cmd';
const haveTools = requireTools(
  's3cmd',
  [
    { what: S3CMD, ok: fileExists(S3CMD) },
    { what: '/usr/bin/python3', ok: pythonCan('/usr/bin/python3', 'import S3.Config') },
  ],
  'apt-get install s3cmd',
);

const MiB = 1024 * 1024;

/** Non-directory lines of `s3cmd ls`/`la`: [size, url]. */
function objectLines(out: string): Array<[number, string]> {
  return out
    .split('\n')
    .map((l) => l.match(/^\d{4}-\d\d-\d\d \d\d:\d\d\s+(\d+)\s+(s3:\/\/.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => [Number(m[1]), m[2]]);
}

describeEachEngine('interop: s3cmd', (engine) => {
  const t = useAnvil(engine, { enabled: haveTools });
  let work: string;
  let cfg: string;
  let bigFile: string;

  beforeAll(async () => {
    if (!haveTools) return;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-s3cmd-'));
    const hostPort = new URL(t.endpoint).host;
    cfg = path.join(work, 's3cfg');
    fs.writeFileSync(
      cfg,
      [
        '[default]',
        `access_key = ${t.accessKeyId}`,
        `secret_key = ${t.secretAccessKey}`,
        `host_base = ${hostPort}`,
        `host_bucket = ${hostPort}`,
        'use_https = False',
        'signature_v2 = False',
        'bucket_location = us-east-1',
        'progress_meter = False',
        '',
      ].join('\n'),
    );
    bigFile = path.join(work, 'big.bin');
    randomFile(bigFile, 20 * MiB);
  });
  afterAll(async () => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const s3cmd = (...args: string[]) => run(S3CMD, ['-c', cfg, ...args], { env: cleanEnv(work), cwd: work });

  it.skipIf(!haveTools)('mb, put (20 MiB multipart), ls, la, info, get, del, rb', async () => {
    const mb = await s3cmd('mb', 's3://s3cmd-big');
    expect(mb.stdout).toContain("Bucket 's3://s3cmd-big/' created");

    // Random bytes can look like a file type to libmagic (an "MZ" start is a DOS executable): guess by extension only.
    const put = await s3cmd('put', '--multipart-chunk-size-mb=5', '--no-mime-magic', bigFile, 's3://s3cmd-big/dir/big.bin');
    expect(put.stdout).toContain("'s3://s3cmd-big/dir/big.bin'");
    // The server really holds a 4-part multipart object.
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 's3cmd-big', Key: 'dir/big.bin' }));
    expect(head.ContentLength).toBe(20 * MiB);
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-4"$/);

    const root = await s3cmd('ls', 's3://s3cmd-big');
    expect(root.stdout).toMatch(/^\s+DIR\s+s3:\/\/s3cmd-big\/dir\/$/m);
    expect(objectLines(root.stdout)).toEqual([]);
    const dir = await s3cmd('ls', 's3://s3cmd-big/dir/');
    expect(objectLines(dir.stdout)).toEqual([[20 * MiB, 's3://s3cmd-big/dir/big.bin']]);

    const buckets = await s3cmd('ls');
    expect(buckets.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d\s+s3:\/\/s3cmd-big$/m);
    const la = await s3cmd('la');
    expect(la.stdout).toMatch(/DIR\s+s3:\/\/s3cmd-big\/dir\/$/m);
    const laR = await s3cmd('la', '--recursive');
    expect(objectLines(laR.stdout)).toContainEqual([20 * MiB, 's3://s3cmd-big/dir/big.bin']);

    const info = await s3cmd('info', 's3://s3cmd-big/dir/big.bin');
    expect(info.stdout).toMatch(/File size:\s+20971520/);
    expect(info.stdout).toMatch(new RegExp(`MD5 sum:\\s+${md5File(bigFile)}`));
    expect(info.stdout).toMatch(/MIME type:\s+application\/octet-stream/);
    const binfo = await s3cmd('info', 's3://s3cmd-big');
    expect(binfo.stdout).toMatch(/Location:\s+us-east-1/);

    const down = path.join(work, 'big.down');
    await s3cmd('get', 's3://s3cmd-big/dir/big.bin', down);
    expect(fs.statSync(down).size).toBe(20 * MiB);
    expect(sha256File(down)).toBe(sha256File(bigFile));

    const del = await s3cmd('del', 's3://s3cmd-big/dir/big.bin');
    expect(del.stdout).toContain("delete: 's3://s3cmd-big/dir/big.bin'");
    const empty = await s3cmd('ls', '--recursive', 's3://s3cmd-big');
    expect(empty.stdout.trim()).toBe('');

    const rb = await s3cmd('rb', 's3://s3cmd-big');
    expect(rb.stdout).toContain("Bucket 's3://s3cmd-big/' removed");
    expect((await s3cmd('ls')).stdout).not.toContain('s3://s3cmd-big');
  });

  it.skipIf(!haveTools)('sync a tree up, back down into another folder, then propagate a change and a deletion', async () => {
    const src = path.join(work, 'tree');
    fs.mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'beta\n');
    fs.writeFileSync(path.join(src, 'sub', 'deeper', 'with space.txt'), 'gamma with spaces');
    fs.writeFileSync(path.join(src, 'sub', 'ünïcödé.txt'), 'unicode name');
    fs.writeFileSync(path.join(src, 'sub', 'random.bin'), crypto.randomBytes(300 * 1024));
    const expected = treeDigest(src);

    await s3cmd('mb', 's3://s3cmd-sync');
    const up = await s3cmd('sync', `${src}/`, 's3://s3cmd-sync/tree/');
    expect(up.stdout.match(/^upload: /gm)).toHaveLength(5);
    const listed = await t.s3.send(new ListObjectsV2Command({ Bucket: 's3cmd-sync' }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual(
      Object.keys(expected)
        .map((rel) => [`tree/${rel}`, fs.statSync(path.join(src, rel)).size])
        .sort((a, b) => Buffer.compare(Buffer.from(a[0] as string), Buffer.from(b[0] as string))),
    );
    const ls = await s3cmd('ls', '--recursive', 's3://s3cmd-sync/tree/');
    expect(
      objectLines(ls.stdout)
        .map(([, u]) => u)
        .sort(),
    ).toEqual(
      Object.keys(expected)
        .map((rel) => `s3://s3cmd-sync/tree/${rel}`)
        .sort(),
    );

    // Nothing changed: a second sync uploads nothing (it compared sizes and MD5s against the listing).
    const again = await s3cmd('sync', `${src}/`, 's3://s3cmd-sync/tree/');
    expect(again.stdout).not.toMatch(/^upload: /m);

    const back = path.join(work, 'back');
    fs.mkdirSync(back);
    const downSync = await s3cmd('sync', 's3://s3cmd-sync/tree/', `${back}/`);
    expect(downSync.stdout.match(/^download: /gm)).toHaveLength(5);
    expect(treeDigest(back)).toEqual(expected);

    // Change one file (same size, different bytes: only the MD5 tells), delete another, sync with --delete-removed.
    fs.writeFileSync(path.join(src, 'a.txt'), 'ALPHA\n');
    fs.rmSync(path.join(src, 'sub', 'b.txt'));
    const changed = await s3cmd('sync', '--delete-removed', `${src}/`, 's3://s3cmd-sync/tree/');
    expect(changed.stdout).toMatch(/^upload: .*a\.txt' -> 's3:\/\/s3cmd-sync\/tree\/a\.txt'/m);
    expect(changed.stdout).toContain("delete: 's3://s3cmd-sync/tree/sub/b.txt'");
    const back2 = path.join(work, 'back2');
    fs.mkdirSync(back2);
    await s3cmd('sync', 's3://s3cmd-sync/tree/', `${back2}/`);
    expect(treeDigest(back2)).toEqual(treeDigest(src));

    await s3cmd('del', '--recursive', '--force', 's3://s3cmd-sync/');
    expect((await t.s3.send(new ListObjectsV2Command({ Bucket: 's3cmd-sync' }))).KeyCount).toBe(0);
    await s3cmd('rb', 's3://s3cmd-sync');
  });

  it.skipIf(!haveTools)(
    'setacl --acl-public / --acl-private, put --acl-public, setpolicy and delpolicy are enforced for anonymous readers',
    async () => {
      const anon = (p: string) => fetch(`${t.endpoint}${p}`);
      await s3cmd('mb', 's3://s3cmd-acl');
      const file = path.join(work, 'acl.txt');
      fs.writeFileSync(file, 'made public by s3cmd');
      await s3cmd('put', file, 's3://s3cmd-acl/acl.txt');
      expect((await anon('/s3cmd-acl/acl.txt')).status).toBe(403);

      await s3cmd('setacl', '--acl-public', 's3://s3cmd-acl/acl.txt');
      const pub = await anon('/s3cmd-acl/acl.txt');
      expect([pub.status, await pub.text()]).toEqual([200, 'made public by s3cmd']);
      expect((await s3cmd('info', 's3://s3cmd-acl/acl.txt')).stdout).toMatch(/ACL:\s+\*anon\*: READ/);

      await s3cmd('setacl', '--acl-private', 's3://s3cmd-acl/acl.txt');
      expect((await anon('/s3cmd-acl/acl.txt')).status).toBe(403);
      expect((await s3cmd('info', 's3://s3cmd-acl/acl.txt')).stdout).not.toContain('*anon*');

      await s3cmd('put', '--acl-public', file, 's3://s3cmd-acl/born-public.txt');
      expect((await anon('/s3cmd-acl/born-public.txt')).status).toBe(200);

      const policyFile = path.join(work, 'policy.json');
      fs.writeFileSync(
        policyFile,
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::s3cmd-acl' }],
        }),
      );
      expect((await anon('/s3cmd-acl?list-type=2')).status).toBe(403);
      await s3cmd('setpolicy', policyFile, 's3://s3cmd-acl');
      expect(await (await anon('/s3cmd-acl?list-type=2')).text()).toContain('<Key>born-public.txt</Key>');
      await s3cmd('delpolicy', 's3://s3cmd-acl');
      expect((await anon('/s3cmd-acl?list-type=2')).status).toBe(403);
      await s3cmd('del', '--recursive', '--force', 's3://s3cmd-acl/');
      await s3cmd('rb', 's3://s3cmd-acl');
    },
  );
});
