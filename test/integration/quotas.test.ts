/**
 * Storage quotas of buckets and tenants (README § Quotas and rate limits),
 * on both engines, through the real SDK: what a quota counts (every stored
 * version, noncurrent ones too, and the parts of uploads in progress), the
 * 403 QuotaExceeded of PUT, UploadPart, CompleteMultipartUpload and
 * CopyObject, space freed by deletes, exactness under concurrent writers,
 * and that a refused write leaves nothing behind (rows, blobs, staged files).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, expect, it } from 'vitest';

import { adminApi } from '../support/admin-api.js';
import { blobFiles, describeEachEngine, s3Error, stagedFiles, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

const KiB = 1024;

describeEachEngine('storage quotas', (engine) => {
  const t = useAnvil(engine);
  let s3: S3Client;

  const put = (Bucket: string, Key: string, size: number, fill = 1) =>
    s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(size, fill) }));
  const keys = async (Bucket: string) => ((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? []).map((o) => o.Key);
  const usage = async () => (await adminApi(t, 'GET', 'tenants/quota')).usage as { bytes: number; objects: number };
  const bucketQuota = (bucket: string, quota: { bytes?: number | null; objects?: number | null }) =>
    adminApi(t, 'PATCH', `buckets/${bucket}`, { quota });
  const tenantQuota = (quota: { bytes?: number | null; objects?: number | null }) => adminApi(t, 'PATCH', 'tenants/quota', { quota });
  const quotaError = async (p: Promise<unknown>) => {
    const err = await s3Error(p);
    expect(err.name).toBe('QuotaExceeded');
    expect(err.$metadata.httpStatusCode).toBe(403);
    return err;
  };

  beforeAll(async () => {
    await adminApi(t, 'POST', 'tenants', { name: 'quota' });
    const key = await adminApi(t, 'POST', 'tenants/quota/keys', {});
    s3 = t.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  });

  it('a bucket byte quota refuses the PUT that would pass it; deletes free the space', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'q-bytes' }));
    const view = await bucketQuota('q-bytes', { bytes: 10 * KiB });
    expect(view.quota).toEqual({ bytes: 10 * KiB, objects: null });
    await put('q-bytes', 'a', 6 * KiB);
    const before = { usage: await usage(), blobs: blobFiles(t.dataDir).length };
    const err = await quotaError(put('q-bytes', 'b', 6 * KiB, 2));
    expect(err.message).toMatch(/bucket storage quota/);
    // Nothing changed: no key, no usage, no blob, no staged file.
    expect(await keys('q-bytes')).toEqual(['a']);
    expect(await usage()).toEqual(before.usage);
    expect(blobFiles(t.dataDir).length).toBe(before.blobs);
    expect(stagedFiles(t.dataDir)).toEqual([]);
    // Up to the quota exactly is fine; an overwrite counts what it adds, not what it writes.
    await put('q-bytes', 'b', 4 * KiB, 3);
    await put('q-bytes', 'a', 6 * KiB, 4);
    await quotaError(put('q-bytes', 'c', 1));
    await s3.send(new DeleteObjectCommand({ Bucket: 'q-bytes', Key: 'a' }));
    await put('q-bytes', 'c', 6 * KiB, 5);
    expect(await keys('q-bytes')).toEqual(['b', 'c']);
    // Removed: no limit.
    await bucketQuota('q-bytes', { bytes: null });
    await put('q-bytes', 'd', 20 * KiB, 6);
  });

  it('an object-count quota counts stored versions; an overwrite of an unversioned key adds none', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'q-count' }));
    await bucketQuota('q-count', { objects: 2 });
    await put('q-count', 'a', 10);
    await put('q-count', 'b', 10);
    await quotaError(put('q-count', 'c', 10));
    await put('q-count', 'a', 20, 2);
    await s3.send(new DeleteObjectCommand({ Bucket: 'q-count', Key: 'b' }));
    await put('q-count', 'c', 10);
    expect(await keys('q-count')).toEqual(['a', 'c']);
  });

  it('noncurrent versions count; a refusal decided in the commit (Suspended bucket) leaves no blob either', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'q-versions' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'q-versions', VersioningConfiguration: { Status: 'Enabled' } }));
    await bucketQuota('q-versions', { bytes: 10 * KiB });
    const first = await put('q-versions', 'k', 6 * KiB);
    await quotaError(put('q-versions', 'k', 6 * KiB, 2));
    // A delete marker stores nothing; the version it hides still counts.
    await s3.send(new DeleteObjectCommand({ Bucket: 'q-versions', Key: 'k' }));
    await quotaError(put('q-versions', 'other', 6 * KiB, 3));
    await s3.send(new DeleteObjectCommand({ Bucket: 'q-versions', Key: 'k', VersionId: first.VersionId }));
    await put('q-versions', 'k', 6 * KiB, 4);

    // Suspended: a write replaces the key's null version wherever it is, so only the commit can
    // tell; the body is staged and placed, then refused, and everything it wrote goes again.
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'q-versions', VersioningConfiguration: { Status: 'Suspended' } }));
    const before = {
      blobs: blobFiles(t.dataDir).length,
      usage: await usage(),
      versions: (await s3.send(new ListObjectVersionsCommand({ Bucket: 'q-versions' }))).Versions?.length,
    };
    await quotaError(put('q-versions', 'k', 6 * KiB, 5));
    expect(blobFiles(t.dataDir).length).toBe(before.blobs);
    expect(stagedFiles(t.dataDir)).toEqual([]);
    expect(await usage()).toEqual(before.usage);
    expect((await s3.send(new ListObjectVersionsCommand({ Bucket: 'q-versions' }))).Versions?.length).toBe(before.versions);
  });

  it('multipart: parts in progress count at UploadPart; Complete is checked too; an abort frees the parts', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'q-multi' }));
    await bucketQuota('q-multi', { bytes: 1024 * KiB });
    const upload = async (Key: string) => (await s3.send(new CreateMultipartUploadCommand({ Bucket: 'q-multi', Key }))).UploadId!;
    const part = (Key: string, UploadId: string, PartNumber: number, size: number) =>
      s3.send(new UploadPartCommand({ Bucket: 'q-multi', Key, UploadId, PartNumber, Body: Buffer.alloc(size, PartNumber) }));
    const complete = (Key: string, UploadId: string, parts: Array<{ PartNumber: number; ETag?: string }>) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket: 'q-multi', Key, UploadId, MultipartUpload: { Parts: parts } }));

    const one = await upload('one');
    const p1 = await part('one', one, 1, 600 * KiB);
    await quotaError(part('one', one, 2, 600 * KiB));
    // The same part number again replaces the part: it adds only the difference.
    const p1b = await part('one', one, 1, 700 * KiB);
    await complete('one', one, [{ PartNumber: 1, ETag: p1b.ETag }]);
    expect(p1.ETag).not.toBe(p1b.ETag);

    // A Complete under a quota lowered meanwhile is refused; the upload stays, an abort frees it.
    const two = await upload('two');
    const q1 = await part('two', two, 1, 200 * KiB);
    await bucketQuota('q-multi', { bytes: 800 * KiB });
    await quotaError(complete('two', two, [{ PartNumber: 1, ETag: q1.ETag }]));
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'q-multi' }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toEqual([two]);
    expect(await keys('q-multi')).toEqual(['one']);
    const atQuota = await usage();
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'q-multi', Key: 'two', UploadId: two }));
    expect((await usage()).bytes).toBe(atQuota.bytes - 200 * KiB);
  });

  it('CopyObject stores a version: the destination quota counts it, and a refused copy changes nothing', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'q-copy' }));
    await put('q-copy', 'src', 600 * KiB);
    await bucketQuota('q-copy', { bytes: 1024 * KiB });
    const before = await usage();
    await quotaError(s3.send(new CopyObjectCommand({ Bucket: 'q-copy', Key: 'dst', CopySource: 'q-copy/src' })));
    expect(await keys('q-copy')).toEqual(['src']);
    expect(await usage()).toEqual(before);
    // A copy onto itself (an unversioned replace) adds nothing.
    await s3.send(
      new CopyObjectCommand({ Bucket: 'q-copy', Key: 'src', CopySource: 'q-copy/src', MetadataDirective: 'REPLACE', ContentType: 'x/y' }),
    );
  });

  it('a tenant quota sums every bucket of the tenant, and the admin API shows it with the usage it counts', async () => {
    await bucketQuota('q-bytes', { bytes: null });
    const buckets = ['q-bytes', 'q-count', 'q-versions', 'q-multi', 'q-copy'];
    for (const b of buckets) await bucketQuota(b, { bytes: null, objects: null });
    const now = await usage();
    const shown = await tenantQuota({ bytes: now.bytes + 10 * KiB, objects: now.objects + 5 });
    expect(shown).toMatchObject({ name: 'quota', quota: { bytes: now.bytes + 10 * KiB, objects: now.objects + 5 }, usage: now });
    await put('q-bytes', 't1', 6 * KiB);
    const err = await quotaError(put('q-count', 't2', 6 * KiB));
    expect(err.message).toMatch(/tenant storage quota/);
    await put('q-count', 't2', 4 * KiB);
    expect(await usage()).toEqual({ bytes: now.bytes + 10 * KiB, objects: now.objects + 2 });
    const list = await adminApi(t, 'GET', 'tenants');
    expect(list.tenants.find((x: { name: string }) => x.name === 'quota')).toMatchObject({ usage: await usage() });
    await tenantQuota({ bytes: null, objects: null });
    await put('q-count', 't3', 20 * KiB);
  });

  it('concurrent PUTs cannot pass a quota together: exactly as many as fit succeed (bucket and tenant quotas)', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'q-race' }));
    await bucketQuota('q-race', { bytes: 100 * KiB });
    const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => put('q-race', `k${i}`, 10 * KiB, i)));
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused) expect((r as PromiseRejectedResult).reason.name).toBe('QuotaExceeded');
    expect(results.length - refused.length).toBe(10);
    expect((await keys('q-race')).length).toBe(10);
    await bucketQuota('q-race', { bytes: null });

    // Tenant-wide, across two buckets (different bucket locks: the tenant lock orders them).
    await s3.send(new CreateBucketCommand({ Bucket: 'q-race2' }));
    const now = await usage();
    await tenantQuota({ bytes: now.bytes + 80 * KiB });
    const mixed = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => put(i % 2 ? 'q-race' : 'q-race2', `t${i}`, 10 * KiB, i)));
    expect(mixed.filter((r) => r.status === 'fulfilled').length).toBe(8);
    expect((await usage()).bytes).toBe(now.bytes + 80 * KiB);
    await tenantQuota({ bytes: null });
  });

  it("a bucket quota counts what every branch of the bucket stores; branches' writes race under one lock", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'q-branch' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'q-branch', VersioningConfiguration: { Status: 'Enabled' } }));
    await put('q-branch', 'a', 10 * KiB);
    await adminApi(t, 'POST', 'buckets/q-branch/branches', { name: 'dev' });
    await adminApi(t, 'POST', 'buckets/q-branch/branches', { name: 'ops' });
    // Making a branch stores nothing: the tenant's usage did not move.
    const before = await usage();
    await adminApi(t, 'POST', 'buckets/q-branch/branches', { name: 'tmp' });
    expect(await usage()).toEqual(before);
    await bucketQuota('q-branch', { bytes: 100 * KiB });
    await put('q-branch--dev', 'b', 40 * KiB, 2);
    await put('q-branch', 'c', 40 * KiB, 3);
    // 90 KiB stored over main and dev: a write on the third branch that would pass 100 KiB is refused.
    const err = await quotaError(put('q-branch--ops', 'd', 20 * KiB, 4));
    expect(err.message).toMatch(/bucket storage quota/);
    expect(await keys('q-branch--ops')).toEqual(['a']);
    await put('q-branch--ops', 'd', 10 * KiB, 5);

    // Concurrent writers on main and two branches (each holds only its own branch's row): exactly what fits.
    await bucketQuota('q-branch', { bytes: 200 * KiB });
    const results = await Promise.allSettled(
      Array.from({ length: 18 }, (_, i) => put(['q-branch', 'q-branch--dev', 'q-branch--ops'][i % 3]!, `r${i}`, 10 * KiB, i)),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused) expect((r as PromiseRejectedResult).reason.name).toBe('QuotaExceeded');
    expect(results.length - refused.length).toBe(10);
  });

  it('refuses a quota that is not a whole number from 0', async () => {
    const res = await signedFetch(t, 'PATCH', `${t.endpoint}/admin/v1/tenants/quota`, {
      body: JSON.stringify({ quota: { bytes: -1 } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
  });
});
