import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
describeEachEngine('tagging', (engine) => {
  const t = useAnvil(engine, { buckets: ['tags'] });

  const tagsOf = async (Key: string) =>
    (await t.s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key }))).TagSet?.map((x) => [x.Key, x.Value]);

  it('stores x-amz-tagging on PUT, reports the count and lists the tags', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'obj', Body: 'x', Tagging: 'project=anvil&team=storage%20core' }));
    expect(await tagsOf('obj')).toEqual([
      ['project', 'anvil'],
      ['team', 'storage core'],
    ]);
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'tags', Key: 'obj' }));
    expect(head.TagCount).toBe(2);
  });

  it('replaces and deletes object tags', async () => {
    await t.s3.send(new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'obj', Tagging: { TagSet: [{ Key: 'only', Value: 'one' }] } }));
    expect(await tagsOf('obj')).toEqual([['only', 'one']]);
    await t.s3.send(new DeleteObjectTaggingCommand({ Bucket: 'tags', Key: 'obj' }));
    expect(await tagsOf('obj')).toEqual([]);
    const missing = await s3Error(t.s3.send(new GetObjectTaggingCommand({ Bucket: 'tags', Key: 'absent' })));
    expect(missing.name).toBe('NoSuchKey');
  });

  it("enforces S3's limits", async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const tooMany = await s3Error(t.s3.send(new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'obj', Tagging: { TagSet: eleven } })));
    expect(tooMany.$metadata.httpStatusCode).toBe(400);
    const longKey = await s3Error(
      t.s3.send(new PutObjectTaggingCommand({ Bucket: 'tags', Key: 'obj', Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: 'v' }] } })),
    );
    expect(longKey.name).toBe('InvalidTag');
    const dup = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'dup', Body: 'x', Tagging: 'a=1&a=2' })));
    expect(dup.name).toBe('InvalidTag');
    const missing = await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'tags', Key: 'dup' })));
    expect(missing.$metadata.httpStatusCode).toBe(404);
    expect(await tagsOf('obj')).toEqual([]);
  });

  it('copies tags by default and replaces them with TaggingDirective REPLACE', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'tags', Key: 'src', Body: 'x', Tagging: 'a=1' }));
    await t.s3.send(new CopyObjectCommand({ Bucket: 'tags', Key: 'copy1', CopySource: 'tags/src' }));
    expect(await tagsOf('copy1')).toEqual([['a', '1']]);
    await t.s3.send(
      new CopyObjectCommand({ Bucket: 'tags', Key: 'copy2', CopySource: 'tags/src', TaggingDirective: 'REPLACE', Tagging: 'b=2' }),
    );
    expect(await tagsOf('copy2')).toEqual([['b', '2']]);
  });

  it('applies tags given at multipart creation', async () => {
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'tags', Key: 'mp', Tagging: 'stage=final' }));
    const p = await t.s3.send(new UploadPartCommand({ Bucket: 'tags', Key: 'mp', UploadId, PartNumber: 1, Body: 'data' }));
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'tags',
        Key: 'mp',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] },
      }),
    );
    expect(await tagsOf('mp')).toEqual([['stage', 'final']]);
  });

  it('sets, reads and deletes bucket tags', async () => {
    const none = await s3Error(t.s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' })));
    expect(none.name).toBe('NoSuchTagSet');
    await t.s3.send(new PutBucketTaggingCommand({ Bucket: 'tags', Tagging: { TagSet: [{ Key: 'cost-center', Value: '42' }] } }));
    const got = await t.s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' }));
    expect(got.TagSet).toEqual([{ Key: 'cost-center', Value: '42' }]);
    await t.s3.send(new DeleteBucketTaggingCommand({ Bucket: 'tags' }));
    expect((await s3Error(t.s3.send(new GetBucketTaggingCommand({ Bucket: 'tags' })))).name).toBe('NoSuchTagSet');
  });
});
