/**
 * More of the aws CLI v2 (Debian's package) against a real Anvil: s3 sync
 * both ways, s3 mv (server-side copy + delete, multipart copy for a large
 * object), s3 rm --recursive, s3 presign fetched by a plain HTTP client,
 * object tagging, multipart-upload listings and versioning (put-bucket-versioning,
 * list-object-versions) through s3api. Assertions are
 * on bytes (sha256), listings and the JSON the CLI prints.
 *
 * Each CLI process costs about a second to start, so fixtures are created and
 * checked with the SDK client where the CLI is not what is under test.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { cleanEnv, fileExists, randomFile, requireTools, run, treeDigest } from './tools.js';

const AWS = '/usr/bin/aws';
const haveTools = requireTools('aws CLI', [{ what: AWS, ok: fileExists(AWS) }], 'apt-get install awscli');

const MiB = 1024 * 1024;

function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** S3 lists keys in UTF-8 byte order. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

describeEachEngine('interop: aws CLI (sync, mv, rm, presign, tagging, multipart listings)', (engine) => {
  const t = useAnvil(engine, { enabled: haveTools });
  let work: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    if (!haveTools) return;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-awscli-'));
    env = cleanEnv(work, {
      AWS_ACCESS_KEY_ID: t.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: path.join(work, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'aws-credentials'),
      AWS_PAGER: '',
    });
  });
  afterAll(async () => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs the CLI with the work folder as its current directory (it prints local paths relative to it). */
  const aws = (...args: string[]) => run(AWS, ['--endpoint-url', t.endpoint, ...args], { env, cwd: work });
  const api = async (...args: string[]): Promise<any> => {
    const { stdout } = await aws('s3api', ...args, '--output', 'json');
    return stdout.trim() === '' ? {} : JSON.parse(stdout);
  };
  const mb = (bucket: string) => t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keysAndSizes = async (bucket: string, prefix?: string) =>
    ((await t.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => [o.Key, o.Size]);
  const getBytes = async (bucket: string, key: string) =>
    Buffer.from(await (await t.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  const lines = (out: string, verb: string) =>
    out
      .split('\n')
      .filter((l) => l.startsWith(`${verb}: `))
      .sort();

  it.skipIf(!haveTools)('s3 sync up and down with a small tree, then a change and --delete', async () => {
    await mb('cli-sync');
    const src = path.join(work, 'tree');
    fs.mkdirSync(path.join(src, 'sub', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(src, 'one.txt'), 'one\n');
    fs.writeFileSync(path.join(src, 'empty.txt'), '');
    fs.writeFileSync(path.join(src, 'sub', 'two.txt'), 'two\n');
    fs.writeFileSync(path.join(src, 'sub', 'deep', 'with space.txt'), 'spaced');
    fs.writeFileSync(path.join(src, 'sub', 'ünï cödé+plus.txt'), 'unicode');
    randomFile(path.join(src, 'sub', 'big.bin'), 10 * MiB); // above the CLI's 8 MiB multipart threshold
    const expected = treeDigest(src);

    const up = await aws('s3', 'sync', '--no-progress', 'tree', 's3://cli-sync/tree');
    expect(lines(up.stdout, 'upload')).toEqual(
      Object.keys(expected)
        .map((rel) => `upload: tree/${rel} to s3://cli-sync/tree/${rel}`)
        .sort(),
    );
    expect(await keysAndSizes('cli-sync')).toEqual(
      Object.keys(expected)
        .sort(byteOrder)
        .map((rel) => [`tree/${rel}`, fs.statSync(path.join(src, rel)).size]),
    );
    const big = await t.s3.send(new HeadObjectCommand({ Bucket: 'cli-sync', Key: 'tree/sub/big.bin' }));
    expect(big.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);

    // Nothing changed: nothing to do (the CLI compared sizes and times from the listing).
    const noop = await aws('s3', 'sync', '--no-progress', 'tree', 's3://cli-sync/tree');
    expect(noop.stdout.trim()).toBe('');

    const dl = await aws('s3', 'sync', '--no-progress', 's3://cli-sync/tree', 'down');
    expect(lines(dl.stdout, 'download')).toHaveLength(6);
    expect(treeDigest(path.join(work, 'down'))).toEqual(expected);

    fs.writeFileSync(path.join(src, 'one.txt'), 'one, changed\n');
    fs.rmSync(path.join(src, 'sub', 'deep', 'with space.txt'));
    const changed = await aws('s3', 'sync', '--no-progress', '--delete', 'tree', 's3://cli-sync/tree');
    expect(lines(changed.stdout, 'upload')).toEqual(['upload: tree/one.txt to s3://cli-sync/tree/one.txt']);
    expect(lines(changed.stdout, 'delete')).toEqual(['delete: s3://cli-sync/tree/sub/deep/with space.txt']);
    const dl2 = await aws('s3', 'sync', '--no-progress', '--delete', 's3://cli-sync/tree', 'down');
    expect(lines(dl2.stdout, 'download')).toEqual(['download: s3://cli-sync/tree/one.txt to down/one.txt']);
    expect(lines(dl2.stdout, 'delete')).toEqual(['delete: down/sub/deep/with space.txt']);
    expect(treeDigest(path.join(work, 'down'))).toEqual(treeDigest(src));
  });

  it.skipIf(!haveTools)('s3 mv within the bucket: small (CopyObject) and 10 MiB (UploadPartCopy), metadata kept, source gone', async () => {
    await mb('cli-mv');
    const small = Buffer.from('move me\n');
    const large = crypto.randomBytes(10 * MiB);
    await t.s3.send(
      new PutObjectCommand({ Bucket: 'cli-mv', Key: 'from/small.txt', Body: small, ContentType: 'text/x-small', Metadata: { k: 'v' } }),
    );
    await t.s3.send(
      new PutObjectCommand({
        Bucket: 'cli-mv',
        Key: 'from/large.bin',
        Body: large,
        ContentType: 'application/x-large',
        Metadata: { size: 'big' },
      }),
    );

    const [mv1, mv2] = await Promise.all([
      aws('s3', 'mv', '--no-progress', 's3://cli-mv/from/small.txt', 's3://cli-mv/to/small moved.txt'),
      aws('s3', 'mv', '--no-progress', 's3://cli-mv/from/large.bin', 's3://cli-mv/to/large.bin'),
    ]);
    expect(mv1.stdout.trim()).toBe('move: s3://cli-mv/from/small.txt to s3://cli-mv/to/small moved.txt');
    expect(mv2.stdout.trim()).toBe('move: s3://cli-mv/from/large.bin to s3://cli-mv/to/large.bin');

    expect(await keysAndSizes('cli-mv')).toEqual([
      ['to/large.bin', 10 * MiB],
      ['to/small moved.txt', small.length],
    ]);
    const hs = await t.s3.send(new HeadObjectCommand({ Bucket: 'cli-mv', Key: 'to/small moved.txt' }));
    expect([hs.ContentType, hs.Metadata]).toEqual(['text/x-small', { k: 'v' }]);
    const hl = await t.s3.send(new HeadObjectCommand({ Bucket: 'cli-mv', Key: 'to/large.bin' }));
    expect([hl.ContentType, hl.Metadata]).toEqual(['application/x-large', { size: 'big' }]);
    expect(hl.ETag).toMatch(/^"[0-9a-f]{32}-2"$/); // the CLI copied it in two parts
    expect(sha256(await getBytes('cli-mv', 'to/small moved.txt'))).toBe(sha256(small));
    expect(sha256(await getBytes('cli-mv', 'to/large.bin'))).toBe(sha256(large));
  });

  it.skipIf(!haveTools)('s3 rm --recursive removes exactly the prefix; rb removes the emptied bucket', async () => {
    await mb('cli-rm');
    const doomed = ['rmme/a', 'rmme/b/c', 'rmme/b/d e', 'rmme/z/deep/er'];
    const kept = ['keep/a', 'rmme-not/a', 'rmmeX'];
    await Promise.all([...doomed, ...kept].map((k) => t.s3.send(new PutObjectCommand({ Bucket: 'cli-rm', Key: k, Body: k }))));
    const rm = await aws('s3', 'rm', '--recursive', 's3://cli-rm/rmme/');
    expect(lines(rm.stdout, 'delete')).toEqual(doomed.map((k) => `delete: s3://cli-rm/${k}`).sort());
    expect((await keysAndSizes('cli-rm')).map(([k]) => k)).toEqual([...kept].sort(byteOrder));
    expect((await getBytes('cli-rm', 'rmme-not/a')).toString()).toBe('rmme-not/a');

    const rb = await aws('s3', 'rb', '--force', 's3://cli-rm');
    expect(lines(rb.stdout, 'delete')).toEqual(kept.map((k) => `delete: s3://cli-rm/${k}`).sort());
    expect(rb.stdout).toContain('remove_bucket: cli-rm');
    expect((await t.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).not.toContain('cli-rm');
  });

  it.skipIf(!haveTools)(
    's3 presign: the URL works with a plain HTTP client, a tampered one does not, an expired one does not',
    async () => {
      await mb('cli-presign');
      const body = crypto.randomBytes(3 * MiB + 17);
      await t.s3.send(new PutObjectCommand({ Bucket: 'cli-presign', Key: 'dir/file name.bin', Body: body }));
      const [short, long] = await Promise.all([
        aws('s3', 'presign', 's3://cli-presign/dir/file name.bin', '--expires-in', '1'),
        aws('s3', 'presign', 's3://cli-presign/dir/file name.bin', '--expires-in', '300'),
      ]);
      const shortMadeAt = Date.now();
      const url = long.stdout.trim();
      expect(url.startsWith(`${t.endpoint}/cli-presign/dir/file%20name.bin?`)).toBe(true);
      expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('300');

      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(body.length));
      expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(body));

      const ranged = await fetch(url, { headers: { Range: 'bytes=100-199' } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(body.subarray(100, 200));

      const tampered = new URL(url);
      tampered.searchParams.set('X-Amz-Expires', '3600');
      const bad = await fetch(tampered);
      expect(bad.status).toBe(403);
      expect(await bad.text()).toContain('<Code>SignatureDoesNotMatch</Code>');

      await new Promise((r) => setTimeout(r, Math.max(0, 2100 - (Date.now() - shortMadeAt))));
      const expired = await fetch(short.stdout.trim());
      expect(expired.status).toBe(403);
      const text = await expired.text();
      expect(text).toContain('<Code>AccessDenied</Code>');
      expect(text).toContain('Request has expired');
    },
  );

  it.skipIf(!haveTools)('s3api put-object-tagging / get-object-tagging / delete-object-tagging', async () => {
    await mb('cli-tags');
    await t.s3.send(new PutObjectCommand({ Bucket: 'cli-tags', Key: 'obj', Body: 'tagged', Tagging: 'a=1&b=two%20words' }));
    expect((await api('get-object-tagging', '--bucket', 'cli-tags', '--key', 'obj')).TagSet).toEqual([
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'two words' },
    ]);

    await api(
      'put-object-tagging',
      '--bucket',
      'cli-tags',
      '--key',
      'obj',
      '--tagging',
      'TagSet=[{Key=env,Value=test},{Key=owner,Value=anvil team}]',
    );
    expect((await api('get-object-tagging', '--bucket', 'cli-tags', '--key', 'obj')).TagSet).toEqual([
      { Key: 'env', Value: 'test' },
      { Key: 'owner', Value: 'anvil team' },
    ]);
    const got = await t.s3.send(new GetObjectCommand({ Bucket: 'cli-tags', Key: 'obj' }));
    expect(got.TagCount).toBe(2);
    expect(await got.Body!.transformToString()).toBe('tagged'); // tagging does not touch the bytes

    await api('delete-object-tagging', '--bucket', 'cli-tags', '--key', 'obj');
    expect((await t.s3.send(new GetObjectTaggingCommand({ Bucket: 'cli-tags', Key: 'obj' }))).TagSet ?? []).toEqual([]);
    await expect(t.s3.send(new GetObjectTaggingCommand({ Bucket: 'cli-tags', Key: 'absent' }))).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
  });

  const createUploads = async (bucket: string, keys: string[]) => {
    await mb(bucket);
    const created: Array<{ Key: string; UploadId: string }> = [];
    for (const key of keys) {
      const r = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      created.push({ Key: key, UploadId: r.UploadId! });
      await new Promise((res) => setTimeout(res, 5)); // distinct initiation times
    }
    return created;
  };
  const pairs = (r: any) => (r.Uploads ?? []).map((u: { Key: string; UploadId: string }) => [u.Key, u.UploadId]);

  it.skipIf(!haveTools)('s3api list-multipart-uploads (key order, prefix, delimiter, paginated) and list-parts, then abort', async () => {
    const created = await createUploads('cli-mpu', ['mpu/b.bin', 'mpu/a.bin', 'other/c.bin', 'mpu/a.bin', 'mpu/sub/d.bin']);
    const part = crypto.randomBytes(5 * MiB);
    const a0 = created[1];
    await t.s3.send(new UploadPartCommand({ Bucket: 'cli-mpu', Key: a0.Key, UploadId: a0.UploadId, PartNumber: 1, Body: part }));
    const md5 = crypto.createHash('md5').update(part).digest('hex');

    const [all, paged, prefixed, delimited, parts] = await Promise.all([
      api('list-multipart-uploads', '--bucket', 'cli-mpu'),
      // One upload per page: the CLI follows NextKeyMarker / NextUploadIdMarker.
      api('list-multipart-uploads', '--bucket', 'cli-mpu', '--page-size', '1'),
      api('list-multipart-uploads', '--bucket', 'cli-mpu', '--prefix', 'mpu/', '--delimiter', '/'),
      api('list-multipart-uploads', '--bucket', 'cli-mpu', '--delimiter', '/'),
      api('list-parts', '--bucket', 'cli-mpu', '--key', a0.Key, `--upload-id=${a0.UploadId}`),
    ]);
    // Sorted by key (the order of two uploads of one key is checked in the next test).
    expect(pairs(all).map(([k]: string[]) => k)).toEqual(['mpu/a.bin', 'mpu/a.bin', 'mpu/b.bin', 'mpu/sub/d.bin', 'other/c.bin']);
    expect(new Set(pairs(all).map(([, id]: string[]) => id))).toEqual(new Set(created.map((c) => c.UploadId)));
    expect(
      all.Uploads.every(
        (u: { Initiated?: string; StorageClass?: string }) => typeof u.Initiated === 'string' && u.StorageClass === 'STANDARD',
      ),
    ).toBe(true);
    expect(pairs(paged)).toEqual(pairs(all));
    expect(pairs(prefixed)).toEqual(pairs(all).slice(0, 3));
    expect(prefixed.CommonPrefixes).toEqual([{ Prefix: 'mpu/sub/' }]);
    expect(pairs(delimited)).toEqual([]);
    expect(delimited.CommonPrefixes).toEqual([{ Prefix: 'mpu/' }, { Prefix: 'other/' }]);
    expect(parts.Parts.map((p: { PartNumber: number; Size: number; ETag: string }) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, 5 * MiB, `"${md5}"`],
    ]);

    for (const c of created) await t.s3.send(new AbortMultipartUploadCommand({ Bucket: 'cli-mpu', Key: c.Key, UploadId: c.UploadId }));
    expect((await t.s3.send(new ListMultipartUploadsCommand({ Bucket: 'cli-mpu' }))).Uploads ?? []).toEqual([]);
    expect(await keysAndSizes('cli-mpu')).toEqual([]);
  });

  it.skipIf(!haveTools)(
    's3api list-multipart-uploads: uploads of one key come in initiation order, on one page and across pages',
    async () => {
      // S3: "uploads are sorted in ascending order within each key by the upload initiation time".
      const created = await createUploads('cli-mpu-order', ['same.bin', 'same.bin', 'same.bin', 'same.bin', 'same.bin', 'z.bin']);
      const expected = created.map((c) => [c.Key, c.UploadId]);
      const [all, paged] = await Promise.all([
        api('list-multipart-uploads', '--bucket', 'cli-mpu-order'),
        api('list-multipart-uploads', '--bucket', 'cli-mpu-order', '--page-size', '2'),
      ]);
      expect(pairs(all)).toEqual(expected);
      expect(pairs(paged)).toEqual(expected);
    },
  );

  it.skipIf(!haveTools)('s3api list-multipart-uploads --delimiter with one entry per page: a common prefix is not repeated', async () => {
    await createUploads('cli-mpu-delim', ['a/1', 'a/2', 'b/1', 'c', 'd/x/1']);
    const r = await api('list-multipart-uploads', '--bucket', 'cli-mpu-delim', '--delimiter', '/', '--page-size', '1');
    expect(pairs(r)).toEqual([['c', expect.any(String)]]);
    expect(r.CommonPrefixes).toEqual([{ Prefix: 'a/' }, { Prefix: 'b/' }, { Prefix: 'd/' }]);
  });

  it.skipIf(!haveTools)(
    's3api put-bucket-versioning / get-bucket-versioning, then list-object-versions (whole and one entry per page)',
    async () => {
      await mb('cli-versions');
      expect(await api('get-bucket-versioning', '--bucket', 'cli-versions')).toEqual({});
      expect(await api('put-bucket-versioning', '--bucket', 'cli-versions', '--versioning-configuration', 'Status=Enabled')).toEqual({});
      expect((await api('get-bucket-versioning', '--bucket', 'cli-versions')).Status).toBe('Enabled');

      const put = async (key: string, body: string) => {
        const r = await t.s3.send(new PutObjectCommand({ Bucket: 'cli-versions', Key: key, Body: body }));
        return { Key: key, VersionId: r.VersionId!, ETag: `"${crypto.createHash('md5').update(body).digest('hex')}"`, Size: body.length };
      };
      const a1 = await put('a.txt', 'first');
      const a2 = await put('a.txt', 'second!');
      const b1 = await put('dir/b.txt', 'bee');
      const a3 = await put('a.txt', 'third, longest');
      const marker = await t.s3.send(new DeleteObjectCommand({ Bucket: 'cli-versions', Key: 'dir/b.txt' }));
      expect(marker.DeleteMarker).toBe(true);
      expect(new Set([a1, a2, a3, b1].map((v) => v.VersionId).concat(marker.VersionId!)).size).toBe(5);

      const versions = (r: any) =>
        (r.Versions ?? []).map((v: any) => ({ Key: v.Key, VersionId: v.VersionId, ETag: v.ETag, Size: v.Size, IsLatest: v.IsLatest }));
      const markers = (r: any) => (r.DeleteMarkers ?? []).map((m: any) => ({ Key: m.Key, VersionId: m.VersionId, IsLatest: m.IsLatest }));
      const expected = [
        { ...a3, IsLatest: true },
        { ...a2, IsLatest: false },
        { ...a1, IsLatest: false },
        { ...b1, IsLatest: false },
      ];
      const expectedMarkers = [{ Key: 'dir/b.txt', VersionId: marker.VersionId, IsLatest: true }];
      const [all, paged, prefixed] = await Promise.all([
        api('list-object-versions', '--bucket', 'cli-versions'),
        // One entry per page: the CLI follows NextKeyMarker / NextVersionIdMarker, inside a key too.
        api('list-object-versions', '--bucket', 'cli-versions', '--page-size', '1'),
        api('list-object-versions', '--bucket', 'cli-versions', '--prefix', 'dir/'),
      ]);
      for (const r of [all, paged]) {
        expect(versions(r)).toEqual(expected);
        expect(markers(r)).toEqual(expectedMarkers);
      }
      expect(versions(prefixed)).toEqual([{ ...b1, IsLatest: false }]);
      expect(markers(prefixed)).toEqual(expectedMarkers);
    },
  );
});
