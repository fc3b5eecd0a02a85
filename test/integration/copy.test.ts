import crypto from 'node:crypto';

import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, expect, it } from 'vitest';

import { blobFiles, describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
describeEachEngine('CopyObject', (engine) => {
  const t = useAnvil(engine, { buckets: ['src-bucket', 'dst-bucket'] });
  const body = crypto.randomBytes(100_000);
  beforeAll(async () => {
    await t.s3.send(
      new PutObjectCommand({ Bucket: 'src-bucket', Key: 'orig nal+1.bin', Body: body, ContentType: 'image/png', Metadata: { a: '1' } }),
    );
  });

  it('copies across buckets by sharing blobs, keeping metadata by default', async () => {
    const before = blobFiles(t.dataDir).length;
    const res = await t.s3.send(
      new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'copy/one', CopySource: `src-bucket/${encodeURIComponent('orig nal+1.bin')}` }),
    );
    expect(res.CopyObjectResult?.ETag).toBe(`"${crypto.createHash('md5').update(body).digest('hex')}"`);
    expect(res.CopyObjectResult?.LastModified).toBeInstanceOf(Date);
    expect(blobFiles(t.dataDir).length).toBe(before);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'dst-bucket', Key: 'copy/one' }));
    expect(get.ContentType).toBe('image/png');
    expect(get.Metadata).toEqual({ a: '1' });
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(body)).toBe(true);
    // Deleting the source leaves the copy intact: the blob is still referenced.
    await t.s3.send(new PutObjectCommand({ Bucket: 'src-bucket', Key: 'temp', Body: body }));
    await t.s3.send(new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'copy/two', CopySource: 'src-bucket/temp' }));
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'src-bucket', Key: 'temp' }));
    const again = await t.s3.send(new GetObjectCommand({ Bucket: 'dst-bucket', Key: 'copy/two' }));
    expect(Buffer.from(await again.Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('replaces metadata with REPLACE, also onto itself, and refuses a plain self-copy', async () => {
    await t.s3.send(
      new CopyObjectCommand({
        Bucket: 'src-bucket',
        Key: 'orig nal+1.bin',
        CopySource: `/src-bucket/${encodeURIComponent('orig nal+1.bin')}`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/plain',
        Metadata: { b: '2' },
      }),
    );
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'src-bucket', Key: 'orig nal+1.bin' }));
    expect(head.ContentType).toBe('text/plain');
    expect(head.Metadata).toEqual({ b: '2' });
    const err = await s3Error(
      t.s3.send(
        new CopyObjectCommand({
          Bucket: 'src-bucket',
          Key: 'orig nal+1.bin',
          CopySource: `src-bucket/${encodeURIComponent('orig nal+1.bin')}`,
        }),
      ),
    );
    expect(err.name).toBe('InvalidRequest');
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'src-bucket', Key: 'orig nal+1.bin' }));
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('honours copy-source conditions', async () => {
    const src = `src-bucket/${encodeURIComponent('orig nal+1.bin')}`;
    const etag = `"${crypto.createHash('md5').update(body).digest('hex')}"`;
    const ok = await t.s3.send(new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'cond', CopySource: src, CopySourceIfMatch: etag }));
    expect(ok.CopyObjectResult?.ETag).toBe(etag);
    for (const cmd of [
      new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'cond2', CopySource: src, CopySourceIfMatch: '"nope"' }),
      new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'cond2', CopySource: src, CopySourceIfNoneMatch: etag }),
      new CopyObjectCommand({
        Bucket: 'dst-bucket',
        Key: 'cond2',
        CopySource: src,
        CopySourceIfUnmodifiedSince: new Date(Date.now() - 3600_000),
      }),
    ]) {
      const err = await s3Error(t.s3.send(cmd));
      expect(err.name).toBe('PreconditionFailed');
      expect(err.$metadata.httpStatusCode).toBe(412);
    }
    const missing = await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'dst-bucket', Key: 'cond2' })));
    expect(missing.$metadata.httpStatusCode).toBe(404);
  });

  it('answers NoSuchKey and NoSuchBucket for missing sources', async () => {
    const noKey = await s3Error(t.s3.send(new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'x', CopySource: 'src-bucket/absent' })));
    expect(noKey.name).toBe('NoSuchKey');
    const noBucket = await s3Error(t.s3.send(new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'x', CopySource: 'no-such-src/absent' })));
    expect(noBucket.name).toBe('NoSuchBucket');
  });
});
