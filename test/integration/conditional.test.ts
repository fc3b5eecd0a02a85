import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
describeEachEngine('conditional requests', (engine) => {
  const t = useAnvil(engine, { buckets: ['cond'] });

  it('PUT with If-None-Match: * creates once and then answers 412', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'once', Body: 'first', IfNoneMatch: '*' }));
    const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'once', Body: 'second', IfNoneMatch: '*' })));
    expect(err.name).toBe('PreconditionFailed');
    expect(err.$metadata.httpStatusCode).toBe(412);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'once' }));
    expect(await get.Body!.transformToString()).toBe('first');
  });

  it('lets exactly one of 20 concurrent If-None-Match: * PUTs win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'race', Body: `writer-${i}`, IfNoneMatch: '*' })),
      ),
    );
    const winners = results.map((r, i) => (r.status === 'fulfilled' ? i : -1)).filter((i) => i >= 0);
    expect(winners).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected')
        expect([412, 409]).toContain((r.reason as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'race' }));
    expect(await get.Body!.transformToString()).toBe(`writer-${winners[0]}`);
  });

  it('PUT with If-Match replaces only the expected version (compare-and-swap)', async () => {
    const v1 = await t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'cas', Body: 'v1' }));
    const v2 = await t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'cas', Body: 'v2', IfMatch: v1.ETag }));
    const stale = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'cas', Body: 'v3', IfMatch: v1.ETag })));
    expect(stale.$metadata.httpStatusCode).toBe(412);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'cas' }));
    expect(get.ETag).toBe(v2.ETag);
    const absent = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'absent', Body: 'x', IfMatch: v1.ETag })));
    expect(absent.$metadata.httpStatusCode).toBe(404);
  });

  it('CompleteMultipartUpload honours If-None-Match: *', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'mp-exists', Body: 'already' }));
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'cond', Key: 'mp-exists' }));
    const p = await t.s3.send(new UploadPartCommand({ Bucket: 'cond', Key: 'mp-exists', UploadId, PartNumber: 1, Body: 'new' }));
    const err = await s3Error(
      t.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'cond',
          Key: 'mp-exists',
          UploadId,
          IfNoneMatch: '*',
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] },
        }),
      ),
    );
    expect(err.$metadata.httpStatusCode).toBe(412);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'mp-exists' }));
    expect(await get.Body!.transformToString()).toBe('already');
  });

  it('GET and HEAD follow If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since', async () => {
    const put = await t.s3.send(new PutObjectCommand({ Bucket: 'cond', Key: 'read', Body: 'content' }));
    const past = new Date(Date.now() - 3600_000);
    const future = new Date(Date.now() + 3600_000);
    const ok = await t.s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'read', IfMatch: put.ETag }));
    expect(await ok.Body!.transformToString()).toBe('content');
    expect(
      (await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'cond', Key: 'read', IfMatch: '"other"' })))).$metadata.httpStatusCode,
    ).toBe(412);
    expect(
      (await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'cond', Key: 'read', IfNoneMatch: put.ETag })))).$metadata.httpStatusCode,
    ).toBe(304);
    expect(
      (await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'cond', Key: 'read', IfModifiedSince: future })))).$metadata.httpStatusCode,
    ).toBe(304);
    expect(
      (await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'cond', Key: 'read', IfUnmodifiedSince: past })))).$metadata.httpStatusCode,
    ).toBe(412);
    // S3 precedence: a true If-Match overrides a false If-Unmodified-Since.
    const both = await t.s3.send(new HeadObjectCommand({ Bucket: 'cond', Key: 'read', IfMatch: put.ETag, IfUnmodifiedSince: past }));
    expect(both.$metadata.httpStatusCode).toBe(200);
    // ... and a false If-None-Match overrides a true If-Modified-Since.
    const modified = await t.s3.send(
      new HeadObjectCommand({ Bucket: 'cond', Key: 'read', IfNoneMatch: '"other"', IfModifiedSince: future }),
    );
    expect(modified.$metadata.httpStatusCode).toBe(200);
  });

  it('applies response-* overrides on signed GETs', async () => {
    const get = await t.s3.send(
      new GetObjectCommand({
        Bucket: 'cond',
        Key: 'read',
        ResponseContentType: 'application/x-override',
        ResponseContentDisposition: 'attachment; filename="o.txt"',
        ResponseCacheControl: 'no-store',
      }),
    );
    expect(get.ContentType).toBe('application/x-override');
    expect(get.ContentDisposition).toBe('attachment; filename="o.txt"');
    expect(get.CacheControl).toBe('no-store');
    await get.Body!.transformToString();
  });
});
