/**
 * Branch, tag and commit aliases (issue 15) with unmodified real clients:
 * the aws CLI, rclone, s3cmd and boto3 from Debian's packages, and the AWS
 * SDK v3 in virtual-host style. Each writes to a branch (`bucket--dev`),
 * reads through a tag (`bucket--v1`, read-only: the 403 reaches the client
 * as its own error), and main is checked unchanged afterwards — its keys,
 * bytes and version history. A 63-character alias works end to end; a
 * branch name that would make it 64 is refused by the admin API.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';
import { cleanEnv, fileExists, pythonCan, requireTools, run, sha256File, treeDigest } from './tools.js';

const AWS = '/usr/bin/aws';
const RCLONE = '/usr/bin/rclone';
const S3CMD = '/usr/bin/s3cmd';
const PYTHON = '/usr/bin/python3';
const BOTO3_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'branches_boto3.py');
const haveTools = requireTools(
  'branch aliases',
  [
    { what: AWS, ok: fileExists(AWS) },
    { what: RCLONE, ok: fileExists(RCLONE) },
    { what: S3CMD, ok: fileExists(S3CMD) },
    { what: `${PYTHON} with boto3`, ok: pythonCan(PYTHON, 'import boto3') },
  ],
  'apt-get install awscli rclone s3cmd python3-boto3',
);

const sha256 = (data: string | Uint8Array) => crypto.createHash('sha256').update(data).digest('hex');

/** What main holds: every version (key, id, latest, etag) and the latest bodies' digests. */
interface MainState {
  versions: string[];
  bodies: Record<string, string>;
}

describeEachEngine('interop: branch aliases with real clients', (engine) => {
  const t = useAnvil(engine, { enabled: haveTools });
  let work: string;

  beforeAll(async () => {
    if (!haveTools) return;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-branch-clients-'));
  });
  afterAll(async () => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function api(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: any }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${pathAndQuery}`, {
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
    });
    const out = await res.text();
    return { status: res.status, json: out ? JSON.parse(out) : undefined };
  }

  async function text(bucket: string, key: string, s3: S3Client = t.s3): Promise<string> {
    return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  }

  async function keys(bucket: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const res = await t.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      out.push(...(res.Contents ?? []).map((c) => c.Key!));
      token = res.NextContinuationToken;
    } while (token);
    return out;
  }

  /**
   * A versioned bucket with seed.txt and shared/a.txt on main, branch `branch`
   * from main and tag v1 at main (the seed as it is now).
   */
  async function branchedBucket(bucket: string, branch = 'dev'): Promise<void> {
    await t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'seed.txt', Body: 'seed on main' }));
    await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'shared/a.txt', Body: 'shared a' }));
    const b = await api('POST', `/buckets/${bucket}/branches`, { name: branch, from: 'main' });
    expect(b.status, JSON.stringify(b.json)).toBe(201);
    expect(b.json.alias).toBe(`${bucket}--${branch}`);
    const tag = await api('POST', `/buckets/${bucket}/tags`, { name: 'v1', at: 'main' });
    expect(tag.status, JSON.stringify(tag.json)).toBe(201);
  }

  async function mainState(bucket: string): Promise<MainState> {
    const v = await t.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    const versions = [...(v.Versions ?? []), ...(v.DeleteMarkers ?? [])].map(
      (x) => `${x.Key}@${x.VersionId}:${x.IsLatest}:${'ETag' in x ? x.ETag : 'marker'}`,
    );
    const bodies: Record<string, string> = {};
    for (const k of await keys(bucket)) bodies[k] = sha256(await text(bucket, k));
    return { versions: versions.sort(), bodies };
  }

  /** Main as branchedBucket left it, before and after a client worked on the branch. */
  async function expectMainUnchanged(bucket: string, before: MainState): Promise<void> {
    expect(await mainState(bucket)).toEqual(before);
    expect(Object.keys(before.bodies)).toEqual(['seed.txt', 'shared/a.txt']);
    expect(await text(bucket, 'seed.txt')).toBe('seed on main');
  }

  // ------------------------------------------------------------------ aws CLI

  it.skipIf(!haveTools)('aws CLI: s3 cp/ls/sync on a branch, s3api list-object-versions through it, a tag read-only', async () => {
    const bucket = 'awscli-br';
    await branchedBucket(bucket);
    const before = await mainState(bucket);
    const env = cleanEnv(work, {
      AWS_ACCESS_KEY_ID: t.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: path.join(work, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'aws-credentials'),
      AWS_PAGER: '',
    });
    const aws = (...args: string[]) => run(AWS, ['--endpoint-url', t.endpoint, ...args], { env, cwd: work });

    const src = path.join(work, 'aws-src.txt');
    fs.writeFileSync(src, 'seed changed by the aws CLI');
    await aws('s3', 'cp', src, `s3://${bucket}--dev/seed.txt`);
    const tree = path.join(work, 'aws-tree');
    fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'one.txt'), 'one');
    fs.writeFileSync(path.join(tree, 'sub', 'two.txt'), 'two');
    await aws('s3', 'sync', tree, `s3://${bucket}--dev/synced/`);

    const ls = (await aws('s3', 'ls', '--recursive', `s3://${bucket}--dev/`)).stdout;
    const listed = ls
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).slice(2));
    expect(listed).toEqual([
      ['27', 'seed.txt'],
      ['8', 'shared/a.txt'],
      ['3', 'synced/one.txt'],
      ['3', 'synced/sub/two.txt'],
    ]);
    const top = (await aws('s3', 'ls', `s3://${bucket}--dev/`)).stdout;
    expect(top).toMatch(/PRE shared\//);
    expect(top).toMatch(/PRE synced\//);

    // Syncing down from the branch gives back the tree (and what the branch reads through from main).
    const down = path.join(work, 'aws-down');
    await aws('s3', 'sync', `s3://${bucket}--dev/`, down);
    expect(treeDigest(down)).toEqual({
      'seed.txt': sha256('seed changed by the aws CLI'),
      'shared/a.txt': sha256('shared a'),
      'synced/one.txt': sha256('one'),
      'synced/sub/two.txt': sha256('two'),
    });
    // A second sync up finds nothing to do (sizes and times match).
    expect((await aws('s3', 'sync', tree, `s3://${bucket}--dev/synced/`)).stdout.trim()).toBe('');

    // The branch's history of seed.txt: its own write, then main's version as of the fork.
    const versions = JSON.parse(
      (await aws('s3api', 'list-object-versions', '--bucket', `${bucket}--dev`, '--prefix', 'seed.txt', '--output', 'json')).stdout,
    );
    const mainSeed = before.versions.find((v) => v.startsWith('seed.txt@'))!.split(/[@:]/)[1];
    expect(versions.Versions.map((v: any) => [v.Key, v.IsLatest, v.Size])).toEqual([
      ['seed.txt', true, 27],
      ['seed.txt', false, 12],
    ]);
    expect(versions.Versions[1].VersionId).toBe(mainSeed);

    // Through the tag: the seed as main had it; writes are refused with a 403 the CLI reports.
    const tagDown = path.join(work, 'aws-tag-seed.txt');
    await aws('s3', 'cp', `s3://${bucket}--v1/seed.txt`, tagDown);
    expect(fs.readFileSync(tagDown, 'utf8')).toBe('seed on main');
    const tagLs = (await aws('s3', 'ls', '--recursive', `s3://${bucket}--v1/`)).stdout;
    expect(tagLs).toContain('seed.txt');
    expect(tagLs).not.toContain('synced/');
    const refused = await aws('s3', 'cp', src, `s3://${bucket}--v1/refused.txt`).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/AccessDenied/);
    expect(refused).toMatch(/read-only/);
    const refusedRm = await aws('s3', 'rm', `s3://${bucket}--v1/seed.txt`).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(refusedRm).toMatch(/AccessDenied/);
    expect(await text(`${bucket}--v1`, 'seed.txt')).toBe('seed on main');
    expect(await keys(`${bucket}--v1`)).toEqual(['seed.txt', 'shared/a.txt']);

    await expectMainUnchanged(bucket, before);
  });

  // ------------------------------------------------------------------ rclone

  it.skipIf(!haveTools)('rclone: copy to a branch, ls and lsf on the branch and the tag, a refused copy to the tag', async () => {
    const bucket = 'rclone-br';
    await branchedBucket(bucket);
    const before = await mainState(bucket);
    const env = cleanEnv(work, {
      RCLONE_CONFIG_ANVIL_TYPE: 's3',
      RCLONE_CONFIG_ANVIL_PROVIDER: 'Other',
      RCLONE_CONFIG_ANVIL_ACCESS_KEY_ID: t.accessKeyId,
      RCLONE_CONFIG_ANVIL_SECRET_ACCESS_KEY: t.secretAccessKey,
      RCLONE_CONFIG_ANVIL_ENDPOINT: t.endpoint,
      RCLONE_CONFIG_ANVIL_REGION: 'us-east-1',
    });
    delete env.AWS_CA_BUNDLE;
    const rclone = (...args: string[]) =>
      run(RCLONE, ['--config', '/dev/null', '--retries', '1', '--low-level-retries', '1', ...args], { env });

    const tree = path.join(work, 'rclone-tree');
    fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'seed.txt'), 'seed changed by rclone');
    fs.writeFileSync(path.join(tree, 'sub', 'b.txt'), 'bee');
    await rclone('copy', tree, `anvil:${bucket}--dev`);
    await rclone('check', tree, `anvil:${bucket}--dev`, '--one-way');

    const ls = (await rclone('ls', `anvil:${bucket}--dev`)).stdout;
    const sized = ls
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .sort((a, b) => a[1].localeCompare(b[1]));
    expect(sized).toEqual([
      ['22', 'seed.txt'],
      ['8', 'shared/a.txt'],
      ['3', 'sub/b.txt'],
    ]);
    const lsf = (await rclone('lsf', `anvil:${bucket}--dev`)).stdout.trim().split('\n').sort();
    expect(lsf).toEqual(['seed.txt', 'shared/', 'sub/']);
    const lsfR = (await rclone('lsf', '-R', '--files-only', `anvil:${bucket}--dev`)).stdout.trim().split('\n').sort();
    expect(lsfR).toEqual(['seed.txt', 'shared/a.txt', 'sub/b.txt']);
    // One file to a path in the branch: rclone (without --s3-no-check-bucket) first sends CreateBucket for the
    // alias and takes BucketAlreadyOwnedByYou as "it exists", as for any bucket it owns.
    const again = await s3Error(t.s3.send(new CreateBucketCommand({ Bucket: `${bucket}--dev` })));
    expect([again.$metadata.httpStatusCode, again.name]).toEqual([409, 'BucketAlreadyOwnedByYou']);
    const single = path.join(work, 'rclone-single.txt');
    fs.writeFileSync(single, 'one file by copyto');
    await rclone('copyto', single, `anvil:${bucket}--dev/single.txt`);
    expect(await text(`${bucket}--dev`, 'single.txt')).toBe('one file by copyto');
    await t.s3.send(new DeleteObjectCommand({ Bucket: `${bucket}--dev`, Key: 'single.txt' }));
    const down = path.join(work, 'rclone-down.txt');
    await rclone('copyto', `anvil:${bucket}--dev/shared/a.txt`, down);
    expect(fs.readFileSync(down, 'utf8')).toBe('shared a');

    // The tag: main as it was, readable; a copy into it fails with the server's 403.
    expect((await rclone('lsf', '-R', '--files-only', `anvil:${bucket}--v1`)).stdout.trim().split('\n').sort()).toEqual([
      'seed.txt',
      'shared/a.txt',
    ]);
    const tagDown = path.join(work, 'rclone-tag-seed.txt');
    await rclone('copyto', `anvil:${bucket}--v1/seed.txt`, tagDown);
    expect(fs.readFileSync(tagDown, 'utf8')).toBe('seed on main');
    const refused = await rclone('copy', tree, `anvil:${bucket}--v1/refused`).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/AccessDenied/);
    expect(refused).toMatch(/403/);
    expect(await keys(`${bucket}--v1`)).toEqual(['seed.txt', 'shared/a.txt']);

    await expectMainUnchanged(bucket, before);
  });

  // ------------------------------------------------------------------ s3cmd

  it.skipIf(!haveTools)('s3cmd: put, get and ls on a branch, get through a tag, a refused put to the tag', async () => {
    const bucket = 's3cmd-br';
    await branchedBucket(bucket);
    const before = await mainState(bucket);
    const hostPort = new URL(t.endpoint).host;
    const cfg = path.join(work, 's3cfg');
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
        'max_retries = 1',
        '',
      ].join('\n'),
    );
    const s3cmd = (...args: string[]) => run(S3CMD, ['-c', cfg, ...args], { env: cleanEnv(work), cwd: work });

    const src = path.join(work, 's3cmd-src.txt');
    fs.writeFileSync(src, 'new by s3cmd');
    await s3cmd('put', '--no-mime-magic', src, `s3://${bucket}--dev/s3cmd/new.txt`);
    fs.writeFileSync(src, 'seed changed by s3cmd');
    await s3cmd('put', '--no-mime-magic', src, `s3://${bucket}--dev/seed.txt`);

    const ls = (await s3cmd('ls', '--recursive', `s3://${bucket}--dev`)).stdout;
    const lines = ls
      .split('\n')
      .map((l) => l.match(/^\d{4}-\d\d-\d\d \d\d:\d\d\s+(\d+)\s+(s3:\/\/.*)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [Number(m[1]), m[2]]);
    expect(lines).toEqual([
      [12, `s3://${bucket}--dev/s3cmd/new.txt`],
      [21, `s3://${bucket}--dev/seed.txt`],
      [8, `s3://${bucket}--dev/shared/a.txt`],
    ]);
    const top = (await s3cmd('ls', `s3://${bucket}--dev`)).stdout;
    expect(top).toMatch(new RegExp(`DIR\\s+s3://${bucket}--dev/shared/$`, 'm'));

    const got = path.join(work, 's3cmd-got.txt');
    await s3cmd('get', '--force', `s3://${bucket}--dev/seed.txt`, got);
    expect(fs.readFileSync(got, 'utf8')).toBe('seed changed by s3cmd');
    await s3cmd('get', '--force', `s3://${bucket}--dev/shared/a.txt`, got);
    expect(fs.readFileSync(got, 'utf8')).toBe('shared a');
    await s3cmd('get', '--force', `s3://${bucket}--v1/seed.txt`, got);
    expect(fs.readFileSync(got, 'utf8')).toBe('seed on main');
    expect(sha256File(got)).toBe(sha256('seed on main'));

    const refused = await s3cmd('put', '--no-mime-magic', src, `s3://${bucket}--v1/refused.txt`).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/403/);
    expect(refused).toMatch(/AccessDenied/);
    const refusedDel = await s3cmd('del', `s3://${bucket}--v1/seed.txt`).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    expect(refusedDel).toMatch(/AccessDenied/);
    expect(await keys(`${bucket}--v1`)).toEqual(['seed.txt', 'shared/a.txt']);

    await expectMainUnchanged(bucket, before);
  });

  // ------------------------------------------------------------------ boto3

  it.skipIf(!haveTools)('boto3: put/get/list on a branch, presigned GETs (SigV4 and SigV2), the tag read-only, virtual host', async () => {
    const bucket = 'boto3-br';
    await branchedBucket(bucket);
    const before = await mainState(bucket);
    const env = cleanEnv(work, { AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' });
    const { stdout } = await run(PYTHON, [BOTO3_SCRIPT, t.endpoint, t.accessKeyId, t.secretAccessKey, bucket, 'dev', 'v1'], { env });
    const r = JSON.parse(stdout);
    const dev = `${bucket}--dev`;
    expect(r.devNew).toBe('written by boto3 on the branch');
    expect(r.devSeed).toBe('seed changed by boto3');
    expect(r.devShared).toBe('shared a');
    expect(r.devList).toEqual(['boto3/new.txt', 'seed.txt', 'shared/a.txt']);
    expect(r.devPaged).toEqual(r.devList);
    expect(r.devVersions).toEqual([
      ['seed.txt', true],
      ['seed.txt', false],
    ]);

    expect(r.tagSeed).toBe('seed on main');
    expect(r.tagList).toEqual(['seed.txt', 'shared/a.txt']);
    expect(r.tagPut).toMatchObject({ code: 'AccessDenied', status: 403 });
    expect(r.tagPut.message).toMatch(/read-only/);
    expect(r.tagDelete).toMatchObject({ code: 'AccessDenied', status: 403 });
    expect(r.tagMissing).toMatchObject({ code: 'NoSuchKey', status: 404 });

    // Presigned: SigV4 (X-Amz-Signature) and SigV2 (Signature + AWSAccessKeyId) both name the alias.
    expect(new URL(r.v4Url).pathname).toBe(`/${dev}/boto3/new.txt`);
    expect(r.v4Url).toContain('X-Amz-Signature=');
    expect(r.v4).toEqual({ status: 200, body: 'written by boto3 on the branch' });
    expect(r.v4Tag).toEqual({ status: 200, body: 'seed on main' });
    expect(r.v2Url).toMatch(/[?&]AWSAccessKeyId=/);
    expect(r.v2Url).not.toMatch(/X-Amz-Algorithm/);
    expect(r.v2).toEqual({ status: 200, body: 'seed changed by boto3' });
    expect(r.v2Tag).toEqual({ status: 200, body: 'seed on main' });
    expect(r.v4TagPut.status).toBe(403);
    expect(r.v4TagPut.body).toContain('<Code>AccessDenied</Code>');
    expect(r.v2Get).toBe('sigv2 on the branch');
    expect(r.v2TagPut).toMatchObject({ code: 'AccessDenied', status: 403 });

    // Virtual-host style: the alias is the Host's first label.
    expect(r.vhostGet).toBe('virtual host on the branch');
    expect(r.vhostTagPut).toMatchObject({ code: 'AccessDenied', status: 403 });
    expect(r.vhostUrls.map((u: string) => new URL(u).hostname)).toEqual([
      `${dev}.localhost`,
      `${dev}.localhost`,
      `${bucket}--v1.localhost`,
    ]);
    expect(new URL(r.vhostPresignedUrl).hostname).toBe(`${dev}.localhost`);
    expect(r.vhostPresigned).toEqual({ status: 200, body: 'virtual host on the branch' });

    expect(await keys(dev)).toEqual(['boto3/new.txt', 'boto3/v2.txt', 'boto3/vhost.txt', 'seed.txt', 'shared/a.txt']);
    expect(await keys(`${bucket}--v1`)).toEqual(['seed.txt', 'shared/a.txt']);
    await expectMainUnchanged(bucket, before);
  });

  // ------------------------------------------------------------------ SDK v3, virtual host

  /** An SDK client in virtual-host style: `<bucket>.localhost:<port>`, every name resolved to loopback. */
  function vhostClient(): S3Client {
    const lookup = (_host: string, opts: any, cb: any) => {
      if (opts && opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    };
    const agent = new http.Agent({ lookup } as any);
    const hosts: string[] = [];
    const client = t.client(undefined, {
      endpoint: `http://${t.config.domain}:${t.anvil.port}`,
      forcePathStyle: false,
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
    });
    client.middlewareStack.add(
      (next) => async (args: any) => {
        hosts.push(args.request.hostname);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordHost' },
    );
    (client as any).hosts = hosts;
    return client;
  }

  it.skipIf(!haveTools)(
    'AWS SDK v3 in virtual-host style: writes on the branch, reads through the tag and a commit, refusals',
    async () => {
      const bucket = 'sdk-br';
      await branchedBucket(bucket);
      const before = await mainState(bucket);
      const vh = vhostClient();
      const dev = `${bucket}--dev`;
      await vh.send(new PutObjectCommand({ Bucket: dev, Key: 'seed.txt', Body: 'seed changed by the SDK' }));
      await vh.send(new PutObjectCommand({ Bucket: dev, Key: 'sdk/new.txt', Body: 'new by the SDK' }));
      await vh.send(new DeleteObjectCommand({ Bucket: dev, Key: 'shared/a.txt' }));
      expect(await text(dev, 'seed.txt', vh)).toBe('seed changed by the SDK');
      expect((await s3Error(vh.send(new HeadObjectCommand({ Bucket: dev, Key: 'shared/a.txt' })))).$metadata.httpStatusCode).toBe(404);
      const listed = await vh.send(new ListObjectsV2Command({ Bucket: dev }));
      expect(listed.Contents!.map((c) => c.Key)).toEqual(['sdk/new.txt', 'seed.txt']);
      expect((vh as any).hosts).toContain(`${dev}.${t.config.domain}`);
      expect((vh as any).hosts.every((h: string) => h.endsWith(`.${t.config.domain}`))).toBe(true);

      // A commit of dev, read through its alias in virtual-host style too.
      const commit = await api('POST', `/buckets/${bucket}/branches/dev/commits`, { message: 'sdk work' });
      expect(commit.status).toBe(201);
      const commitAlias = commit.json.alias as string;
      expect(commitAlias).toMatch(new RegExp(`^${bucket}--c[0-9a-f]{12}$`));
      await vh.send(new PutObjectCommand({ Bucket: dev, Key: 'seed.txt', Body: 'after the commit' }));
      expect(await text(commitAlias, 'seed.txt', vh)).toBe('seed changed by the SDK');
      expect((await vh.send(new ListObjectsV2Command({ Bucket: commitAlias }))).Contents!.map((c) => c.Key)).toEqual([
        'sdk/new.txt',
        'seed.txt',
      ]);
      expect(await text(`${bucket}--v1`, 'seed.txt', vh)).toBe('seed on main');
      expect(await text(`${bucket}--v1`, 'shared/a.txt', vh)).toBe('shared a');

      for (const ro of [`${bucket}--v1`, commitAlias]) {
        const put = await s3Error(vh.send(new PutObjectCommand({ Bucket: ro, Key: 'x.txt', Body: 'x' })));
        expect(put.$metadata.httpStatusCode).toBe(403);
        expect(put.name).toBe('AccessDenied');
        expect(put.message).toMatch(/read-only/);
        const del = await s3Error(vh.send(new DeleteObjectCommand({ Bucket: ro, Key: 'seed.txt' })));
        expect(del.$metadata.httpStatusCode).toBe(403);
      }
      expect(await text(commitAlias, 'seed.txt', vh)).toBe('seed changed by the SDK');
      await expectMainUnchanged(bucket, before);
    },
  );

  // ------------------------------------------------------------------ 63 characters

  it.skipIf(!haveTools)(
    'a 63-character alias works with the aws CLI, rclone and the SDK (virtual host); a 64-character one is refused',
    async () => {
      const bucket = 'long-alias-bucket';
      const branch = 'b'.repeat(63 - bucket.length - 2 - 4) + '-end';
      const alias = `${bucket}--${branch}`;
      expect(alias).toHaveLength(63);
      await branchedBucket(bucket, branch);
      const before = await mainState(bucket);

      const tooLong = await api('POST', `/buckets/${bucket}/branches`, { name: `${branch}x`, from: 'main' });
      expect(tooLong.status).toBe(400);
      expect(tooLong.json.error.message).toMatch(/63/);
      const tooLongTag = await api('POST', `/buckets/${bucket}/tags`, { name: `${branch}x`, at: 'main' });
      expect(tooLongTag.status).toBe(400);
      const branches = await api('GET', `/buckets/${bucket}/branches`);
      expect(branches.json.branches.map((b: any) => b.name).sort()).toEqual([branch, 'main']);

      const env = cleanEnv(work, {
        AWS_ACCESS_KEY_ID: t.accessKeyId,
        AWS_SECRET_ACCESS_KEY: t.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: path.join(work, 'aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'aws-credentials'),
        AWS_PAGER: '',
      });
      const src = path.join(work, 'long.txt');
      fs.writeFileSync(src, 'on a 63-character alias');
      await run(AWS, ['--endpoint-url', t.endpoint, 's3', 'cp', src, `s3://${alias}/aws.txt`], { env, cwd: work });
      const ls = (await run(AWS, ['--endpoint-url', t.endpoint, 's3', 'ls', '--recursive', `s3://${alias}/`], { env, cwd: work })).stdout;
      expect(ls).toContain('aws.txt');
      expect(ls).toContain('shared/a.txt');

      const rcloneEnv = cleanEnv(work, {
        RCLONE_CONFIG_ANVIL_TYPE: 's3',
        RCLONE_CONFIG_ANVIL_PROVIDER: 'Other',
        RCLONE_CONFIG_ANVIL_ACCESS_KEY_ID: t.accessKeyId,
        RCLONE_CONFIG_ANVIL_SECRET_ACCESS_KEY: t.secretAccessKey,
        RCLONE_CONFIG_ANVIL_ENDPOINT: t.endpoint,
        RCLONE_CONFIG_ANVIL_REGION: 'us-east-1',
      });
      await run(RCLONE, ['--config', '/dev/null', '--s3-no-check-bucket', 'copyto', src, `anvil:${alias}/rclone.txt`], { env: rcloneEnv });
      const lsf = (await run(RCLONE, ['--config', '/dev/null', 'lsf', '-R', '--files-only', `anvil:${alias}`], { env: rcloneEnv })).stdout;
      expect(lsf.trim().split('\n').sort()).toEqual(['aws.txt', 'rclone.txt', 'seed.txt', 'shared/a.txt']);

      const vh = vhostClient();
      await vh.send(new PutObjectCommand({ Bucket: alias, Key: 'sdk.txt', Body: 'virtual host, 63 characters' }));
      expect(await text(alias, 'sdk.txt', vh)).toBe('virtual host, 63 characters');
      expect((vh as any).hosts).toContain(`${alias}.${t.config.domain}`);
      expect(await keys(alias)).toEqual(['aws.txt', 'rclone.txt', 'sdk.txt', 'seed.txt', 'shared/a.txt']);
      await expectMainUnchanged(bucket, before);
    },
  );
});
