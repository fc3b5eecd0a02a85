/**
 * aws-chunked uploads against a real server: raw HTTP requests whose seed
 * signature comes from the SDK's signer (@smithy/signature-v4) and whose body
 * is framed by the spec-written encoder in test/support/aws-chunked.ts. Every
 * rejected body must leave nothing behind: no object, no new blob, no staged
 * file — including when the client simply goes away mid-upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import type { SignatureV4 } from '@smithy/signature-v4';
import { beforeAll, expect, it } from 'vitest';

import { blobFiles, describeEachEngine, s3Error, stagedFiles, useAnvil } from '../support/anvil.js';
import { crc32Base64, encodeSigned, encodeUnsigned, type SignedEncodeOptions } from '../support/aws-chunked.js';
import { sdkSigner } from '../support/sdk-signer.js';
import { send, type WireResponse } from '../support/wire.js';

const BUCKET = 'streams';
const CHUNK = 64 * 1024;

const md5Hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

describeEachEngine('aws-chunked streaming uploads', (engine) => {
  const t = useAnvil(engine, { buckets: [BUCKET] });
  let signer: SignatureV4;
  let host: string;

  beforeAll(async () => {
    signer = sdkSigner({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, t.config.region);
    host = new URL(t.endpoint).host;
  });

  /** Signs the request headers with the SDK (now), returning them and the seed signature. */
  async function signHeaders(method: string, path: string, query: Record<string, string>, headers: Record<string, string>) {
    const signingDate = new Date();
    const signed = await signer.sign(
      new HttpRequest({
        method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: Number(new URL(t.endpoint).port),
        path,
        query,
        headers: { host, ...headers },
      }),
      { signingDate },
    );
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = v;
    const seed = /Signature=([0-9a-f]{64})/.exec(out.authorization)![1];
    return { headers: out, seed, signingDate };
  }

  interface StreamingPut {
    trailer?: boolean;
    tamper?: SignedEncodeOptions['tamper'];
    trailerChecksum?: string;
    /** x-amz-decoded-content-length to declare (default: the payload length) */
    decodedLength?: number;
    /** corrupt the encoded body after signing */
    mutate?: (body: Buffer) => void;
    query?: Record<string, string>;
  }

  /** PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]; every header including Content-Length is signed. */
  async function streamingPut(key: string, payload: Buffer, o: StreamingPut = {}): Promise<WireResponse> {
    const path = `/${BUCKET}/${key}`;
    const query = o.query ?? {};
    const trailer = o.trailer ?? false;
    const encodeOpts: SignedEncodeOptions = { chunkSize: CHUNK, trailer, tamper: o.tamper, trailerChecksum: o.trailerChecksum };
    const ctx = { signer, signingDate: new Date(), region: t.config.region };
    // Every signature is 64 hex digits, so a body encoded from any seed has the final length.
    const encodedLength = (await encodeSigned(payload, '0'.repeat(64), ctx, encodeOpts)).length;
    const { headers, seed, signingDate } = await signHeaders('PUT', path, query, {
      'content-encoding': 'aws-chunked',
      'content-length': String(encodedLength),
      'x-amz-decoded-content-length': String(o.decodedLength ?? payload.length),
      'x-amz-content-sha256': trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      ...(trailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
    });
    const body = await encodeSigned(payload, seed, { ...ctx, signingDate }, encodeOpts);
    expect(body.length).toBe(encodedLength);
    o.mutate?.(body);
    const qs = new URLSearchParams(query).toString();
    return send(t, 'PUT', qs ? `${path}?${qs}` : path, headers, body);
  }

  async function getBytes(key: string): Promise<Buffer> {
    const res = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  /** Runs a request that must fail and proves it left nothing: no object, no new blob, no staged file. */
  async function expectRejected(key: string, request: () => Promise<WireResponse>, status: number, code: string) {
    const blobsBefore = blobFiles(t.dataDir).sort();
    const res = await request();
    expect({ status: res.status, code: res.code }).toEqual({ status, code });
    const err = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })));
    expect(err.name).toBe('NoSuchKey');
    expect(blobFiles(t.dataDir).sort()).toEqual(blobsBefore);
    expect(stagedFiles(t.dataDir)).toEqual([]);
  }

  it('stores a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload byte for byte', async () => {
    const payload = randomBytes(200 * 1024 + 123);
    const res = await streamingPut('signed', payload);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.etag).toBe(`"${md5Hex(payload)}"`);
    const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'signed' }));
    expect(got.ETag).toBe(`"${md5Hex(payload)}"`);
    expect(got.ContentLength).toBe(payload.length);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(payload)).toBe(true);
    expect(stagedFiles(t.dataDir)).toEqual([]);
  });

  it('stores a signed-trailer upload and returns its CRC32 with ChecksumMode ENABLED', async () => {
    const payload = randomBytes(200 * 1024 + 7);
    const crc = crc32Base64(payload);
    const res = await streamingPut('signed-trailer', payload, { trailer: true });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.etag).toBe(`"${md5Hex(payload)}"`);
    expect(res.headers['x-amz-checksum-crc32']).toBe(crc);
    const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'signed-trailer', ChecksumMode: 'ENABLED' }));
    expect(got.ChecksumCRC32).toBe(crc);
    expect(got.ETag).toBe(`"${md5Hex(payload)}"`);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(payload)).toBe(true);
  });

  it('rejects a correctly signed but wrong CRC32 trailer with BadDigest', async () => {
    const payload = randomBytes(200 * 1024);
    const wrong = crc32Base64(Buffer.concat([payload, Buffer.of(1)]));
    expect(wrong).not.toBe(crc32Base64(payload));
    await expectRejected(
      'bad-signed-crc',
      () => streamingPut('bad-signed-crc', payload, { trailer: true, trailerChecksum: wrong }),
      400,
      'BadDigest',
    );
  });

  it('rejects a STREAMING-UNSIGNED-PAYLOAD-TRAILER upload whose CRC32 trailer is wrong with BadDigest', async () => {
    const payload = randomBytes(200 * 1024);
    const body = encodeUnsigned(payload, {
      chunkSize: CHUNK,
      trailers: { 'x-amz-checksum-crc32': crc32Base64(Buffer.from('something else')) },
    });
    const path = `/${BUCKET}/bad-unsigned-crc`;
    const { headers } = await signHeaders(
      'PUT',
      path,
      {},
      {
        'content-encoding': 'aws-chunked',
        'content-length': String(body.length),
        'x-amz-decoded-content-length': String(payload.length),
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    );
    await expectRejected('bad-unsigned-crc', () => send(t, 'PUT', path, headers, body), 400, 'BadDigest');
  });

  it('rejects a tampered chunk signature with SignatureDoesNotMatch', async () => {
    const payload = randomBytes(200 * 1024);
    await expectRejected('bad-chunk-sig', () => streamingPut('bad-chunk-sig', payload, { tamper: 'chunk' }), 403, 'SignatureDoesNotMatch');
  });

  it('rejects a tampered byte of chunk data with SignatureDoesNotMatch', async () => {
    const payload = randomBytes(200 * 1024);
    await expectRejected(
      'bad-chunk-data',
      () =>
        streamingPut('bad-chunk-data', payload, {
          mutate: (body) => {
            // 2nd chunk's data starts after "10000;chunk-signature=<64>\r\n" + 64 KiB + CRLF + the 2nd header.
            const secondData = 2 * 88 + CHUNK + 2;
            expect(body.subarray(secondData - 88, secondData - 66).toString()).toBe('10000;chunk-signature=');
            body[secondData + 1000] ^= 0xff;
          },
        }),
      403,
      'SignatureDoesNotMatch',
    );
  });

  it('rejects a tampered signature on the signed trailer with SignatureDoesNotMatch', async () => {
    const payload = randomBytes(100 * 1024);
    await expectRejected(
      'bad-trailer-sig',
      () => streamingPut('bad-trailer-sig', payload, { trailer: true, tamper: 'trailer' }),
      403,
      'SignatureDoesNotMatch',
    );
  });

  it('rejects an x-amz-decoded-content-length that does not match with IncompleteBody', async () => {
    const payload = randomBytes(200 * 1024);
    await expectRejected(
      'short-decl',
      () => streamingPut('short-decl', payload, { decodedLength: payload.length + 1 }),
      400,
      'IncompleteBody',
    );
    await expectRejected(
      'long-decl',
      () => streamingPut('long-decl', payload, { decodedLength: payload.length - 1 }),
      400,
      'IncompleteBody',
    );
  });

  it('leaves nothing behind when the client disconnects mid-upload', async () => {
    const blobsBefore = blobFiles(t.dataDir).sort();
    const total = 8 * 1024 * 1024;
    const path = `/${BUCKET}/abandoned`;
    const { headers } = await signHeaders('PUT', path, {}, { 'content-length': String(total), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    const url = new URL(t.endpoint);
    const req = http.request({ host: url.hostname, port: Number(url.port), method: 'PUT', path, headers, agent: false });
    const outcome = new Promise<string>((resolve) => {
      req.on('error', (e) => resolve(`error: ${e.message}`));
      req.on('response', (res) => resolve(`response ${res.statusCode}`));
    });
    const half = randomBytes(total / 2);
    await new Promise<void>((resolve, reject) => req.write(half, (err) => (err ? reject(err) : resolve())));
    // The server must have started staging this body, or the test proves nothing.
    const staging = Date.now();
    while (stagedFiles(t.dataDir).length === 0 && Date.now() - staging < 2000) await new Promise((r) => setTimeout(r, 10));
    expect(stagedFiles(t.dataDir).length).toBe(1);
    req.destroy();
    expect(await outcome).toMatch(/^error/);

    const deadline = Date.now() + 2000;
    while (stagedFiles(t.dataDir).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(stagedFiles(t.dataDir)).toEqual([]);
    const err = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'abandoned' })));
    expect(err.name).toBe('NoSuchKey');
    expect(blobFiles(t.dataDir).sort()).toEqual(blobsBefore);
  });

  it('accepts UploadPart bodies sent as STREAMING-AWS4-HMAC-SHA256-PAYLOAD', async () => {
    const key = 'multi';
    const parts = [randomBytes(5 * 1024 * 1024 + 3), randomBytes(100 * 1024 + 1)];
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const res = await streamingPut(key, part, { query: { partNumber: String(i + 1), uploadId: UploadId! } });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.etag).toBe(`"${md5Hex(part)}"`);
      etags.push(res.headers.etag as string);
    }
    const done = await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const expectedEtag = `"${createHash('md5')
      .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
      .digest('hex')}-2"`;
    expect(done.ETag).toBe(expectedEtag);
    expect((await getBytes(key)).equals(Buffer.concat(parts))).toBe(true);
    expect(stagedFiles(t.dataDir)).toEqual([]);
  });
});
