/**
 * Regression tests for the outside security and fault review (issue 12): each
 * finding's exact request, on both engines, proving the answer is a precise
 * S3 error, the server stays up and nothing changed that should not.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { blobFiles, describeEachEngine, s3Error, stagedFiles, startTestAnvil, type TestAnvil } from '../support/anvil.js';
import { encodeUnsigned, crc32Base64 } from '../support/aws-chunked.js';
import { errorCode, rawRequest, signRaw, type RawResponse } from '../support/raw-http.js';

const BUCKET = 'hardening';

describeEachEngine('hardening', (engine) => {
  let t: TestAnvil;

  beforeAll(async () => {
    t = await startTestAnvil(engine, { maxObjectSize: 1024 * 1024 });
    await t.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'existing', Body: 'kept' }));
  });
  afterAll(async () => t?.stop());

  async function text(key: string): Promise<string> {
    const res = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return res.Body!.transformToString();
  }

  async function keys(): Promise<string[]> {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    return (res.Contents ?? []).map((c) => c.Key!);
  }

  /** The server still answers, with the objects it had. */
  async function stillServing(): Promise<void> {
    await t.s3.send(new HeadBucketCommand({ Bucket: BUCKET }));
    expect(await text('existing')).toBe('kept');
  }

  describe('finding 1: an aws-chunked body refused on its headers cannot stop the process', () => {
    const payload = randomBytes(100 * 1024);
    const chunked = encodeUnsigned(payload, { chunkSize: 16 * 1024, trailers: { 'x-amz-checksum-crc32': crc32Base64(payload) } });

    async function chunkedPut(path: string, query: Record<string, string>, extra: Record<string, string>, body: Buffer): Promise<RawResponse> {
      const signed = await signRaw(t, 'PUT', path, {
        query,
        headers: {
          'content-encoding': 'aws-chunked',
          'content-length': String(body.length),
          'x-amz-decoded-content-length': String(payload.length),
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-trailer': 'x-amz-checksum-crc32',
          ...extra,
        },
      });
      return rawRequest(t, 'PUT', signed.pathAndQuery, signed.headers, body);
    }

    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['an unknown x-amz-sdk-checksum-algorithm', { 'x-amz-sdk-checksum-algorithm': 'MD17' }, 400, 'InvalidRequest'],
      ['an x-amz-decoded-content-length over the size limit', { 'x-amz-decoded-content-length': String(64 * 1024 * 1024) }, 400, 'EntityTooLarge'],
      ['a failed If-None-Match on an existing key', { 'if-none-match': '*' }, 412, 'PreconditionFailed'],
    ];

    for (const [name, extra, status, code] of cases) {
      for (const cut of [false, true]) {
        it(`PutObject with ${name}${cut ? ', body cut short' : ''}: ${status} ${code}, server keeps serving`, async () => {
          const key = extra['if-none-match'] ? 'existing' : `refused-${randomBytes(4).toString('hex')}`;
          const body = cut ? chunked.subarray(0, chunked.length - 40) : chunked;
          const res = await chunkedPut(`/${BUCKET}/${key}`, {}, extra, body);
          expect({ status: res.status, code: errorCode(res) }).toEqual({ status, code });
          // Give the decoder time to see its input end (where the crash happened).
          await new Promise((r) => setTimeout(r, 100));
          await stillServing();
          expect(await keys()).toEqual(['existing']);
          expect(stagedFiles(t.dataDir)).toEqual([]);
        });
      }
    }

    it('UploadPart with an unknown checksum algorithm: 400, server keeps serving', async () => {
      const upload = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp' }));
      const res = await chunkedPut(
        `/${BUCKET}/mp`,
        { partNumber: '1', uploadId: upload.UploadId! },
        { 'x-amz-sdk-checksum-algorithm': 'MD17' },
        chunked.subarray(0, 1000),
      );
      expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 400, code: 'InvalidRequest' });
      await new Promise((r) => setTimeout(r, 100));
      await stillServing();
    });

    it('keeps a reused connection usable after a refused small body', async () => {
      const blobsBefore = blobFiles(t.dataDir).sort();
      const res = await chunkedPut(`/${BUCKET}/small`, {}, { 'x-amz-sdk-checksum-algorithm': 'MD17' }, chunked);
      expect(res.status).toBe(400);
      expect(blobFiles(t.dataDir).sort()).toEqual(blobsBefore);
      await stillServing();
    });
  });
});
