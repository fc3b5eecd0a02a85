import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectAttributesCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketAclCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
describeEachEngine('uploads, versions, attributes and ACL listings', (engine) => {
  const t = useAnvil(engine, { buckets: ['info'] });

  it('lists in-progress multipart uploads with prefixes, delimiter and pagination', async () => {
    const ids: Record<string, string> = {};
    for (const key of ['a/1', 'a/2', 'b', 'c/x/y']) {
      const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'info', Key: key }));
      ids[key] = UploadId!;
    }
    const second = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'info', Key: 'b' }));
    const all = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: 'info' }));
    expect(all.Uploads?.map((u) => u.Key)).toEqual(['a/1', 'a/2', 'b', 'b', 'c/x/y']);
    expect(all.Uploads?.[0].UploadId).toBe(ids['a/1']);
    expect(all.Uploads?.[0].Initiated).toBeInstanceOf(Date);
    const rolled = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: 'info', Delimiter: '/' }));
    expect(rolled.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'c/']);
    expect(rolled.Uploads?.map((u) => u.Key)).toEqual(['b', 'b']);
    const page = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: 'info', MaxUploads: 2 }));
    expect(page.IsTruncated).toBe(true);
    const rest = await t.s3.send(
      new ListMultipartUploadsCommand({ Bucket: 'info', KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker }),
    );
    expect([...page.Uploads!, ...rest.Uploads!].map((u) => u.UploadId).sort()).toEqual([...Object.values(ids), second.UploadId!].sort());
    const prefixed = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: 'info', Prefix: 'c/' }));
    expect(prefixed.Uploads?.map((u) => u.Key)).toEqual(['c/x/y']);
  });

  it('lists current objects as null versions', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'info', Key: 'v/one', Body: '1' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'info', Key: 'v/two', Body: '22' }));
    const res = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'info', Prefix: 'v/' }));
    expect(res.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size])).toEqual([
      ['v/one', 'null', true, 1],
      ['v/two', 'null', true, 2],
    ]);
    const paged = await t.s3.send(new ListObjectVersionsCommand({ Bucket: 'info', Prefix: 'v/', MaxKeys: 1 }));
    expect(paged.IsTruncated).toBe(true);
    expect(paged.NextKeyMarker).toBe('v/one');
  });

  it('returns object attributes, including parts of a multipart object', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'info', Key: 'attr', Body: 'hello', ChecksumAlgorithm: 'SHA256' }));
    const a = await t.s3.send(
      new GetObjectAttributesCommand({ Bucket: 'info', Key: 'attr', ObjectAttributes: ['ETag', 'Checksum', 'ObjectSize', 'StorageClass'] }),
    );
    expect(a.ETag).toBe('5d41402abc4b2a76b9719d911017c592');
    expect(a.ObjectSize).toBe(5);
    expect(a.StorageClass).toBe('STANDARD');
    expect(a.Checksum?.ChecksumSHA256).toBe('LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=');
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'info', Key: 'parts' }));
    const p1 = await t.s3.send(
      new UploadPartCommand({ Bucket: 'info', Key: 'parts', UploadId, PartNumber: 1, Body: Buffer.alloc(5 * 1024 * 1024) }),
    );
    const p2 = await t.s3.send(new UploadPartCommand({ Bucket: 'info', Key: 'parts', UploadId, PartNumber: 2, Body: 'end' }));
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'info',
        Key: 'parts',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    const mp = await t.s3.send(
      new GetObjectAttributesCommand({ Bucket: 'info', Key: 'parts', ObjectAttributes: ['ObjectParts', 'ObjectSize'] }),
    );
    expect(mp.ObjectParts?.TotalPartsCount).toBe(2);
    expect(mp.ObjectSize).toBe(5 * 1024 * 1024 + 3);
    const missing = await s3Error(t.s3.send(new GetObjectAttributesCommand({ Bucket: 'info', Key: 'nope', ObjectAttributes: ['ETag'] })));
    expect(missing.name).toBe('NoSuchKey');
  });

  it('reports owner-only ACLs, accepts "private" and refuses ACLs it cannot enforce', async () => {
    const acl = await t.s3.send(new GetBucketAclCommand({ Bucket: 'info' }));
    expect(acl.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
    expect(acl.Grants).toHaveLength(1);
    expect(acl.Grants?.[0].Permission).toBe('FULL_CONTROL');
    expect(acl.Grants?.[0].Grantee?.ID).toBe(acl.Owner?.ID);
    expect(acl.Grants?.[0].Grantee?.Type).toBe('CanonicalUser');
    const objAcl = await t.s3.send(new GetObjectAclCommand({ Bucket: 'info', Key: 'attr' }));
    expect(objAcl.Grants?.[0].Permission).toBe('FULL_CONTROL');
    await t.s3.send(new PutBucketAclCommand({ Bucket: 'info', ACL: 'private' }));
    for (const ACL of ['public-read-write', 'authenticated-read'] as const) {
      const err = await s3Error(t.s3.send(new PutBucketAclCommand({ Bucket: 'info', ACL })));
      expect(err.$metadata.httpStatusCode).toBe(501);
    }
    const grant = await s3Error(
      t.s3.send(new PutBucketAclCommand({ Bucket: 'info', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"' })),
    );
    expect(grant.$metadata.httpStatusCode).toBe(501);
    // Nothing changed.
    expect((await t.s3.send(new GetBucketAclCommand({ Bucket: 'info' }))).Grants).toHaveLength(1);
  });
});
