/**
 * Branches, commits and tags of a bucket (issue 15), on both engines, with
 * the real SDK: a branch made in O(1) reads through to its parent as of the
 * fork, writes and deletes stay on it, tags and commits are read-only
 * aliases, and history a commit or a branch sees cannot be deleted.
 */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

describeEachEngine('branches', (engine) => {
  const t = useAnvil(engine);

  async function api(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: any }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${pathAndQuery}`, {
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
    });
    const out = await res.text();
    return { status: res.status, json: out ? JSON.parse(out) : undefined };
  }

  async function text(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<string> {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    return res.Body!.transformToString();
  }

  async function keys(bucket: string, prefix?: string, delimiter?: string, maxKeys?: number): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const res = await t.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, MaxKeys: maxKeys, ContinuationToken: token }),
      );
      out.push(...(res.Contents ?? []).map((c) => c.Key!), ...(res.CommonPrefixes ?? []).map((p) => p.Prefix!));
      token = res.NextContinuationToken;
    } while (token);
    return out;
  }

  async function put(bucket: string, key: string, body: string) {
    return t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  async function versionedBucket(name: string) {
    await t.s3.send(new CreateBucketCommand({ Bucket: name }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  }

  describe('a branch reads through its parent as of the fork', () => {
    beforeAll(async () => {
      await versionedBucket('photos');
      await put('photos', 'a.txt', 'a1');
      await put('photos', 'b.txt', 'b1');
      await put('photos', 'dir/c.txt', 'c1');
    });

    it('creates a branch from main and shows what main had', async () => {
      const res = await api('POST', '/buckets/photos/branches', { name: 'dev' });
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({ name: 'dev', parent: 'main', depth: 1, alias: 'photos--dev' });
      expect(res.json.headCommit).toMatch(/^[0-9a-f]{12}$/);
      expect(await text(t.s3, 'photos--dev', 'a.txt')).toBe('a1');
      expect(await keys('photos--dev')).toEqual(['a.txt', 'b.txt', 'dir/c.txt']);
      expect(await keys('photos--dev', '', '/')).toEqual(['a.txt', 'b.txt', 'dir/']);
    });

    it('keeps writes and deletes on the branch, and later writes on main off it', async () => {
      await put('photos--dev', 'a.txt', 'a2-dev');
      await put('photos--dev', 'new.txt', 'n-dev');
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'photos--dev', Key: 'b.txt' }));
      await put('photos', 'main-only.txt', 'm');
      await put('photos', 'dir/c.txt', 'c2-main');

      expect(await text(t.s3, 'photos--dev', 'a.txt')).toBe('a2-dev');
      expect(await text(t.s3, 'photos', 'a.txt')).toBe('a1');
      expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'photos--dev', Key: 'b.txt' })))).name).toBe('NoSuchKey');
      expect(await text(t.s3, 'photos', 'b.txt')).toBe('b1');
      expect(await text(t.s3, 'photos--dev', 'dir/c.txt')).toBe('c1');
      expect(
        (await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'photos--dev', Key: 'main-only.txt' })))).$metadata.httpStatusCode,
      ).toBe(404);
      expect(await keys('photos--dev')).toEqual(['a.txt', 'dir/c.txt', 'new.txt']);
      expect(await keys('photos')).toEqual(['a.txt', 'b.txt', 'dir/c.txt', 'main-only.txt']);
      // Pages of one key resume correctly across levels.
      expect(await keys('photos--dev', undefined, undefined, 1)).toEqual(['a.txt', 'dir/c.txt', 'new.txt']);
    });

    it('addresses main as bucket--main', async () => {
      expect(await text(t.s3, 'photos--main', 'dir/c.txt')).toBe('c2-main');
      expect(await keys('photos--main')).toEqual(await keys('photos'));
    });

    it('commits, tags and reads a tag or a commit read-only', async () => {
      const c = await api('POST', '/buckets/photos/branches/dev/commits', { message: 'dev work' });
      expect(c.status).toBe(201);
      expect(c.json).toMatchObject({ branch: 'dev', message: 'dev work', alias: `photos--c${c.json.id}` });
      const tag = await api('POST', '/buckets/photos/tags', { name: 'v1', at: 'dev' });
      expect(tag.status).toBe(201);
      expect(tag.json.commit).toBe(c.json.id);

      await put('photos--dev', 'a.txt', 'a3-dev');
      expect(await text(t.s3, 'photos--dev', 'a.txt')).toBe('a3-dev');
      expect(await text(t.s3, 'photos--v1', 'a.txt')).toBe('a2-dev');
      expect(await text(t.s3, `photos--c${c.json.id}`, 'a.txt')).toBe('a2-dev');
      expect(await keys('photos--v1')).toEqual(['a.txt', 'dir/c.txt', 'new.txt']);

      const refused = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'photos--v1', Key: 'x', Body: 'x' })));
      expect(refused.$metadata.httpStatusCode).toBe(403);
      expect(refused.message).toMatch(/read-only/);
      const refusedDelete = await s3Error(t.s3.send(new DeleteObjectCommand({ Bucket: `photos--c${c.json.id}`, Key: 'a.txt' })));
      expect(refusedDelete.$metadata.httpStatusCode).toBe(403);
      expect(await text(t.s3, 'photos--v1', 'a.txt')).toBe('a2-dev');

      const log = await api('GET', '/buckets/photos/commits?ref=dev');
      expect(log.json.commits.map((x: any) => x.message)).toEqual(['dev work', expect.stringMatching(/branch dev from main/)]);
      expect(log.json.commits[0].parents).toEqual([log.json.commits[1].id]);
    });

    it('lists versions through a branch: its own, then the parent as of the fork', async () => {
      const all = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'photos--dev', Prefix: 'a.txt' }));
      const versions = all.Versions!.map((v) => [v.IsLatest, v.Size]);
      // dev wrote a.txt twice (a3-dev, a2-dev); main had a1 at the fork (its later writes are not dev's history).
      expect(versions).toEqual([
        [true, 6],
        [false, 6],
        [false, 2],
      ]);
      const markers = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'photos--dev', Prefix: 'b.txt' }));
      expect(markers.DeleteMarkers!.map((m) => m.IsLatest)).toEqual([true]);
      expect(markers.Versions!.map((v) => v.IsLatest)).toEqual([false]);
      // Paged one entry at a time, the same entries come back.
      const paged: string[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (;;) {
        const page = await t.s3.send(
          new ListObjectVersionsCommand({ Bucket: 'photos--dev', MaxKeys: 1, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
        );
        paged.push(...[...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => `${v.Key}@${v.VersionId}`));
        if (!page.IsTruncated) break;
        keyMarker = page.NextKeyMarker;
        versionIdMarker = page.NextVersionIdMarker;
      }
      const whole = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'photos--dev' }));
      const expected = [...(whole.Versions ?? []), ...(whole.DeleteMarkers ?? [])].map((v) => `${v.Key}@${v.VersionId}`);
      expect(paged.sort()).toEqual(expected.sort());
      expect(paged.length).toBeGreaterThan(5);
      const folders = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'photos--dev', Delimiter: '/' }));
      expect(folders.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['dir/']);
    });

    it('refuses to delete a version that a commit or a fork sees', async () => {
      const versions = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'photos', Prefix: 'a.txt' }));
      const first = versions.Versions!.find((v) => v.IsLatest)!;
      const err = await s3Error(t.s3.send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'a.txt', VersionId: first.VersionId })));
      expect(err.$metadata.httpStatusCode).toBe(409);
      expect(err.name).toBe('VersionRetained');
      expect(await text(t.s3, 'photos--dev', 'b.txt').catch((e) => e.name)).toBe('NoSuchKey');
      expect(await text(t.s3, 'photos', 'a.txt')).toBe('a1');
    });

    it('copies from a tag into a branch and honours If-None-Match through the parent', async () => {
      await t.s3.send(new CopyObjectCommand({ Bucket: 'photos--dev', Key: 'copied.txt', CopySource: 'photos--v1/a.txt' }));
      expect(await text(t.s3, 'photos--dev', 'copied.txt')).toBe('a2-dev');
      // dir/c.txt lives only in main (as of the fork): it exists on dev.
      const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'photos--dev', Key: 'dir/c.txt', Body: 'x', IfNoneMatch: '*' })));
      expect(err.$metadata.httpStatusCode).toBe(412);
      expect(await text(t.s3, 'photos--dev', 'dir/c.txt')).toBe('c1');
    });

    it('tags a version that shows through from main on the branch only', async () => {
      await t.s3.send(
        new PutObjectTaggingCommand({ Bucket: 'photos--dev', Key: 'dir/c.txt', Tagging: { TagSet: [{ Key: 'b', Value: 'dev' }] } }),
      );
      const onDev = await t.s3.send(new GetObjectTaggingCommand({ Bucket: 'photos--dev', Key: 'dir/c.txt' }));
      expect(onDev.TagSet).toEqual([{ Key: 'b', Value: 'dev' }]);
      const onMain = await t.s3.send(new GetObjectTaggingCommand({ Bucket: 'photos', Key: 'dir/c.txt' }));
      expect(onMain.TagSet).toEqual([]);
      // Same bytes, same version id as the one main had at the fork; one entry in the branch's history.
      expect(await text(t.s3, 'photos--dev', 'dir/c.txt')).toBe('c1');
      const history = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'photos--dev', Prefix: 'dir/c.txt' }));
      expect(history.Versions).toHaveLength(1);
      const diff = await api('GET', '/buckets/photos/diff?from=main&to=dev');
      expect(diff.json.entries.find((e: any) => e.key === 'dir/c.txt')?.change).toBe('changed');
    });

    it('branches a branch, bounded in depth, and refuses deleting a parent', async () => {
      const res = await api('POST', '/buckets/photos/branches', { name: 'feature', from: 'dev' });
      expect(res.json).toMatchObject({ parent: 'dev', depth: 2 });
      expect(await text(t.s3, 'photos--feature', 'a.txt')).toBe('a3-dev');
      expect(await text(t.s3, 'photos--feature', 'b.txt').catch((e) => e.name)).toBe('NoSuchKey');
      expect(await text(t.s3, 'photos--feature', 'dir/c.txt')).toBe('c1');
      const del = await api('DELETE', '/buckets/photos/branches/dev');
      expect(del.status).toBe(409);
    });

    it('refuses settings changes, bad names and Suspended through history', async () => {
      const err = await s3Error(
        t.s3.send(new PutBucketVersioningCommand({ Bucket: 'photos--dev', VersioningConfiguration: { Status: 'Suspended' } })),
      );
      expect(err.$metadata.httpStatusCode).toBe(403);
      const suspend = await s3Error(
        t.s3.send(new PutBucketVersioningCommand({ Bucket: 'photos', VersioningConfiguration: { Status: 'Suspended' } })),
      );
      expect(suspend.$metadata.httpStatusCode).toBe(409);
      expect((await api('POST', '/buckets/photos/branches', { name: 'Bad_Name' })).status).toBe(400);
      expect((await api('POST', '/buckets/photos/branches', { name: 'dev' })).status).toBe(409);
      expect((await api('POST', '/buckets/photos/branches', { name: 'c0123456789ab' })).status).toBe(400);
      expect((await s3Error(t.s3.send(new CreateBucketCommand({ Bucket: 'photos--x' })))).name).toBe('InvalidBucketName');
      expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'photos--nope', Key: 'a.txt' })))).name).toBe('NoSuchBucket');
      expect((await s3Error(t.s3.send(new DeleteBucketCommand({ Bucket: 'photos' })))).$metadata.httpStatusCode).toBe(409);
    });

    it('deletes a branch with its versions; the bucket goes once its branches have', async () => {
      expect((await api('DELETE', '/buckets/photos/branches/feature')).status).toBe(204);
      expect((await api('DELETE', '/buckets/photos/tags/v1')).status).toBe(204);
      expect((await api('DELETE', '/buckets/photos/branches/dev')).status).toBe(204);
      expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'photos--dev', Key: 'a.txt' })))).name).toBe('NoSuchBucket');
      const list = await api('GET', '/buckets/photos/branches');
      expect(list.json.branches.map((b: any) => b.name)).toEqual(['main']);
    });
  });

  it('needs versioning', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'plain-nobranch' }));
    const res = await api('POST', '/buckets/plain-nobranch/branches', { name: 'dev' });
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(/versioning/);
  });

  it('reads any ref as of a time: alias --at-, branch from ref@time, diff with times', async () => {
    await versionedBucket('clock');
    await put('clock', 'k', 'v1');
    await put('clock', 'other', 'o1');
    // Aliases name whole seconds: step past one.
    await new Promise((r) => setTimeout(r, 1100));
    const between = new Date();
    const compact = between.toISOString().slice(0, 19).replace(/[-:]/g, '').toLowerCase() + 'z';
    await new Promise((r) => setTimeout(r, 1100));
    await put('clock', 'k', 'v2');
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'clock', Key: 'other' }));
    await put('clock', 'late', 'l');

    expect(await text(t.s3, `clock--main--at-${compact}`, 'k')).toBe('v1');
    expect(await text(t.s3, `clock--main--at-${Math.floor(between.getTime() / 1000)}`, 'other')).toBe('o1');
    expect(await keys(`clock--main--at-${compact}`)).toEqual(['k', 'other']);
    expect(await keys('clock')).toEqual(['k', 'late']);
    const refused = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: `clock--main--at-${compact}`, Key: 'x', Body: 'x' })));
    expect(refused.$metadata.httpStatusCode).toBe(403);

    const iso = between.toISOString();
    const d = await api('GET', `/buckets/clock/diff?from=${encodeURIComponent(`main@${iso}`)}&to=main`);
    expect(d.json.entries.map((e: any) => [e.key, e.change])).toEqual([
      ['k', 'changed'],
      ['late', 'added'],
      ['other', 'removed'],
    ]);
    const b = await api('POST', '/buckets/clock/branches', { name: 'past', from: `main@${iso}` });
    expect(b.status).toBe(201);
    expect(await text(t.s3, 'clock--past', 'k')).toBe('v1');
    expect(await keys('clock--past')).toEqual(['k', 'other']);
    expect((await api('GET', '/buckets/clock/diff?from=main&to=main@not-a-time')).status).toBe(400);
  });
});
