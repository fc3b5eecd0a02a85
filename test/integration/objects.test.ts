import crypto from 'node:crypto';

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { expect, it, vi } from 'vitest';

import { blobFiles, describeEachEngine, s3Error, stagedFiles, useAnvil } from '../support/anvil.js';
function md5hex(b: Buffer | string): string {
  return crypto.createHash('md5').update(b).digest('hex');
}

describeEachEngine('objects', (engine) => {
  const t = useAnvil(engine, { buckets: ['data'] });

  it('stores and returns a body with a default PutObjectCommand (CRC32 trailer)', async () => {
    const body = crypto.randomBytes(300_000);
    const put = await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'random.bin', Body: body }));
    expect(put.ETag).toBe(`"${md5hex(body)}"`);
    expect(put.ChecksumCRC32).toBeDefined();
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'random.bin', ChecksumMode: 'ENABLED' }));
    const got = Buffer.from(await get.Body!.transformToByteArray());
    expect(got.equals(body)).toBe(true);
    expect(get.ETag).toBe(put.ETag);
    expect(get.ContentLength).toBe(body.length);
    expect(get.ChecksumCRC32).toBe(put.ChecksumCRC32);
    expect(get.$metadata.requestId).toMatch(/^[0-9A-F]{16}$/);
  });

  it('stores user metadata and the standard headers', async () => {
    const expires = new Date('2030-01-02T03:04:05Z');
    await t.s3.send(
      new PutObjectCommand({
        Bucket: 'data',
        Key: 'doc.txt',
        Body: 'hello',
        ContentType: 'text/plain; charset=utf-8',
        ContentEncoding: 'identity',
        ContentDisposition: 'attachment; filename="doc.txt"',
        ContentLanguage: 'en-GB',
        CacheControl: 'max-age=60',
        Expires: expires,
        Metadata: { author: 'ada', 'multi-word': 'a b  c' },
      }),
    );
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'data', Key: 'doc.txt' }));
    expect(head.ContentType).toBe('text/plain; charset=utf-8');
    expect(head.ContentEncoding).toBe('identity');
    expect(head.ContentDisposition).toBe('attachment; filename="doc.txt"');
    expect(head.ContentLanguage).toBe('en-GB');
    expect(head.CacheControl).toBe('max-age=60');
    expect(head.Expires?.getTime()).toBe(expires.getTime());
    expect(head.Metadata).toEqual({ author: 'ada', 'multi-word': 'a b  c' });
    expect(head.ContentLength).toBe(5);
    expect(head.ETag).toBe(`"${md5hex('hello')}"`);
    expect(head.LastModified).toBeInstanceOf(Date);
    expect(Math.abs(head.LastModified!.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it.each([
    'with space.txt',
    'plus+sign',
    'percent%20literal',
    'unicode/日本語/ファイル',
    'émoji-😀',
    'double//slash',
    '/leading-slash',
    'trailing/',
    'tilde~and*star(paren)',
    'quote\'and"dq',
    '?question&amp=x#hash',
    'k'.repeat(1024),
  ])('round-trips the key %s', async (key) => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: key }));
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: key }));
    expect(await get.Body!.transformToString()).toBe(key);
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: key }));
    const err = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: key })));
    expect(err.name).toBe('NoSuchKey');
  });

  it('rejects a key longer than 1024 bytes with KeyTooLongError', async () => {
    const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'é'.repeat(513), Body: 'x' })));
    expect(err.name).toBe('KeyTooLongError');
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it('stores an empty object', async () => {
    const put = await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'empty', Body: '' }));
    expect(put.ETag).toBe(`"${md5hex('')}"`);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'empty' }));
    expect((await get.Body!.transformToByteArray()).length).toBe(0);
    expect(get.ContentLength).toBe(0);
  });

  it('serves byte ranges in every form and refuses unsatisfiable ones', async () => {
    const body = Buffer.from('0123456789abcdefghij');
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'ranged', Body: body }));
    const read = async (range: string) => {
      const res = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'ranged', Range: range }));
      return { text: await res.Body!.transformToString(), contentRange: res.ContentRange, status: res.$metadata.httpStatusCode };
    };
    expect(await read('bytes=2-5')).toEqual({ text: '2345', contentRange: 'bytes 2-5/20', status: 206 });
    expect(await read('bytes=15-')).toEqual({ text: 'fghij', contentRange: 'bytes 15-19/20', status: 206 });
    expect(await read('bytes=-3')).toEqual({ text: 'hij', contentRange: 'bytes 17-19/20', status: 206 });
    expect(await read('bytes=10-999')).toEqual({ text: 'abcdefghij', contentRange: 'bytes 10-19/20', status: 206 });
    const err = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'ranged', Range: 'bytes=20-' })));
    expect(err.name).toBe('InvalidRange');
    expect(err.$metadata.httpStatusCode).toBe(416);
  });

  it('stores identical content once and removes the blob when the last reference goes', async () => {
    const before = blobFiles(t.dataDir).length;
    const body = crypto.randomBytes(50_000);
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'dup-1', Body: body }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'dup-2', Body: body }));
    expect(blobFiles(t.dataDir).length).toBe(before + 1);
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'dup-1' }));
    expect(blobFiles(t.dataDir).length).toBe(before + 1);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'dup-2' }));
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(body)).toBe(true);
    // Overwriting the last reference releases the blob too.
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'dup-2', Body: 'small' }));
    expect(blobFiles(t.dataDir).length).toBe(before + 1);
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'dup-2' }));
    expect(blobFiles(t.dataDir).length).toBe(before);
    expect(stagedFiles(t.dataDir)).toEqual([]);
  });

  it('deletes a batch with DeleteObjects, reporting each key, and in Quiet mode only errors', async () => {
    const before = blobFiles(t.dataDir).length;
    const keys = Array.from({ length: 30 }, (_, i) => `batch/${i} & <xml>`);
    await Promise.all(keys.map((k) => t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: k, Body: k }))));
    const res = await t.s3.send(
      new DeleteObjectsCommand({
        Bucket: 'data',
        Delete: { Objects: [...keys.slice(0, 20).map((Key) => ({ Key })), { Key: 'batch/missing' }, { Key: 'x'.repeat(1100) }] },
      }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual([...keys.slice(0, 20), 'batch/missing'].sort());
    expect(res.Errors?.map((e) => e.Code)).toEqual(['KeyTooLongError']);
    const quiet = await t.s3.send(
      new DeleteObjectsCommand({ Bucket: 'data', Delete: { Quiet: true, Objects: keys.slice(20).map((Key) => ({ Key })) } }),
    );
    expect(quiet.Deleted ?? []).toEqual([]);
    const left = await t.s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'batch/' }));
    expect(left.KeyCount).toBe(0);
    expect(blobFiles(t.dataDir).length).toBe(before);
  });

  it('deletes keys with newlines in DeleteObjects (SDKs escape them as character references)', async () => {
    for (const Key of ['nl\nkey', 'cr\rkey']) await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key, Body: 'x' }));
    const res = await t.s3.send(
      new DeleteObjectsCommand({ Bucket: 'data', Delete: { Objects: [{ Key: 'nl\nkey' }, { Key: 'cr\rkey' }] } }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(['cr\rkey', 'nl\nkey']);
    for (const Key of ['nl\nkey', 'cr\rkey']) {
      expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'data', Key })))).$metadata.httpStatusCode).toBe(404);
    }
  });

  it('never lets a version id other than "null" touch the current object of an unversioned bucket', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'versioned?', Body: 'keep me' }));
    // A string that cannot be a version id is refused as S3 does; a well-formed unknown one is not found.
    const bad = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'versioned?', VersionId: 'abc123' })));
    expect(bad.name).toBe('InvalidArgument');
    const get = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'versioned?', VersionId: '001fffffffffff0a1b2c' })));
    expect(get.name).toBe('NoSuchVersion');
    const del = await s3Error(t.s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'versioned?', VersionId: 'abc123' })));
    expect(del.$metadata.httpStatusCode).toBe(400);
    const batch = await t.s3.send(
      new DeleteObjectsCommand({ Bucket: 'data', Delete: { Objects: [{ Key: 'versioned?', VersionId: 'abc123' }] } }),
    );
    expect(batch.Errors?.map((e) => e.Code)).toEqual(['InvalidArgument']);
    const still = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'versioned?', VersionId: 'null' }));
    expect(await still.Body!.transformToString()).toBe('keep me');
  });

  it('deletes idempotently', async () => {
    const res = await t.s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'never-existed' }));
    expect(res.$metadata.httpStatusCode).toBe(204);
  });

  it('keeps exactly one latest version under 50 concurrent PUTs of one key', async () => {
    const bodies = Array.from({ length: 50 }, (_, i) => `body-${i}-${crypto.randomBytes(2000).toString('hex')}`);
    const before = blobFiles(t.dataDir).length;
    await Promise.all(bodies.map((b) => t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'contended', Body: b }))));
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'contended' }));
    expect(bodies).toContain(await get.Body!.transformToString());
    const rows = await t.anvil.meta.data.selectFrom('object_versions').select(['is_latest']).where('key', '=', 'contended').execute();
    expect(rows).toEqual([{ is_latest: 1 }]);
    // Exactly the winner's blob remains, with one reference. A loser's file whose
    // post-commit removal met a concurrent claim is left to the cleanup worker: wait for it.
    await vi.waitFor(() => expect(blobFiles(t.dataDir).length).toBe(before + 1), { timeout: 20_000, interval: 200 });
    const refs = await t.anvil.meta.data.selectFrom('blobs').select('ref_count').where('ref_count', '<>', 1).execute();
    expect(refs).toEqual([]);
  });

  it('keeps the bucket counters and sequence numbers exact under concurrent overwrites and deletes of few keys', async () => {
    // Writers read the key's current version before taking the bucket lock; when another writer
    // replaced it meanwhile, the write is redone under the lock and the counters corrected.
    await t.s3.send(new CreateBucketCommand({ Bucket: 'counted' }));
    const ops: Array<Promise<unknown>> = [];
    for (let i = 0; i < 120; i++) {
      const key = `k${i % 4}`;
      if (i % 7 === 3) ops.push(t.s3.send(new DeleteObjectCommand({ Bucket: 'counted', Key: key })));
      else ops.push(t.s3.send(new PutObjectCommand({ Bucket: 'counted', Key: key, Body: crypto.randomBytes(1 + ((i * 997) % 5000)) })));
    }
    await Promise.all(ops);
    const bucket = await t.anvil.services.buckets.get('counted');
    const db = t.anvil.meta.data;
    const rows = await db
      .selectFrom('object_versions')
      .select(['key', 'size', 'seq', 'is_latest'])
      .where('bucket_id', '=', bucket!.id)
      .execute();
    const state = await db.selectFrom('bucket_state').selectAll().where('bucket_id', '=', bucket!.id).executeTakeFirstOrThrow();
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
    expect(rows.every((r) => r.is_latest === 1)).toBe(true);
    expect(Number(state.object_count)).toBe(rows.length);
    expect(Number(state.byte_count)).toBe(rows.reduce((n, r) => n + Number(r.size), 0));
    expect(new Set(rows.map((r) => Number(r.seq))).size).toBe(rows.length);
    for (const r of rows) expect(Number(r.seq)).toBeLessThanOrEqual(Number(state.last_seq));
    for (const r of rows) {
      const got = await t.s3.send(new GetObjectCommand({ Bucket: 'counted', Key: r.key }));
      expect((await got.Body!.transformToByteArray()).length).toBe(Number(r.size));
    }
  });
});
