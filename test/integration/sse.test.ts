/**
 * Server-side encryption through the S3 API with the SDK's own SSE-C and
 * SSE-S3 parameters: customer keys required and checked on reads, no
 * plaintext or key material at rest, no deduplication of SSE-C bodies,
 * multipart and copies, and the scrub checking SSE-C blobs without the key.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { Scrubber } from '../../src/blobs/scrub.js';
import { blobFiles, describeEachEngine, type EngineName, s3Error, useAnvil } from '../support/anvil.js';
import { markedBody } from '../support/backends.js';

const MARKER = 'SSE-C-PLAINTEXT-MARKER';

const text = (size: number, seed: string): Buffer => markedBody(MARKER, size, seed);

describeEachEngine('server-side encryption', (engine: EngineName) => {
  const t = useAnvil(engine, { buckets: ['sse'] });
  const keyA = crypto.randomBytes(32);
  const keyB = crypto.randomBytes(32);
  const ssec = (key: Buffer) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: key as unknown as string });
  const copySsec = (key: Buffer) => ({ CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: key as unknown as string });

  async function read(key: string, extra: Record<string, unknown> = {}): Promise<Buffer> {
    const res = await t.s3.send(new GetObjectCommand({ Bucket: 'sse', Key: key, ...extra }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  it('SSE-C: the key is required, checked, echoed, and never stored; the bytes at rest are not plaintext', async () => {
    const small = text(5000, 'small');
    const large = Buffer.concat([text(1000, 'large'), crypto.randomBytes(3 * 1024 * 1024)]);
    const put = await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'small', Body: small, ...ssec(keyA) }));
    expect(put.SSECustomerAlgorithm).toBe('AES256');
    expect(put.SSECustomerKeyMD5).toBe(crypto.createHash('md5').update(keyA).digest('base64'));
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'large', Body: large, ...ssec(keyA) }));

    expect((await read('small', ssec(keyA))).equals(small)).toBe(true);
    expect((await read('large', ssec(keyA))).equals(large)).toBe(true);
    expect((await read('large', { ...ssec(keyA), Range: 'bytes=70000-200000' })).equals(large.subarray(70000, 200001))).toBe(true);
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'large', ...ssec(keyA) }));
    expect(head.ContentLength).toBe(large.length);
    expect(head.SSECustomerAlgorithm).toBe('AES256');

    const noKey = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'small' })));
    expect(noKey.$metadata.httpStatusCode).toBe(400);
    expect(noKey.name).toBe('InvalidRequest');
    const wrongKey = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'small', ...ssec(keyB) })));
    expect(wrongKey.$metadata.httpStatusCode).toBe(403);
    expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'large' })))).$metadata.httpStatusCode).toBe(400);
    expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 'large', ...ssec(keyB) })))).$metadata.httpStatusCode).toBe(
      403,
    );
    // A key on a read of an object that has none is refused too.
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'plain', Body: 'plain body' }));
    expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'plain', ...ssec(keyA) })))).$metadata.httpStatusCode).toBe(
      400,
    );

    // Nothing in the data folder holds the plaintext, the key, or its MD5.
    const md5 = crypto.createHash('md5').update(keyA).digest();
    for (const f of [
      ...blobFiles(t.dataDir),
      ...fs
        .readdirSync(t.dataDir)
        .map((n) => `${t.dataDir}/${n}`)
        .filter((p) => fs.statSync(p).isFile()),
    ]) {
      const raw = fs.readFileSync(f);
      expect(raw.includes(MARKER), f).toBe(false);
      expect(raw.includes(keyA), f).toBe(false);
      expect(raw.includes(keyA.toString('base64')), f).toBe(false);
      expect(raw.includes(md5.toString('base64')), f).toBe(false);
    }
    const rows = await t.anvil.core.meta.data.selectFrom('blobs').select(['enc_master_key_id']).execute();
    expect(rows.filter((r) => r.enc_master_key_id === 'sse-c').length).toBe(2);
  });

  it('SSE-C bodies are never deduplicated, with each other or with plain copies', async () => {
    const body = text(20_000, 'dup');
    const before = blobFiles(t.dataDir).length;
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'dup1', Body: body, ...ssec(keyA) }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'dup2', Body: body, ...ssec(keyA) }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'dup3', Body: body }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'dup4', Body: body }));
    expect(blobFiles(t.dataDir).length).toBe(before + 3);
    expect((await read('dup2', ssec(keyA))).equals(body)).toBe(true);
    expect((await read('dup4')).equals(body)).toBe(true);
  });

  it('SSE-C multipart uploads: every part needs the key; the object reads back whole', async () => {
    const up = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'sse', Key: 'mpu', ...ssec(keyA) }));
    expect(up.SSECustomerAlgorithm).toBe('AES256');
    const p1 = crypto.randomBytes(5 * 1024 * 1024);
    const p2 = text(1234, 'p2');
    const noKey = await s3Error(
      t.s3.send(new UploadPartCommand({ Bucket: 'sse', Key: 'mpu', UploadId: up.UploadId, PartNumber: 1, Body: p1 })),
    );
    expect(noKey.$metadata.httpStatusCode).toBe(400);
    const wrong = await s3Error(
      t.s3.send(new UploadPartCommand({ Bucket: 'sse', Key: 'mpu', UploadId: up.UploadId, PartNumber: 1, Body: p1, ...ssec(keyB) })),
    );
    expect(wrong.$metadata.httpStatusCode).toBe(403);
    const e1 = await t.s3.send(
      new UploadPartCommand({ Bucket: 'sse', Key: 'mpu', UploadId: up.UploadId, PartNumber: 1, Body: p1, ...ssec(keyA) }),
    );
    const e2 = await t.s3.send(
      new UploadPartCommand({ Bucket: 'sse', Key: 'mpu', UploadId: up.UploadId, PartNumber: 2, Body: p2, ...ssec(keyA) }),
    );
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'sse',
        Key: 'mpu',
        UploadId: up.UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: e1.ETag },
            { PartNumber: 2, ETag: e2.ETag },
          ],
        },
      }),
    );
    expect((await read('mpu', ssec(keyA))).equals(Buffer.concat([p1, p2]))).toBe(true);
    expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'mpu' })))).$metadata.httpStatusCode).toBe(400);
  });

  it('copies: same key shares the blobs; UploadPartCopy re-encrypts from an SSE-C source; other key changes are refused', async () => {
    const body = text(3000, 'copy');
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'csrc', Body: body, ...ssec(keyA) }));
    await t.s3.send(new CopyObjectCommand({ Bucket: 'sse', Key: 'cdst', CopySource: 'sse/csrc', ...copySsec(keyA), ...ssec(keyA) }));
    expect((await read('cdst', ssec(keyA))).equals(body)).toBe(true);
    const noSourceKey = await s3Error(
      t.s3.send(new CopyObjectCommand({ Bucket: 'sse', Key: 'cdst2', CopySource: 'sse/csrc', ...ssec(keyA) })),
    );
    expect(noSourceKey.$metadata.httpStatusCode).toBe(400);
    const otherKey = await s3Error(
      t.s3.send(new CopyObjectCommand({ Bucket: 'sse', Key: 'cdst3', CopySource: 'sse/csrc', ...copySsec(keyA), ...ssec(keyB) })),
    );
    expect(otherKey.$metadata.httpStatusCode).toBe(501);

    const up = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'sse', Key: 'decrypted' }));
    const part = await t.s3.send(
      new UploadPartCopyCommand({
        Bucket: 'sse',
        Key: 'decrypted',
        UploadId: up.UploadId,
        PartNumber: 1,
        CopySource: 'sse/csrc',
        ...copySsec(keyA),
      }),
    );
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'sse',
        Key: 'decrypted',
        UploadId: up.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag }] },
      }),
    );
    expect((await read('decrypted')).equals(body)).toBe(true);
  });

  it('SSE-S3 is accepted and echoed; KMS is not implemented', async () => {
    const put = await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 's3', Body: 'sse-s3 body', ServerSideEncryption: 'AES256' }));
    expect(put.ServerSideEncryption).toBe('AES256');
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'sse', Key: 's3' }));
    expect(head.ServerSideEncryption).toBe('AES256');
    const kms = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'kms', Body: 'x', ServerSideEncryption: 'aws:kms' })));
    expect(kms.$metadata.httpStatusCode).toBe(501);
    const both = await s3Error(
      t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'both', Body: 'x', ServerSideEncryption: 'AES256', ...ssec(keyA) })),
    );
    expect(both.$metadata.httpStatusCode).toBe(400);
  });

  it('the scrub checks SSE-C blobs without the key and finds a corrupted one', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'sse', Key: 'rot', Body: text(9000, 'rot'), ...ssec(keyB) }));
    const scrubber = new Scrubber(t.anvil.core.blobs);
    await scrubber.runPass();
    expect((await scrubber.status()).corrupt).toEqual([]);
    const row = await t.anvil.core.meta.data
      .selectFrom('object_versions')
      .select('manifest')
      .where('key', '=', 'rot')
      .where('is_latest', '=', 1)
      .executeTakeFirstOrThrow();
    const [[hash]] = JSON.parse(row.manifest) as Array<[string, number]>;
    const file = blobFiles(t.dataDir).find((f) => f.includes(hash))!;
    const raw = fs.readFileSync(file);
    raw[raw.length - 20] ^= 1;
    fs.writeFileSync(file, raw);
    await scrubber.runPass();
    expect((await scrubber.status()).corrupt.map((c) => c.hash)).toEqual([hash]);
    expect(
      (await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'sse', Key: 'rot', ...ssec(keyB) })))).$metadata.httpStatusCode,
    ).toBeGreaterThanOrEqual(500);
  });
});
