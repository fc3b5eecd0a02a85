import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, startTestAnvil, useAnvil } from '../support/anvil.js';
describeEachEngine('buckets', (engine) => {
  const t = useAnvil(engine);

  it('creates, lists, heads, locates and deletes a bucket', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
    const head = await t.s3.send(new HeadBucketCommand({ Bucket: 'photos' }));
    expect(head.$metadata.httpStatusCode).toBe(200);
    expect(head.BucketRegion).toBe('us-east-1');
    const list = await t.s3.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toContain('photos');
    expect(list.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
    expect(list.Buckets?.find((b) => b.Name === 'photos')?.CreationDate).toBeInstanceOf(Date);
    const loc = await t.s3.send(new GetBucketLocationCommand({ Bucket: 'photos' }));
    expect(loc.LocationConstraint ?? '').toBe('');
    await t.s3.send(new DeleteBucketCommand({ Bucket: 'photos' }));
    const gone = await s3Error(t.s3.send(new HeadBucketCommand({ Bucket: 'photos' })));
    expect(gone.$metadata.httpStatusCode).toBe(404);
    const list2 = await t.s3.send(new ListBucketsCommand({}));
    expect(list2.Buckets?.map((b) => b.Name) ?? []).not.toContain('photos');
  });

  it('answers BucketAlreadyOwnedByYou when creating twice', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'twice' }));
    const err = await s3Error(t.s3.send(new CreateBucketCommand({ Bucket: 'twice' })));
    expect(err.name).toBe('BucketAlreadyOwnedByYou');
    expect(err.$metadata.httpStatusCode).toBe(409);
    expect(err.$metadata.requestId).toMatch(/^[0-9A-F]{16}$/);
  });

  it('answers BucketAlreadyExists for a bucket of another tenant', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'taken' }));
    await t.anvil.services.tenants.createTenant('other');
    const key = await t.anvil.services.tenants.createKey('other');
    const other = t.client(key);
    const err = await s3Error(other.send(new CreateBucketCommand({ Bucket: 'taken' })));
    expect(err.name).toBe('BucketAlreadyExists');
    const denied = await s3Error(other.send(new HeadBucketCommand({ Bucket: 'taken' })));
    expect(denied.$metadata.httpStatusCode).toBe(403);
    const list = await other.send(new ListBucketsCommand({}));
    expect(list.Buckets ?? []).toEqual([]);
  });

  it.each(['ab', 'UPPER', 'has_underscore', '-start', 'end-', 'a..b', '192.168.1.1', 'x'.repeat(64), 'xn--punycode'])(
    'rejects the bucket name %s with InvalidBucketName',
    async (name) => {
      const err = await s3Error(t.s3.send(new CreateBucketCommand({ Bucket: name })));
      expect(err.name).toBe('InvalidBucketName');
      expect(err.$metadata.httpStatusCode).toBe(400);
      const list = await t.s3.send(new ListBucketsCommand({}));
      expect(list.Buckets?.map((b) => b.Name)).not.toContain(name);
    },
  );

  it('accepts a LocationConstraint equal to its region and refuses another', async () => {
    const west = await startTestAnvil(engine, { region: 'eu-west-1' });
    try {
      await west.s3.send(new CreateBucketCommand({ Bucket: 'euro', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
      const loc = await west.s3.send(new GetBucketLocationCommand({ Bucket: 'euro' }));
      expect(loc.LocationConstraint).toBe('eu-west-1');
      const err = await s3Error(
        west.s3.send(new CreateBucketCommand({ Bucket: 'asia', CreateBucketConfiguration: { LocationConstraint: 'ap-south-1' } })),
      );
      expect(err.name).toBe('IllegalLocationConstraintException');
    } finally {
      await west.stop();
    }
  });

  it('refuses to delete a non-empty bucket with BucketNotEmpty', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'full' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'k', Body: 'x' }));
    const err = await s3Error(t.s3.send(new DeleteBucketCommand({ Bucket: 'full' })));
    expect(err.name).toBe('BucketNotEmpty');
    expect(err.$metadata.httpStatusCode).toBe(409);
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'full', Key: 'k' }));
    await t.s3.send(new DeleteBucketCommand({ Bucket: 'full' }));
  });

  it('answers NoSuchBucket for a missing bucket', async () => {
    const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'nowhere', Key: 'k', Body: 'x' })));
    expect(err.name).toBe('NoSuchBucket');
    expect(err.$metadata.httpStatusCode).toBe(404);
  });
});
