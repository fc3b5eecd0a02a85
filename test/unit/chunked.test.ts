/**
 * aws-chunked decoding: real bodies captured from @aws-sdk/client-s3
 * (STREAMING-UNSIGNED-PAYLOAD-TRAILER with an x-amz-checksum-crc32 trailer) and
 * signed bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) whose seed
 * signature and chunk HMACs come from @smithy/signature-v4. Every body is fed in
 * pieces of random sizes, including one byte at a time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AwsChunkedDecoder, type AwsChunkedOptions } from '../../src/s3/auth/chunked.js';
import { type AuthContext, authenticate, type ChunkSigningState } from '../../src/s3/auth/sigv4.js';
import { S3Error } from '../../src/s3/errors.js';
import { crc32Base64, encodeSigned as encodeSignedWith, sha256Hex, type SignedEncodeOptions } from '../support/aws-chunked.js';
import { sdkSigner } from '../support/sdk-signer.js';

const AKID = 'AKIDANVILTEST0000001';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const REGION = 'us-east-1';

/** Deterministic PRNG so a failing split is reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function split(body: Buffer, mode: 'one-byte' | 'random' | 'whole', seed = 1): Buffer[] {
  if (mode === 'whole') return [body];
  const pieces: Buffer[] = [];
  const rnd = prng(seed);
  for (let pos = 0; pos < body.length;) {
    const n = mode === 'one-byte' ? 1 : 1 + Math.floor(rnd() * (rnd() < 0.3 ? 7 : 70_000));
    pieces.push(body.subarray(pos, pos + n));
    pos += n;
  }
  return pieces;
}

async function decode(body: Buffer, opts: AwsChunkedOptions, mode: 'one-byte' | 'random' | 'whole' = 'random', seed = 1) {
  const decoder = new AwsChunkedDecoder(opts);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(split(body, mode, seed)),
    decoder,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return { data: Buffer.concat(out), trailers: decoder.trailers };
}

async function expectDecodeError(body: Buffer, opts: AwsChunkedOptions, code: string, mode: 'one-byte' | 'random' | 'whole' = 'random') {
  const err = await decode(body, opts, mode).then(
    () => {
      throw new Error(`expected ${code}, decoding succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S3Error);
  expect((err as S3Error).code).toBe(code);
}

// ---------------------------------------------- real SDK body (unsigned trailer)

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let endpoint: string;
const captured: Captured[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      captured.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(parts) });
      res.writeHead(200, { etag: '"x"', 'content-length': '0' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function ctx(now = () => new Date()): AuthContext {
  return { region: REGION, now, maxSkewMs: 15 * 60 * 1000, lookupSecret: async (id) => (id === AKID ? SECRET : null) };
}

async function captureSdkPut(payload: Buffer, pieceSize: number): Promise<Captured> {
  const c = new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
  });
  const pieces = split(payload, 'whole').flatMap((b) => {
    const out: Buffer[] = [];
    for (let i = 0; i < b.length; i += pieceSize) out.push(b.subarray(i, i + pieceSize));
    return out;
  });
  const before = captured.length;
  await c.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'k', Body: Readable.from(pieces), ContentLength: payload.length }));
  expect(captured.length).toBe(before + 1);
  return captured[captured.length - 1];
}

describe('bodies sent by @aws-sdk/client-s3 (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  const payload = randomBytes(300_000);
  let req: Captured;

  beforeAll(async () => {
    req = await captureSdkPut(payload, 65_536);
  });

  it('is the format we expect, and authenticates as streaming-unsigned-trailer', async () => {
    expect(req.headers['content-encoding']).toBe('aws-chunked');
    expect(req.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(req.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    const auth = await authenticate(req, ctx());
    expect(auth).toMatchObject({ kind: 'signed', payload: { type: 'streaming-unsigned-trailer' } });
  });

  for (const mode of ['whole', 'random', 'one-byte'] as const) {
    it(`decodes the body fed ${mode}`, async () => {
      const opts = { trailer: true, decodedLength: Number(req.headers['x-amz-decoded-content-length']) };
      const { data, trailers } = await decode(req.body, opts, mode);
      expect(data.equals(payload)).toBe(true);
      expect(trailers).toEqual({ 'x-amz-checksum-crc32': crc32Base64(payload) });
    });
  }

  it('decodes an empty body', async () => {
    const empty = await captureSdkPut(Buffer.alloc(0), 1);
    const { data, trailers } = await decode(empty.body, { trailer: true, decodedLength: 0 }, 'one-byte');
    expect(data.length).toBe(0);
    expect(Object.keys(trailers).length).toBeLessThanOrEqual(1);
  });

  it('rejects a truncated body with IncompleteBody', async () => {
    // Cut inside the data, inside a chunk header, and before the final chunk.
    for (const cut of [1000, 65_536 + 5, req.body.length - 40]) {
      await expectDecodeError(req.body.subarray(0, cut), { trailer: true }, 'IncompleteBody');
    }
  });

  it('rejects a wrong x-amz-decoded-content-length', async () => {
    await expectDecodeError(req.body, { trailer: true, decodedLength: payload.length + 1 }, 'IncompleteBody');
    await expectDecodeError(req.body, { trailer: true, decodedLength: payload.length - 1 }, 'IncompleteBody');
  });

  it('rejects malformed framing', async () => {
    await expectDecodeError(Buffer.from('zz\r\nabc\r\n0\r\n\r\n'), { trailer: false }, 'InvalidRequest');
    await expectDecodeError(Buffer.from('3\r\nabcX\r\n0\r\n\r\n'), { trailer: false }, 'InvalidRequest');
    await expectDecodeError(Buffer.from('3\r\nabc\r\n0\r\n\r\ngarbage'), { trailer: false }, 'InvalidRequest');
    await expectDecodeError(Buffer.from('3'.repeat(5000)), { trailer: false }, 'InvalidRequest');
  });

  it('accepts the SDK ending without trailers ("0\\r\\n" and no final CRLF)', async () => {
    const { data } = await decode(Buffer.from('3\r\nabc\r\n0\r\n'), { trailer: false }, 'one-byte');
    expect(data.toString()).toBe('abc');
    const { trailers } = await decode(Buffer.from('3\r\nabc\r\n0\r\nX-Amz-Checksum-Crc32: abc= \r\n'), { trailer: true });
    expect(trailers).toEqual({ 'x-amz-checksum-crc32': 'abc=' });
    // …but a trailer line cut in the middle is a truncated body.
    await expectDecodeError(Buffer.from('3\r\nabc\r\n0\r\nx-amz-checksum-crc32:ab'), { trailer: true }, 'IncompleteBody');
  });
});

// --------------------------------------------------------- signed chunk bodies

const signer = sdkSigner({ accessKeyId: AKID, secretAccessKey: SECRET }, REGION);

const signingDate = new Date('2026-11-22T10:00:00Z');

/** Signs the request headers with the SDK and runs our verifier to get the chunk signing state. */
async function signedStreamingRequest(trailer: boolean, decodedLength: number): Promise<ChunkSigningState> {
  const req = new HttpRequest({
    method: 'PUT',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9000,
    path: '/bkt/key',
    headers: {
      host: '127.0.0.1:9000',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(decodedLength),
      'x-amz-content-sha256': trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      ...(trailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
    },
  });
  const signed = await signer.sign(req, { signingDate });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  const auth = await authenticate(
    { method: 'PUT', url: '/bkt/key', headers },
    ctx(() => signingDate),
  );
  if (auth.kind !== 'signed' || !auth.chunkSigning) throw new Error('expected chunk signing state');
  expect(auth.chunkSigning.seedSignature).toBe(/Signature=([0-9a-f]{64})/.exec(headers.authorization)![1]);
  return auth.chunkSigning;
}

/** The spec-written encoder (test/support/aws-chunked.ts), bound to this file's signer and date. */
const encodeSigned = (payload: Buffer, seedSignature: string, opts: SignedEncodeOptions) =>
  encodeSignedWith(payload, seedSignature, { signer, signingDate, region: REGION }, opts);

describe('signed aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER])', () => {
  const payload = randomBytes(200_000);

  for (const trailer of [false, true]) {
    const label = trailer ? 'with signed trailer' : 'without trailer';

    it(`decodes and verifies every chunk ${label}, in random pieces and one byte at a time`, async () => {
      const signing = await signedStreamingRequest(trailer, payload.length);
      const body = await encodeSigned(payload, signing.seedSignature, { chunkSize: 65_536, trailer });
      for (const mode of ['whole', 'random', 'one-byte'] as const) {
        const { data, trailers } = await decode(body, { signing, trailer, decodedLength: payload.length }, mode, 7);
        expect(data.equals(payload)).toBe(true);
        expect(trailers).toEqual(trailer ? { 'x-amz-checksum-crc32': crc32Base64(payload) } : {});
      }
    });

    it(`rejects a tampered chunk signature ${label}`, async () => {
      const signing = await signedStreamingRequest(trailer, payload.length);
      const body = await encodeSigned(payload, signing.seedSignature, { chunkSize: 65_536, trailer, tamper: 'chunk' });
      await expectDecodeError(body, { signing, trailer }, 'SignatureDoesNotMatch');
    });

    it(`rejects tampered chunk data ${label}`, async () => {
      const signing = await signedStreamingRequest(trailer, payload.length);
      const body = await encodeSigned(payload, signing.seedSignature, { chunkSize: 65_536, trailer });
      const evil = Buffer.from(body);
      evil[70_000] ^= 0xff; // inside the second chunk's data
      await expectDecodeError(evil, { signing, trailer }, 'SignatureDoesNotMatch');
    });

    it(`rejects a truncated body ${label}`, async () => {
      const signing = await signedStreamingRequest(trailer, payload.length);
      const body = await encodeSigned(payload, signing.seedSignature, { chunkSize: 65_536, trailer });
      for (const cut of [100, 30, 5, 120_000]) {
        await expectDecodeError(body.subarray(0, body.length - cut), { signing, trailer }, 'IncompleteBody');
      }
    });
  }

  it('rejects a tampered trailer signature or trailer value', async () => {
    const signing = await signedStreamingRequest(true, payload.length);
    for (const tamper of ['trailer', 'trailer-value'] as const) {
      const body = await encodeSigned(payload, signing.seedSignature, { chunkSize: 65_536, trailer: true, tamper });
      await expectDecodeError(body, { signing, trailer: true }, 'SignatureDoesNotMatch');
    }
  });

  it('rejects a missing trailer signature when trailers were announced', async () => {
    const signing = await signedStreamingRequest(true, payload.length);
    const body = await encodeSigned(payload, signing.seedSignature, { chunkSize: 65_536, trailer: true });
    const text = body.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]{64}\r\n/, '');
    await expectDecodeError(Buffer.from(text, 'latin1'), { signing, trailer: true }, 'SignatureDoesNotMatch');
  });

  it('rejects chunks without signatures when signing is required', async () => {
    const signing = await signedStreamingRequest(false, 3);
    await expectDecodeError(Buffer.from('3\r\nabc\r\n0\r\n\r\n'), { signing, trailer: false }, 'SignatureDoesNotMatch');
  });

  it('rejects a chunk signed with another seed (wrong secret)', async () => {
    const signing = await signedStreamingRequest(false, payload.length);
    const body = await encodeSigned(payload, 'f'.repeat(64), { chunkSize: 65_536, trailer: false });
    await expectDecodeError(body, { signing, trailer: false }, 'SignatureDoesNotMatch', 'whole');
  });

  it('handles multi-MiB chunks without buffering them', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 17);
    const signing = await signedStreamingRequest(false, big.length);
    const body = await encodeSigned(big, signing.seedSignature, { chunkSize: 4 * 1024 * 1024, trailer: false });
    const decoder = new AwsChunkedDecoder({ signing, trailer: false, decodedLength: big.length });
    let maxPiece = 0;
    let total = 0;
    const hash = createHash('sha256');
    await pipeline(
      Readable.from(split(body, 'random', 3)),
      decoder,
      new Writable({
        write(chunk: Buffer, _e, cb) {
          maxPiece = Math.max(maxPiece, chunk.length);
          total += chunk.length;
          hash.update(chunk);
          cb();
        },
      }),
    );
    expect(total).toBe(big.length);
    expect(hash.digest('hex')).toBe(sha256Hex(big));
    expect(maxPiece).toBeLessThan(70_001); // output pieces mirror input pieces: no chunk-sized buffers
  });
});
