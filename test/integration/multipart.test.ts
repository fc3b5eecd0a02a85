import crypto from 'node:crypto';
import zlib from 'node:zlib';

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { countCleanupEntries } from '../../src/meta/stats/counts.js';
import { blobFiles, describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
const MiB = 1024 * 1024;

describeEachEngine('multipart uploads', (engine) => {
  const t = useAnvil(engine, { buckets: ['mpu'] });

  it('completes an upload into one object with an md5-of-md5s ETag, reads it whole and in ranges', async () => {
    const parts = [crypto.randomBytes(5 * MiB), crypto.randomBytes(5 * MiB), crypto.randomBytes(1234)];
    const { UploadId } = await t.s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'big.bin', ContentType: 'application/x-big', Metadata: { origin: 'test' } }),
    );
    const etags: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const res = await t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'big.bin', UploadId, PartNumber: i + 1, Body: parts[i] }));
      expect(res.ETag).toBe(`"${crypto.createHash('md5').update(parts[i]).digest('hex')}"`);
      etags.push(res.ETag!);
    }
    const listed = await t.s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'big.bin', UploadId }));
    expect(listed.Parts?.map((p) => p.PartNumber)).toEqual([1, 2, 3]);
    expect(listed.Parts?.map((p) => p.Size)).toEqual([5 * MiB, 5 * MiB, 1234]);
    const blobsBefore = blobFiles(t.dataDir).length;
    const done = await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'mpu',
        Key: 'big.bin',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const md5s = Buffer.concat(parts.map((p) => crypto.createHash('md5').update(p).digest()));
    expect(done.ETag).toBe(`"${crypto.createHash('md5').update(md5s).digest('hex')}-3"`);
    // Completing writes no bytes again: the parts' blobs are the object's.
    expect(blobFiles(t.dataDir).length).toBe(blobsBefore);
    const whole = Buffer.concat(parts);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'big.bin' }));
    expect(get.ContentType).toBe('application/x-big');
    expect(get.Metadata).toEqual({ origin: 'test' });
    expect(get.ETag).toBe(done.ETag);
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(whole)).toBe(true);
    const start = 5 * MiB - 10;
    const range = await t.s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'big.bin', Range: `bytes=${start}-${10 * MiB + 5}` }));
    expect(Buffer.from(await range.Body!.transformToByteArray()).equals(whole.subarray(start, 10 * MiB + 6))).toBe(true);
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'big.bin' }));
    expect(head.ContentLength).toBe(whole.length);
  });

  it('reads single parts with partNumber and builds parts from other objects with UploadPartCopy', async () => {
    const a = crypto.randomBytes(5 * MiB + 100);
    const b = crypto.randomBytes(3000);
    const { UploadId: first } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'two-parts' }));
    const e1 = await t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'two-parts', UploadId: first, PartNumber: 1, Body: a }));
    const e2 = await t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'two-parts', UploadId: first, PartNumber: 2, Body: b }));
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'mpu',
        Key: 'two-parts',
        UploadId: first,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: e1.ETag },
            { PartNumber: 2, ETag: e2.ETag },
          ],
        },
      }),
    );
    const part2 = await t.s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'two-parts', PartNumber: 2 }));
    expect(part2.PartsCount).toBe(2);
    expect(part2.ContentRange).toBe(`bytes ${a.length}-${a.length + b.length - 1}/${a.length + b.length}`);
    expect(Buffer.from(await part2.Body!.transformToByteArray()).equals(b)).toBe(true);
    const tooFar = await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'two-parts', PartNumber: 3 })));
    expect(tooFar.$metadata.httpStatusCode).toBe(416);

    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'assembled' }));
    const c1 = await t.s3.send(
      new UploadPartCopyCommand({
        Bucket: 'mpu',
        Key: 'assembled',
        UploadId,
        PartNumber: 1,
        CopySource: 'mpu/two-parts',
        CopySourceRange: `bytes=0-${5 * MiB - 1}`,
      }),
    );
    expect(c1.CopyPartResult?.ETag).toBe(
      `"${crypto
        .createHash('md5')
        .update(a.subarray(0, 5 * MiB))
        .digest('hex')}"`,
    );
    const c2 = await t.s3.send(
      new UploadPartCopyCommand({
        Bucket: 'mpu',
        Key: 'assembled',
        UploadId,
        PartNumber: 2,
        CopySource: 'mpu/two-parts',
        CopySourceRange: `bytes=${5 * MiB}-${a.length + 999}`,
      }),
    );
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'mpu',
        Key: 'assembled',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: c1.CopyPartResult!.ETag },
            { PartNumber: 2, ETag: c2.CopyPartResult!.ETag },
          ],
        },
      }),
    );
    const got = await t.s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'assembled' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([a, b]).subarray(0, a.length + 1000))).toBe(true);
    const bad = await s3Error(
      t.s3.send(
        new UploadPartCopyCommand({ Bucket: 'mpu', Key: 'assembled', UploadId: 'nope', PartNumber: 1, CopySource: 'mpu/two-parts' }),
      ),
    );
    expect(bad.name).toBe('NoSuchUpload');
  });

  it("gives multipart objects a composite checksum of the parts' checksums", async () => {
    const parts = [crypto.randomBytes(5 * MiB), crypto.randomBytes(777)];
    const { UploadId, ChecksumAlgorithm } = await t.s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'summed', ChecksumAlgorithm: 'CRC32' }),
    );
    expect(ChecksumAlgorithm).toBe('CRC32');
    const uploaded = [];
    for (let i = 0; i < parts.length; i++) {
      uploaded.push(
        await t.s3.send(
          new UploadPartCommand({ Bucket: 'mpu', Key: 'summed', UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: 'CRC32' }),
        ),
      );
    }
    const crc = (b: Buffer) => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(zlib.crc32(b) >>> 0);
      return out;
    };
    expect(uploaded[1].ChecksumCRC32).toBe(crc(parts[1]).toString('base64'));
    const done = await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'mpu',
        Key: 'summed',
        UploadId,
        MultipartUpload: { Parts: uploaded.map((u, i) => ({ PartNumber: i + 1, ETag: u.ETag, ChecksumCRC32: u.ChecksumCRC32 })) },
      }),
    );
    const composite = `${crc(Buffer.concat(parts.map(crc))).toString('base64')}-2`;
    expect(done.ChecksumCRC32).toBe(composite);
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'summed', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumCRC32).toBe(composite);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'summed', ChecksumMode: 'ENABLED' }));
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(Buffer.concat(parts))).toBe(true);
  });

  it('refuses parts out of order, wrong ETags and small non-final parts', async () => {
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'bad' }));
    const p1 = await t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'bad', UploadId, PartNumber: 1, Body: 'small' }));
    const p2 = await t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'bad', UploadId, PartNumber: 2, Body: 'tail' }));
    const complete = (Parts: Array<{ ETag: string; PartNumber: number }>) =>
      s3Error(t.s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'bad', UploadId, MultipartUpload: { Parts } })));
    expect(
      (
        await complete([
          { ETag: p2.ETag!, PartNumber: 2 },
          { ETag: p1.ETag!, PartNumber: 1 },
        ])
      ).name,
    ).toBe('InvalidPartOrder');
    expect((await complete([{ ETag: '"00000000000000000000000000000000"', PartNumber: 1 }])).name).toBe('InvalidPart');
    expect(
      (
        await complete([
          { ETag: p1.ETag!, PartNumber: 1 },
          { ETag: p2.ETag!, PartNumber: 2 },
        ])
      ).name,
    ).toBe('EntityTooSmall');
    const missing = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'bad' })));
    expect(missing.name).toBe('NoSuchKey');
    await t.s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'bad', UploadId }));
  });

  it('abort releases the parts and later use of the upload id is NoSuchUpload', async () => {
    // Count only once the blobs earlier tests released are gone: under load the background worker may
    // have claimed one of their cleanup entries, and then removes its file during this test.
    for (let i = 0; i < 150 && (await countCleanupEntries(t.anvil.core.meta.data, 'cleanup_queue')) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = blobFiles(t.dataDir).length;
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'aborted' }));
    await t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'aborted', UploadId, PartNumber: 1, Body: crypto.randomBytes(1000) }));
    expect(blobFiles(t.dataDir).length).toBe(before + 1);
    await t.s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'aborted', UploadId }));
    expect(blobFiles(t.dataDir).length).toBe(before);
    const err = await s3Error(t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'aborted', UploadId, PartNumber: 2, Body: 'x' })));
    expect(err.name).toBe('NoSuchUpload');
    expect(err.$metadata.httpStatusCode).toBe(404);
  });
});
