/**
 * S3 versioning on both engines: the bucket's state, version ids, reads,
 * writes and deletes by version, delete markers, ListObjectVersions paging,
 * copies and multipart uploads making versions, and the storage a version
 * keeps (its blobs stay referenced until the version itself is deleted).
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectAclCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

import { bucketUsage } from '../../src/meta/objects/versions.js';
import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch, type Signer } from '../support/signed-fetch.js';

async function body(s3: S3Client, Bucket: string, Key: string, VersionId?: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }));
  return res.Body!.transformToString();
}

async function put(s3: S3Client, Bucket: string, Key: string, Body: string): Promise<string> {
  const res = await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
  return res.VersionId as string;
}

async function enable(s3: S3Client, Bucket: string, Status: 'Enabled' | 'Suspended' = 'Enabled'): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status } }));
}

type Entry = { key: string; id: string; latest: boolean; marker: boolean };

/**
 * Every version and marker of the bucket, page by page, in the order the
 * server sends them (read from the XML: the SDK splits versions and markers
 * into two lists and loses their interleaving).
 */
async function allVersions(t: Signer, Bucket: string, opts: { Prefix?: string; MaxKeys?: number } = {}): Promise<Entry[]> {
  const out: Entry[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  const field = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  for (let page = 0; page < 1000; page++) {
    const q = new URLSearchParams({ versions: '', 'encoding-type': 'url' });
    if (opts.Prefix !== undefined) q.set('prefix', opts.Prefix);
    if (opts.MaxKeys !== undefined) q.set('max-keys', String(opts.MaxKeys));
    if (keyMarker !== undefined) q.set('key-marker', keyMarker);
    if (versionIdMarker !== undefined) q.set('version-id-marker', versionIdMarker);
    const res = await signedFetch(t, 'GET', `${t.endpoint}/${Bucket}?${q.toString().replace('versions=', 'versions')}`);
    const xml = await res.text();
    expect(res.status, xml).toBe(200);
    for (const m of xml.matchAll(/<(Version|DeleteMarker)>(.*?)<\/\1>/gs)) {
      out.push({
        key: decodeURIComponent(field(m[2], 'Key')!),
        id: field(m[2], 'VersionId')!,
        latest: field(m[2], 'IsLatest') === 'true',
        marker: m[1] === 'DeleteMarker',
      });
    }
    if (field(xml, 'IsTruncated') !== 'true') return out;
    keyMarker = decodeURIComponent(field(xml, 'NextKeyMarker')!);
    versionIdMarker = field(xml, 'NextVersionIdMarker');
  }
  throw new Error('listing did not end');
}

describeEachEngine('versioning', (engine) => {
  const t = useAnvil(engine, { buckets: ['plain', 'ver', 'sus', 'list', 'copy', 'mpu', 'meta', 'race', 'store'] });

  describe('bucket state', () => {
    it('goes from unversioned to Enabled and Suspended and back, never to unversioned', async () => {
      const fresh = await t.s3.send(new GetBucketVersioningCommand({ Bucket: 'plain' }));
      expect(fresh.Status).toBeUndefined();
      await enable(t.s3, 'sus');
      expect((await t.s3.send(new GetBucketVersioningCommand({ Bucket: 'sus' }))).Status).toBe('Enabled');
      await enable(t.s3, 'sus', 'Suspended');
      expect((await t.s3.send(new GetBucketVersioningCommand({ Bucket: 'sus' }))).Status).toBe('Suspended');
      await enable(t.s3, 'sus');
      expect((await t.s3.send(new GetBucketVersioningCommand({ Bucket: 'sus' }))).Status).toBe('Enabled');
      await enable(t.s3, 'sus', 'Suspended');
    });

    it('refuses a status that is not Enabled or Suspended, and MFA Delete', async () => {
      const bad = await s3Error(
        t.s3.send(new PutBucketVersioningCommand({ Bucket: 'plain', VersioningConfiguration: { Status: 'Disabled' as 'Enabled' } })),
      );
      expect(bad.name).toBe('MalformedXML');
      const mfa = await s3Error(
        t.s3.send(
          new PutBucketVersioningCommand({ Bucket: 'plain', VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' } }),
        ),
      );
      expect(mfa.$metadata.httpStatusCode).toBe(501);
      expect((await t.s3.send(new GetBucketVersioningCommand({ Bucket: 'plain' }))).Status).toBeUndefined();
    });
  });

  describe('versions of a key', () => {
    it('gives every write on an Enabled bucket a new id that sorts newest first, and keeps every body', async () => {
      await enable(t.s3, 'ver');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await put(t.s3, 'ver', 'doc', `body ${i}`));
      expect(new Set(ids).size).toBe(5);
      for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._-]+$/);
      expect([...ids].sort()).toEqual([...ids].reverse());
      expect(await body(t.s3, 'ver', 'doc')).toBe('body 4');
      for (let i = 0; i < 5; i++) expect(await body(t.s3, 'ver', 'doc', ids[i])).toBe(`body ${i}`);
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'doc', VersionId: ids[1] }));
      expect(head.VersionId).toBe(ids[1]);
      expect(head.ContentLength).toBe(6);
      const latest = await t.s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'doc' }));
      expect(latest.VersionId).toBe(ids[4]);
      const listed = await allVersions(t, 'ver', { Prefix: 'doc' });
      expect(listed.map((e) => e.id)).toEqual([...ids].reverse());
      expect(listed.map((e) => e.latest)).toEqual([true, false, false, false, false]);
    });

    it('answers an unknown version 404 NoSuchVersion and a malformed id 400', async () => {
      await put(t.s3, 'ver', 'one', 'x');
      const missing = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'one', VersionId: '001fffffffffff0a1b2c' })));
      expect(missing.name).toBe('NoSuchVersion');
      const bad = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'one', VersionId: 'not/an/id' })));
      expect(bad.$metadata.httpStatusCode).toBe(400);
    });

    it('writes on an unversioned bucket make no version id; its object is the "null" version', async () => {
      const res = await t.s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'k', Body: 'v1' }));
      expect(res.VersionId).toBeUndefined();
      expect(await body(t.s3, 'plain', 'k', 'null')).toBe('v1');
    });

    it('Suspended: writes replace the null version and keep the versions made while Enabled', async () => {
      await enable(t.s3, 'sus');
      const kept = await put(t.s3, 'sus', 'k', 'enabled era');
      await enable(t.s3, 'sus', 'Suspended');
      // S3 answers a Suspended bucket's writes without x-amz-version-id (the version made is "null").
      expect(await put(t.s3, 'sus', 'k', 'null one')).toBeUndefined();
      expect(await put(t.s3, 'sus', 'k', 'null two')).toBeUndefined();
      const listed = await allVersions(t, 'sus', { Prefix: 'k' });
      expect(listed.map((e) => [e.id, e.latest])).toEqual([
        ['null', true],
        [kept, false],
      ]);
      expect(await body(t.s3, 'sus', 'k')).toBe('null two');
      expect(await body(t.s3, 'sus', 'k', kept)).toBe('enabled era');
      // A plain delete while Suspended makes a null delete marker in place of the null version.
      const del = await t.s3.send(new DeleteObjectCommand({ Bucket: 'sus', Key: 'k' }));
      expect(del.DeleteMarker).toBe(true);
      expect(del.VersionId).toBe('null');
      const after = await allVersions(t, 'sus', { Prefix: 'k' });
      expect(after.map((e) => [e.id, e.latest, e.marker])).toEqual([
        ['null', true, true],
        [kept, false, false],
      ]);
    });
  });

  describe('delete markers', () => {
    it('a plain delete writes a marker; reads answer 404 with its headers, by id 405; deleting it brings the object back', async () => {
      await enable(t.s3, 'ver');
      const v1 = await put(t.s3, 'ver', 'm', 'first');
      const del = await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'm' }));
      expect(del.DeleteMarker).toBe(true);
      expect(del.VersionId).toBeTruthy();
      expect(del.VersionId).not.toBe(v1);
      const get = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'm' })));
      expect(get.name).toBe('NoSuchKey');
      expect(get.$response?.headers['x-amz-delete-marker']).toBe('true');
      expect(get.$response?.headers['x-amz-version-id']).toBe(del.VersionId);
      const head = await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'm' })));
      expect(head.$metadata.httpStatusCode).toBe(404);
      const byId = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'm', VersionId: del.VersionId })));
      expect(byId.$metadata.httpStatusCode).toBe(405);
      expect(byId.$response?.headers['x-amz-delete-marker']).toBe('true');
      // The old version is still there by id, and listings of objects skip the key.
      expect(await body(t.s3, 'ver', 'm', v1)).toBe('first');
      const listing = await t.s3.send(new ListObjectsV2Command({ Bucket: 'ver', Prefix: 'm' }));
      expect(listing.Contents ?? []).toEqual([]);
      // Deleting the marker by id: the previous version is the latest again.
      const undo = await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'm', VersionId: del.VersionId }));
      expect(undo.DeleteMarker).toBe(true);
      expect(undo.VersionId).toBe(del.VersionId);
      expect(await body(t.s3, 'ver', 'm')).toBe('first');
      const back = await t.s3.send(new ListObjectsV2Command({ Bucket: 'ver', Prefix: 'm' }));
      expect(back.Contents?.map((c) => c.Key)).toEqual(['m']);
    });

    it('deleting the latest version by id promotes the one before; deleting an old one leaves the latest', async () => {
      await enable(t.s3, 'ver');
      const [a, b, c] = [await put(t.s3, 'ver', 'p', 'a'), await put(t.s3, 'ver', 'p', 'b'), await put(t.s3, 'ver', 'p', 'c')];
      const gone = await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'p', VersionId: c }));
      expect(gone.VersionId).toBe(c);
      expect(gone.DeleteMarker).toBeUndefined();
      expect(await body(t.s3, 'ver', 'p')).toBe('b');
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'p', VersionId: a }));
      expect(await body(t.s3, 'ver', 'p')).toBe('b');
      expect((await allVersions(t, 'ver', { Prefix: 'p' })).map((e) => [e.id, e.latest])).toEqual([[b, true]]);
      expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'p', VersionId: c })))).name).toBe('NoSuchVersion');
      // Deleting a version that does not exist succeeds, as in S3.
      const again = await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'p', VersionId: c }));
      expect(again.$metadata.httpStatusCode).toBe(204);
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'p', VersionId: b }));
      expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'p' })))).$metadata.httpStatusCode).toBe(404);
      expect(await allVersions(t, 'ver', { Prefix: 'p' })).toEqual([]);
    });

    it('DeleteObject with If-Match deletes only the version whose ETag matches (412 otherwise, nothing changed)', async () => {
      await enable(t.s3, 'ver');
      const v1 = await put(t.s3, 'ver', 'cond', 'one');
      await put(t.s3, 'ver', 'cond', 'two');
      const etagOf = async (VersionId?: string) =>
        (await t.s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'cond', VersionId }))).ETag!;
      const [e1, e2] = [await etagOf(v1), await etagOf()];
      const wrong = await s3Error(t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'cond', VersionId: v1, IfMatch: e2 })));
      expect(wrong.$metadata.httpStatusCode).toBe(412);
      const noMarker = await s3Error(t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'cond', IfMatch: e1 })));
      expect(noMarker.$metadata.httpStatusCode).toBe(412);
      expect((await allVersions(t, 'ver', { Prefix: 'cond' })).length).toBe(2);
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'cond', VersionId: v1, IfMatch: e1 }));
      const marker = await t.s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'cond', IfMatch: e2 }));
      expect(marker.DeleteMarker).toBe(true);
      expect((await allVersions(t, 'ver', { Prefix: 'cond' })).map((e) => e.marker)).toEqual([true, false]);
    });

    it('DeleteObjects takes VersionId entries and plain keys (markers) in one request', async () => {
      await enable(t.s3, 'ver');
      const x1 = await put(t.s3, 'ver', 'batch/x', 'x1');
      const x2 = await put(t.s3, 'ver', 'batch/x', 'x2');
      await put(t.s3, 'ver', 'batch/y', 'y1');
      const res = await t.s3.send(
        new DeleteObjectsCommand({
          Bucket: 'ver',
          Delete: { Objects: [{ Key: 'batch/x', VersionId: x2 }, { Key: 'batch/y' }, { Key: 'batch/z', VersionId: 'null' }] },
        }),
      );
      expect(res.Errors ?? []).toEqual([]);
      const byKey = new Map(res.Deleted!.map((d) => [d.Key, d]));
      expect(byKey.get('batch/x')!.VersionId).toBe(x2);
      expect(byKey.get('batch/x')!.DeleteMarker).toBeUndefined();
      expect(byKey.get('batch/y')!.DeleteMarker).toBe(true);
      expect(byKey.get('batch/y')!.DeleteMarkerVersionId).toBeTruthy();
      expect(await body(t.s3, 'ver', 'batch/x')).toBe('x1');
      expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'batch/y' })))).name).toBe('NoSuchKey');
      const listed = await allVersions(t, 'ver', { Prefix: 'batch/' });
      expect(listed.map((e) => [e.key, e.id === x1 ? 'x1' : e.marker ? 'marker' : 'y1', e.latest])).toEqual([
        ['batch/x', 'x1', true],
        ['batch/y', 'marker', true],
        ['batch/y', 'y1', false],
      ]);
    });
  });

  describe('ListObjectVersions', () => {
    it('pages through many versions per key with key and version-id markers, in the order of a whole listing', async () => {
      await enable(t.s3, 'list');
      const keys = ['a', 'a+b', 'a-b', 'a/b', 'dir/one', 'dir/two', 'é', 'Z', '_'];
      const made = new Map<string, string[]>();
      for (const key of keys) made.set(key, []);
      for (let round = 0; round < 4; round++) {
        for (const key of keys) made.get(key)!.push(await put(t.s3, 'list', key, `${key}#${round}`));
      }
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'list', Key: 'dir/two' }));
      const whole = await allVersions(t, 'list');
      expect(whole.length).toBe(keys.length * 4 + 1);
      // UTF-8 byte order of keys, newest first within a key.
      const byteOrder = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect([...new Set(whole.map((e) => e.key))]).toEqual(byteOrder);
      for (const key of keys) {
        const ids = whole.filter((e) => e.key === key && !e.marker).map((e) => e.id);
        expect(ids).toEqual([...made.get(key)!].reverse());
        expect(whole.filter((e) => e.key === key && e.latest).length).toBe(1);
      }
      for (const size of [1, 2, 3, 7]) {
        expect(await allVersions(t, 'list', { MaxKeys: size })).toEqual(whole);
      }
    });

    it('rolls keys up at the delimiter, filters by prefix, and URL-encodes with encoding-type=url', async () => {
      const res = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'list', Delimiter: '/' }));
      expect(res.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'dir/']);
      expect([...new Set(res.Versions?.map((v) => v.Key))]).toEqual(['Z', '_', 'a', 'a+b', 'a-b', 'é']);
      const paged: string[] = [];
      let KeyMarker: string | undefined;
      let VersionIdMarker: string | undefined;
      for (;;) {
        const page = await t.s3.send(
          new ListObjectVersionsCommand({ Bucket: 'list', Delimiter: '/', MaxKeys: 3, KeyMarker, VersionIdMarker }),
        );
        paged.push(...(page.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}`), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
        if (!page.IsTruncated) break;
        KeyMarker = page.NextKeyMarker;
        VersionIdMarker = page.NextVersionIdMarker;
      }
      const whole = [...(res.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}`), ...(res.CommonPrefixes ?? []).map((p) => p.Prefix!)];
      expect(paged.sort()).toEqual(whole.sort());
      const dir = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'list', Prefix: 'dir/' }));
      expect(dir.Versions?.length).toBe(8);
      expect(dir.DeleteMarkers?.map((m) => [m.Key, m.IsLatest])).toEqual([['dir/two', true]]);
      const raw = await signedFetch(t, 'GET', `${t.endpoint}/list?versions&encoding-type=url&prefix=%C3%A9`);
      const xml = await raw.text();
      expect(raw.status).toBe(200);
      expect(xml).toContain('<Key>%C3%A9</Key>');
      expect(xml).toContain('<EncodingType>url</EncodingType>');
    });

    it('refuses a version-id marker without a key marker', async () => {
      const res = await signedFetch(t, 'GET', `${t.endpoint}/list?versions&version-id-marker=null`);
      expect(res.status).toBe(400);
    });
  });

  describe('copies and multipart uploads', () => {
    it('CopyObject copies the version named and makes a new version; a marker is no source', async () => {
      await enable(t.s3, 'copy');
      const old = await put(t.s3, 'copy', 'src', 'old bytes');
      await put(t.s3, 'copy', 'src', 'new bytes');
      const res = await t.s3.send(
        new CopyObjectCommand({ Bucket: 'copy', Key: 'dst', CopySource: `copy/src?versionId=${encodeURIComponent(old)}` }),
      );
      expect(res.CopySourceVersionId).toBe(old);
      expect(res.VersionId).toBeTruthy();
      expect(await body(t.s3, 'copy', 'dst')).toBe('old bytes');
      // Restoring an old version onto its own key is a copy too (the same key, a version named).
      const restored = await t.s3.send(new CopyObjectCommand({ Bucket: 'copy', Key: 'src', CopySource: `copy/src?versionId=${old}` }));
      expect(await body(t.s3, 'copy', 'src')).toBe('old bytes');
      expect((await allVersions(t, 'copy', { Prefix: 'src' })).map((e) => e.id)[0]).toBe(restored.VersionId);
      const marker = await t.s3.send(new DeleteObjectCommand({ Bucket: 'copy', Key: 'src' }));
      const noKey = await s3Error(t.s3.send(new CopyObjectCommand({ Bucket: 'copy', Key: 'x', CopySource: 'copy/src' })));
      expect(noKey.name).toBe('NoSuchKey');
      const named = await s3Error(
        t.s3.send(new CopyObjectCommand({ Bucket: 'copy', Key: 'x', CopySource: `copy/src?versionId=${marker.VersionId}` })),
      );
      expect(named.$metadata.httpStatusCode).toBe(400);
    });

    it('Complete makes a new version each time; UploadPartCopy reads the source version named', async () => {
      await enable(t.s3, 'mpu');
      const srcOld = await put(t.s3, 'mpu', 'source', 'S'.repeat(100));
      await put(t.s3, 'mpu', 'source', 'T'.repeat(100));
      const ids: string[] = [];
      for (const fill of ['a', 'b']) {
        const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'big' }));
        const p1 = await t.s3.send(
          new UploadPartCommand({ Bucket: 'mpu', Key: 'big', UploadId, PartNumber: 1, Body: Buffer.alloc(5 << 20, fill) }),
        );
        const p2 = await t.s3.send(
          new UploadPartCopyCommand({ Bucket: 'mpu', Key: 'big', UploadId, PartNumber: 2, CopySource: `mpu/source?versionId=${srcOld}` }),
        );
        expect(p2.CopySourceVersionId).toBe(srcOld);
        const done = await t.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'mpu',
            Key: 'big',
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: p1.ETag },
                { PartNumber: 2, ETag: p2.CopyPartResult!.ETag },
              ],
            },
          }),
        );
        expect(done.VersionId).toBeTruthy();
        ids.push(done.VersionId!);
      }
      expect(ids[0]).not.toBe(ids[1]);
      const first = await body(t.s3, 'mpu', 'big', ids[0]);
      expect(first.length).toBe((5 << 20) + 100);
      expect(first.slice(0, 3)).toBe('aaa');
      expect(first.slice(-3)).toBe('SSS');
      expect((await body(t.s3, 'mpu', 'big')).slice(0, 3)).toBe('bbb');
    });
  });

  describe('metadata of a version', () => {
    it('tags, ACLs and attributes address the version named, leaving the others alone', async () => {
      await enable(t.s3, 'meta');
      const v1 = await put(t.s3, 'meta', 'k', 'one');
      const v2 = await put(t.s3, 'meta', 'k', 'two!');
      const tagged = await t.s3.send(
        new PutObjectTaggingCommand({ Bucket: 'meta', Key: 'k', VersionId: v1, Tagging: { TagSet: [{ Key: 'era', Value: 'old' }] } }),
      );
      expect(tagged.VersionId).toBe(v1);
      const tagsOf = async (VersionId?: string) =>
        (await t.s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'k', VersionId }))).TagSet?.map((x) => `${x.Key}=${x.Value}`);
      expect(await tagsOf(v1)).toEqual(['era=old']);
      expect(await tagsOf(v2)).toEqual([]);
      expect(await tagsOf()).toEqual([]);
      await t.s3.send(new DeleteObjectTaggingCommand({ Bucket: 'meta', Key: 'k', VersionId: v1 }));
      expect(await tagsOf(v1)).toEqual([]);
      await t.s3.send(new PutObjectAclCommand({ Bucket: 'meta', Key: 'k', VersionId: v1, ACL: 'public-read' }));
      const grants = async (VersionId?: string) =>
        (await t.s3.send(new GetObjectAclCommand({ Bucket: 'meta', Key: 'k', VersionId }))).Grants?.length;
      expect(await grants(v1)).toBe(2);
      expect(await grants()).toBe(1);
      const attrs = await t.s3.send(
        new GetObjectAttributesCommand({ Bucket: 'meta', Key: 'k', VersionId: v1, ObjectAttributes: ['ObjectSize', 'ETag'] }),
      );
      expect(attrs.ObjectSize).toBe(3);
      expect(attrs.VersionId).toBe(v1);
      const marker = await t.s3.send(new DeleteObjectCommand({ Bucket: 'meta', Key: 'k' }));
      const onMarker = await s3Error(
        t.s3.send(new PutObjectTaggingCommand({ Bucket: 'meta', Key: 'k', VersionId: marker.VersionId, Tagging: { TagSet: [] } })),
      );
      expect(onMarker.$metadata.httpStatusCode).toBe(405);
      expect((await s3Error(t.s3.send(new GetObjectTaggingCommand({ Bucket: 'meta', Key: 'k' })))).name).toBe('NoSuchKey');
    });
  });

  describe('concurrency and storage', () => {
    it('50 concurrent PUTs of one key make 50 versions, exactly one of them the latest, the newest', async () => {
      await enable(t.s3, 'race');
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => put(t.s3, 'race', 'hot', `v${i}`)));
      expect(new Set(ids).size).toBe(50);
      const listed = await allVersions(t, 'race');
      expect(listed.length).toBe(50);
      expect(listed.filter((e) => e.latest).length).toBe(1);
      expect(listed[0].latest).toBe(true);
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'race', Key: 'hot' }));
      expect(head.VersionId).toBe(listed[0].id);
      // The counts stay exact when writers lose the race for the latest flag and redo under the lock.
      const bucket = (await t.anvil.services.buckets.get('race'))!;
      const bytes = Array.from({ length: 50 }, (_, i) => `v${i}`.length).reduce((a, b) => a + b, 0);
      const last = await body(t.s3, 'race', 'hot');
      expect(await bucketUsage(t.anvil.core.meta.data, bucket.id)).toEqual({
        objects: 1,
        bytes: last.length,
        versions: 50,
        versionBytes: bytes,
        markers: 0,
      });
    });

    it('noncurrent versions keep their bytes; deleting a version releases them; the counts follow every change', async () => {
      await enable(t.s3, 'store');
      const bucket = (await t.anvil.services.buckets.get('store'))!;
      const usage = () => bucketUsage(t.anvil.core.meta.data, bucket.id);
      const blobRefs = async (hash: string) => {
        const row = await t.anvil.core.meta.data.selectFrom('blobs').select('ref_count').where('hash', '=', hash).executeTakeFirst();
        return row ? Number(row.ref_count) : 0;
      };
      const a = await put(t.s3, 'store', 'k', 'A'.repeat(1000));
      const b = await put(t.s3, 'store', 'k', 'B'.repeat(300));
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'store', Key: 'k' }));
      expect(await usage()).toEqual({ objects: 0, bytes: 0, versions: 2, versionBytes: 1300, markers: 1 });
      const rowA = await t.anvil.core.meta.data
        .selectFrom('object_versions')
        .select('manifest')
        .where('bucket_id', '=', bucket.id)
        .where('version_id', '=', a)
        .executeTakeFirstOrThrow();
      const [[hashA]] = JSON.parse(rowA.manifest) as [string, number][];
      expect(await blobRefs(hashA)).toBe(1);
      expect(await body(t.s3, 'store', 'k', a)).toBe('A'.repeat(1000));
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'store', Key: 'k', VersionId: a }));
      expect(await blobRefs(hashA)).toBe(0);
      expect(await usage()).toEqual({ objects: 0, bytes: 0, versions: 1, versionBytes: 300, markers: 1 });
      const marker = (await allVersions(t, 'store')).find((e) => e.marker)!;
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'store', Key: 'k', VersionId: marker.id }));
      expect(await usage()).toEqual({ objects: 1, bytes: 300, versions: 1, versionBytes: 300, markers: 0 });
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'store', Key: 'k', VersionId: b }));
      expect(await usage()).toEqual({ objects: 0, bytes: 0, versions: 0, versionBytes: 0, markers: 0 });
    });
  });
});
