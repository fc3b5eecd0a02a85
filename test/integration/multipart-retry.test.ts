/**
 * CompleteMultipartUpload is idempotent for a bounded time (issue 12,
 * finding 9): a client that lost the answer and retries gets the same
 * answer, not NoSuchUpload, and the retry writes nothing.
 */
import crypto from 'node:crypto';

import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

import { blobFiles, describeEachEngine, s3Error, type TestAnvil, useAnvil } from '../support/anvil.js';
import { startLossyProxy } from '../support/lossy-proxy.js';
import { signedFetch } from '../support/signed-fetch.js';

const MiB = 1024 * 1024;
const BUCKET = 'retry';

interface Started {
  uploadId: string;
  parts: CompletedPart[];
}

/** Creates an upload of `key` and uploads parts of these sizes (random bytes). */
async function upload(s3: S3Client, key: string, sizes: number[], checksum?: 'CRC32'): Promise<Started> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ChecksumAlgorithm: checksum }));
  const parts: CompletedPart[] = [];
  for (const [i, size] of sizes.entries()) {
    const res = await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        PartNumber: i + 1,
        Body: crypto.randomBytes(size),
        ChecksumAlgorithm: checksum,
      }),
    );
    parts.push({ PartNumber: i + 1, ETag: res.ETag, ...(checksum ? { ChecksumCRC32: res.ChecksumCRC32 } : {}) });
  }
  return { uploadId: UploadId!, parts };
}

const completeCommand = (key: string, u: Started, parts = u.parts, extra: { IfNoneMatch?: string } = {}) =>
  new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: u.uploadId, MultipartUpload: { Parts: parts }, ...extra });

function completionXml(parts: CompletedPart[]): string {
  const items = parts.map((p) => `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${p.ETag}</ETag></Part>`).join('');
  return `<CompleteMultipartUpload>${items}</CompleteMultipartUpload>`;
}

/** A Complete sent by hand, to compare whole answers byte for byte. */
async function completeRaw(t: TestAnvil, key: string, u: Started, parts = u.parts): Promise<{ status: number; body: string }> {
  const body = completionXml(parts);
  const res = await signedFetch(t, 'POST', `${t.endpoint}/${BUCKET}/${key}?uploadId=${encodeURIComponent(u.uploadId)}`, {
    body,
    payloadHash: crypto.createHash('sha256').update(body).digest('hex'),
  });
  return { status: res.status, body: await res.text() };
}

/**
 * What a retry must leave alone: the bucket's sequence counter (every write
 * takes one), its counts and the blob files. Read once blob removals queued
 * by earlier writes are done (the request or the cleanup worker does them).
 */
async function writeState(t: TestAnvil) {
  await until(
    'the cleanup queue to drain',
    async () => (await t.anvil.meta.data.selectFrom('cleanup_queue').select('id').execute()).length === 0,
  );
  const bucket = await t.anvil.meta.control.selectFrom('buckets').select('id').where('name', '=', BUCKET).executeTakeFirstOrThrow();
  const state = await t.anvil.meta.data
    .selectFrom('bucket_state')
    .select(['last_seq', 'object_count', 'byte_count'])
    .where('bucket_id', '=', bucket.id)
    .executeTakeFirstOrThrow();
  return { ...state, blobs: blobFiles(t.dataDir).sort() };
}

async function versionsOf(t: TestAnvil, key: string): Promise<number> {
  const rows = await t.anvil.meta.data.selectFrom('object_versions').select('id').where('key', '=', key).execute();
  return rows.length;
}

async function completionRecord(t: TestAnvil, uploadId: string) {
  return t.anvil.meta.data.selectFrom('multipart_completions').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeEachEngine('CompleteMultipartUpload retries', (engine) => {
  const t = useAnvil(engine, { buckets: [BUCKET] });

  it('answers a retried Complete exactly as the first time and writes nothing', async () => {
    const u = await upload(t.s3, 'twice.bin', [5 * MiB, 1000], 'CRC32');
    const first = await completeRaw(t, 'twice.bin', u);
    expect(first.status).toBe(200);
    expect(first.body).toContain('<CompleteMultipartUploadResult');
    expect(first.body).toContain('<ChecksumCRC32>');
    const head = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'twice.bin' }));
    const before = await writeState(t);

    const again = await completeRaw(t, 'twice.bin', u);
    expect(again).toEqual(first);
    const viaSdk = await t.s3.send(completeCommand('twice.bin', u));
    expect(viaSdk.ETag).toBe(head.ETag);
    expect(first.body).toContain(`<ETag>${viaSdk.ETag!.replace(/"/g, '&quot;')}</ETag>`);
    expect(first.body).toContain(`<ChecksumCRC32>${viaSdk.ChecksumCRC32}</ChecksumCRC32>`);
    expect(viaSdk.Bucket).toBe(BUCKET);
    expect(viaSdk.Key).toBe('twice.bin');
    expect(first.body).toContain(`<Location>${viaSdk.Location}</Location>`);

    // Nothing was written: same object, same blobs, no sequence number taken, one version.
    const headAfter = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'twice.bin' }));
    expect(headAfter.LastModified).toEqual(head.LastModified);
    expect(headAfter.ETag).toBe(head.ETag);
    expect(await writeState(t)).toEqual(before);
    expect(await versionsOf(t, 'twice.bin')).toBe(1);

    // The completed upload is gone for everything else.
    const listed = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect((listed.Uploads ?? []).map((x) => x.UploadId)).not.toContain(u.uploadId);
    expect((await s3Error(t.s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'twice.bin', UploadId: u.uploadId })))).name).toBe(
      'NoSuchUpload',
    );
    const part = await s3Error(
      t.s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'twice.bin', UploadId: u.uploadId, PartNumber: 3, Body: 'late' })),
    );
    expect(part.name).toBe('NoSuchUpload');
    expect(await writeState(t)).toEqual(before);
  });

  it('refuses a retry with another part list, key or bucket with NoSuchUpload', async () => {
    const u = await upload(t.s3, 'listed.bin', [5 * MiB, 10]);
    await t.s3.send(completeCommand('listed.bin', u));
    const before = await writeState(t);
    const fewer = await s3Error(t.s3.send(completeCommand('listed.bin', u, u.parts.slice(0, 1))));
    expect(fewer.name).toBe('NoSuchUpload');
    expect(fewer.$metadata.httpStatusCode).toBe(404);
    const otherEtag = [u.parts[0], { PartNumber: 2, ETag: '"00000000000000000000000000000000"' }];
    expect((await s3Error(t.s3.send(completeCommand('listed.bin', u, otherEtag)))).name).toBe('NoSuchUpload');
    const renumbered = [u.parts[0], { ...u.parts[1], PartNumber: 3 }];
    expect((await s3Error(t.s3.send(completeCommand('listed.bin', u, renumbered)))).name).toBe('NoSuchUpload');
    expect((await s3Error(t.s3.send(completeCommand('elsewhere.bin', u)))).name).toBe('NoSuchUpload');
    await t.s3.send(new CreateBucketCommand({ Bucket: 'retry-other' }));
    const otherBucket = await s3Error(
      t.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'retry-other',
          Key: 'listed.bin',
          UploadId: u.uploadId,
          MultipartUpload: { Parts: u.parts },
        }),
      ),
    );
    expect(otherBucket.name).toBe('NoSuchUpload');
    // ETags quoted or not are the same list.
    const unquoted = u.parts.map((p) => ({ ...p, ETag: p.ETag!.replace(/"/g, '') }));
    expect((await t.s3.send(completeCommand('listed.bin', u, unquoted))).ETag).toBeDefined();
    expect(await writeState(t)).toEqual(before);
    expect((await s3Error(t.s3.send(completeCommand('listed.bin', { uploadId: 'never-was', parts: u.parts })))).name).toBe('NoSuchUpload');
  });

  it('answers the retry as before even with If-None-Match: * or once the object was overwritten or deleted, and changes nothing', async () => {
    const u = await upload(t.s3, 'moved-on.bin', [2000]);
    const done = await t.s3.send(completeCommand('moved-on.bin', u));
    // S3 answers a retry with If-None-Match: * 200 although the object now exists (moto's AWS-verified test).
    const conditional = await t.s3.send(completeCommand('moved-on.bin', u, u.parts, { IfNoneMatch: '*' }));
    expect(conditional.ETag).toBe(done.ETag);

    const newer = Buffer.from('a newer object by someone else');
    await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'moved-on.bin', Body: newer }));
    const overwritten = await writeState(t);
    expect((await t.s3.send(completeCommand('moved-on.bin', u))).ETag).toBe(done.ETag);
    const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'moved-on.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(newer)).toBe(true);
    expect(await writeState(t)).toEqual(overwritten);

    await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'moved-on.bin' }));
    const deleted = await writeState(t);
    expect((await t.s3.send(completeCommand('moved-on.bin', u))).ETag).toBe(done.ETag);
    expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'moved-on.bin' })))).$metadata.httpStatusCode).toBe(404);
    expect(await writeState(t)).toEqual(deleted);
  });

  it('commits one object when two Completes of one upload race, and both succeed', async () => {
    for (let round = 0; round < 4; round++) {
      const key = `raced-${round}.bin`;
      const u = await upload(t.s3, key, [5 * MiB, 100]);
      const blobs = blobFiles(t.dataDir).length;
      const before = await writeState(t);
      const [a, b] = await Promise.all([t.s3.send(completeCommand(key, u)), t.s3.send(completeCommand(key, u))]);
      expect(a.ETag).toBe(b.ETag);
      expect(a.ETag).toMatch(/-2"$/);
      const after = await writeState(t);
      expect(after.last_seq - before.last_seq).toBe(1); // one commit took one sequence number
      expect(after.object_count - before.object_count).toBe(1);
      expect(await versionsOf(t, key)).toBe(1);
      expect(blobFiles(t.dataDir).length).toBe(blobs);
    }
  });

  it('lets exactly one of two racing Completes with different part lists win; the other gets NoSuchUpload', async () => {
    for (let round = 0; round < 4; round++) {
      const key = `split-${round}.bin`;
      const u = await upload(t.s3, key, [5 * MiB, 100]);
      const before = await writeState(t);
      const results = await Promise.allSettled([
        t.s3.send(completeCommand(key, u)),
        t.s3.send(completeCommand(key, u, u.parts.slice(0, 1))),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0].reason.name).toBe('NoSuchUpload');
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(head.ETag).toBe((won[0] as PromiseFulfilledResult<{ ETag?: string }>).value.ETag);
      expect((await writeState(t)).last_seq - before.last_seq).toBe(1);
    }
  });

  it('answers Abort of a completed upload within the window 204 and keeps the object', async () => {
    const u = await upload(t.s3, 'kept.bin', [300]);
    const done = await t.s3.send(completeCommand('kept.bin', u));
    const before = await writeState(t);
    const res = await signedFetch(t, 'DELETE', `${t.endpoint}/${BUCKET}/kept.bin?uploadId=${encodeURIComponent(u.uploadId)}`);
    expect(res.status).toBe(204);
    await t.s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'kept.bin', UploadId: u.uploadId }));
    expect((await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'kept.bin' }))).ETag).toBe(done.ETag);
    expect(await writeState(t)).toEqual(before);
    // The upload is not reopened by the Abort: a retried Complete still gets the first answer.
    expect((await t.s3.send(completeCommand('kept.bin', u))).ETag).toBe(done.ETag);
    // Under another key it is an upload that does not exist.
    const other = await s3Error(t.s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'not-kept.bin', UploadId: u.uploadId })));
    expect(other.name).toBe('NoSuchUpload');
  });

  it('refuses a retry past the window even before the record is pruned, then prunes it', async () => {
    const u = await upload(t.s3, 'late.bin', [100]);
    await t.s3.send(completeCommand('late.bin', u));
    expect(await completionRecord(t, u.uploadId)).toBeDefined();
    // Age the record past the window (15 minutes by default) instead of waiting for it.
    await t.anvil.meta.data
      .updateTable('multipart_completions')
      .set({ completed_at: Date.now() - t.config.multipartRetryWindowSeconds * 1000 - 60_000 })
      .where('upload_id', '=', u.uploadId)
      .execute();
    expect((await s3Error(t.s3.send(completeCommand('late.bin', u)))).name).toBe('NoSuchUpload');
    expect(
      (await s3Error(t.s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'late.bin', UploadId: u.uploadId })))).name,
    ).toBe('NoSuchUpload');
    // The background worker removes it.
    await until('the completion record to be pruned', async () => (await completionRecord(t, u.uploadId)) === undefined);
    expect((await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'late.bin' }))).ContentLength).toBe(100);
  });

  it('makes an SDK client whose first Complete answer is lost end in success', async () => {
    const proxy = await startLossyProxy(t.endpoint, (head) => head.startsWith('POST ') && /[?&]uploadId=/.test(head.split('\r\n')[0]));
    try {
      const u = await upload(t.s3, 'lost-answer.bin', [5 * MiB, 4321]);
      const retrying = t.client(undefined, { endpoint: proxy.endpoint, maxAttempts: 3 });
      const before = await writeState(t);
      const done = await retrying.send(completeCommand('lost-answer.bin', u));
      expect(proxy.dropped).toBe(1);
      expect(done.ETag).toMatch(/-2"$/);
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'lost-answer.bin' }));
      expect(head.ETag).toBe(done.ETag);
      expect(head.ContentLength).toBe(5 * MiB + 4321);
      expect((await writeState(t)).last_seq - before.last_seq).toBe(1);

      // Without retries the same loss is an error the client sees; the object was made all the same.
      const u2 = await upload(t.s3, 'lost-once.bin', [10]);
      const lossy = await startLossyProxy(t.endpoint, (head) => head.startsWith('POST '));
      try {
        const once = t.client(undefined, { endpoint: lossy.endpoint, maxAttempts: 1 });
        await expect(once.send(completeCommand('lost-once.bin', u2))).rejects.toThrow();
        expect(lossy.dropped).toBe(1);
        expect((await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'lost-once.bin' }))).ContentLength).toBe(10);
      } finally {
        await lossy.close();
      }
    } finally {
      await proxy.close();
    }
  });
});

describeEachEngine('CompleteMultipartUpload retry window', (engine) => {
  // A tiny window and a fast worker: the record must expire and be pruned on its own.
  const t = useAnvil(engine, { buckets: [BUCKET], config: { multipartRetryWindowSeconds: 1 }, start: { workerIntervalMs: 100 } });

  it('answers NoSuchUpload once the window has passed and the record was pruned', async () => {
    const u = await upload(t.s3, 'short.bin', [64]);
    const done = await t.s3.send(completeCommand('short.bin', u));
    expect(done.ETag).toMatch(/-1"$/);
    await until('the completion record to be pruned', async () => (await completionRecord(t, u.uploadId)) === undefined);
    const late = await s3Error(t.s3.send(completeCommand('short.bin', u)));
    expect(late.name).toBe('NoSuchUpload');
    expect((await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'short.bin' }))).ETag).toBe(done.ETag);
    const rows = await t.anvil.meta.data.selectFrom('multipart_completions').select('upload_id').execute();
    expect(rows).toEqual([]);
  });
});

describe('CompleteMultipartUpload retry window: configuration', () => {
  it('defaults to 15 minutes and takes 0 to turn replays off', async () => {
    const { loadConfig } = await import('../../src/config/config.js');
    expect(loadConfig({ dataDir: '/tmp/x' }, {}).multipartRetryWindowSeconds).toBe(900);
    expect(loadConfig({ dataDir: '/tmp/x' }, { ANVIL_MULTIPART_RETRY_WINDOW_SECONDS: '0' }).multipartRetryWindowSeconds).toBe(0);
    expect(() => loadConfig({ dataDir: '/tmp/x' }, { ANVIL_MULTIPART_RETRY_WINDOW_SECONDS: '-1' })).toThrow(
      /ANVIL_MULTIPART_RETRY_WINDOW_SECONDS: invalid duration "-1"/,
    );
    expect(() => loadConfig({ dataDir: '/tmp/x' }, { ANVIL_MULTIPART_RETRY_WINDOW_SECONDS: 'soon' })).toThrow(
      /ANVIL_MULTIPART_RETRY_WINDOW_SECONDS: invalid duration "soon"/,
    );
  });
});
