/**
 * Request logs (issue 19): one JSON line per S3 request with what an
 * operator searches for (request id, operation, bucket, key, client address,
 * access key id, status, S3 error code, bytes, duration). A refused
 * authentication is logged under the operation it tried. No secret, no
 * signature, no presigned query string ever reaches the log.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { expect, it } from 'vitest';

import { describeEachEngine, type EngineName, ROOT_SECRET, s3Error, startTestAnvil, useAnvil } from '../support/anvil.js';
import { waitFor } from '../support/backends.js';
import { objectPath, presign, send, sign } from '../support/wire.js';

interface LogLine {
  msg: string;
  [field: string]: unknown;
}

function capture(): { log: pino.Logger; lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'info' },
    {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { log, lines, text: () => raw.join('') };
}

describeEachEngine('request logs', (engine: EngineName) => {
  const logs = capture();
  const t = useAnvil(engine, { buckets: ['logged'], harness: { log: logs.log } });

  /** The request line with this request id (it is written when the answer is closed). */
  async function lineOf(reqId: string | undefined): Promise<LogLine> {
    expect(reqId).toBeTruthy();
    let found: LogLine | undefined;
    await waitFor(
      `the log line of ${reqId}`,
      () => (found = logs.lines.find((l) => l.msg === 'request' && l.reqId === reqId)) !== undefined,
      10_000,
    );
    return found!;
  }

  it('logs a write with bucket, key, client, access key, status, bytes and duration', async () => {
    const body = 'x'.repeat(1234);
    const out = await t.s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'dir/a b.txt', Body: body }));
    const line = await lineOf(out.$metadata.requestId);
    expect(line).toMatchObject({
      op: 'PutObject',
      method: 'PUT',
      bucket: 'logged',
      key: 'dir/a b.txt',
      status: 200,
      accessKeyId: t.accessKeyId,
      bytesIn: 1234,
    });
    expect(line.client).toMatch(/127\.0\.0\.1$/);
    expect(line.errorCode).toBeUndefined();
    expect(typeof line.ms).toBe('number');

    const got = await t.s3.send(new GetObjectCommand({ Bucket: 'logged', Key: 'dir/a b.txt' }));
    await got.Body!.transformToString();
    expect(await lineOf(got.$metadata.requestId)).toMatchObject({ op: 'GetObject', status: 200, bytesOut: 1234, key: 'dir/a b.txt' });
  });

  it('logs the S3 error code of a failed request', async () => {
    const err = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'logged', Key: 'missing' })));
    expect(await lineOf(err.$metadata.requestId)).toMatchObject({
      op: 'GetObject',
      status: 404,
      errorCode: 'NoSuchKey',
      bucket: 'logged',
      key: 'missing',
      accessKeyId: t.accessKeyId,
    });
  });

  it('logs a refused authentication under the operation it tried, with the key id it claimed', async () => {
    const wrong = t.client({ accessKeyId: t.accessKeyId, secretAccessKey: 'not-the-secret-0123456789' });
    const bad = await s3Error(wrong.send(new PutObjectCommand({ Bucket: 'logged', Key: 'nope', Body: 'x' })));
    expect(await lineOf(bad.$metadata.requestId)).toMatchObject({
      op: 'PutObject',
      status: 403,
      errorCode: 'SignatureDoesNotMatch',
      accessKeyId: t.accessKeyId,
      bucket: 'logged',
      key: 'nope',
    });
    const unknown = t.client({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'whatever-secret-0123456789' });
    const denied = await s3Error(unknown.send(new GetObjectCommand({ Bucket: 'logged', Key: 'dir/a b.txt' })));
    expect(await lineOf(denied.$metadata.requestId)).toMatchObject({
      op: 'GetObject',
      status: 403,
      errorCode: 'InvalidAccessKeyId',
      accessKeyId: 'AKIAUNKNOWNKEY000000',
    });
  });

  it('never logs secrets, signatures or presigned query strings', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'p', Body: 'presigned body' }));
    const pre = await presign(t, 'GET', objectPath('logged', 'p'));
    const signature = pre.query.find(([k]) => k === 'X-Amz-Signature')![1];
    const res = await send(t, 'GET', pre.pathAndQuery, {});
    expect(res.status).toBe(200);
    expect(await lineOf(res.headers['x-amz-request-id'] as string)).toMatchObject({
      op: 'GetObject',
      key: 'p',
      accessKeyId: t.accessKeyId,
    });
    // A tampered presigned URL fails, and is logged as what it tried, without its query either.
    const tampered = await send(t, 'GET', pre.pathAndQuery.replace(signature, '0'.repeat(64)), {});
    expect(tampered.status).toBe(403);
    expect(await lineOf(tampered.headers['x-amz-request-id'] as string)).toMatchObject({
      op: 'GetObject',
      errorCode: 'SignatureDoesNotMatch',
    });
    const s = await sign(t, 'GET', objectPath('logged', 'p'));
    const headerSigned = await send(t, 'GET', s.pathAndQuery, s.headers);
    expect(headerSigned.status).toBe(200);
    await lineOf(headerSigned.headers['x-amz-request-id'] as string);

    const text = logs.text();
    for (const secret of [ROOT_SECRET, signature, s.seed, 'X-Amz-Signature', 'X-Amz-Credential', 'Signature=', 'not-the-secret']) {
      expect(text).not.toContain(secret);
    }
  });

  it('ignores X-Forwarded-For unless trust_proxy is on', async () => {
    const res = await send(t, 'GET', '/logged/missing', { 'x-forwarded-for': '203.0.113.7' });
    const line = await lineOf(res.headers['x-amz-request-id'] as string);
    expect(line.client).toMatch(/127\.0\.0\.1$/);
    expect(line.proxy).toBeUndefined();
    expect(line.op).toBe('GetObject');
    expect(line.errorCode).toBe('AccessDenied');
  });
});

describeEachEngine('request logs behind a proxy', (engine: EngineName) => {
  it('with trust_proxy, logs the last X-Forwarded-For entry as the client and the peer as the proxy', async () => {
    const logs = capture();
    const t = await startTestAnvil(engine, { trustProxy: true }, {}, { log: logs.log });
    try {
      const res = await send(t, 'GET', '/', { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' });
      const id = res.headers['x-amz-request-id'] as string;
      let line: LogLine | undefined;
      await waitFor('the log line', () => (line = logs.lines.find((l) => l.reqId === id)) !== undefined, 10_000);
      expect(line).toMatchObject({ op: 'ListBuckets', client: '203.0.113.7', errorCode: 'AccessDenied' });
      expect(line!.proxy).toMatch(/127\.0\.0\.1$/);
    } finally {
      await t.stop();
    }
  });
});
