/**
 * SigV4 verification agrees with the AWS SDK's own signer: requests are either
 * produced by a real S3Client (captured by a tiny node:http server) or signed
 * directly with @smithy/signature-v4 configured as @aws-sdk/client-s3 does
 * (service 's3', uriEscapePath false, applyChecksum true).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type AuthContext, authenticate, type AuthRequest } from '../../src/s3/auth/sigv4.js';
import { S3Error } from '../../src/s3/errors.js';
import { sdkSigner } from '../support/sdk-signer.js';

const AKID = 'AKIDANVILTEST0000001';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const REGION = 'us-east-1';

function ctx(overrides: Partial<AuthContext> = {}): AuthContext {
  return {
    region: REGION,
    now: () => new Date(),
    maxSkewMs: 15 * 60 * 1000,
    lookupSecret: async (id) => (id === AKID ? SECRET : null),
    ...overrides,
  };
}

async function expectS3Error(p: Promise<unknown>, code: string, message?: string | RegExp): Promise<S3Error> {
  const err = await p.then(
    () => {
      throw new Error(`expected ${code}, got success`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S3Error);
  const s3 = err as S3Error;
  expect(s3.code).toBe(code);
  if (message !== undefined) expect(s3.message).toMatch(message);
  return s3;
}

// ------------------------------------------------------------ capture server

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

let server: Server;
let endpoint: string;
let host: string;
const captured: Captured[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      captured.push({ method: req.method!, url: req.url!, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': '0', etag: '"x"' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  host = `127.0.0.1:${port}`;
  endpoint = `http://${host}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function client(secret = SECRET, accessKeyId = AKID, region = REGION): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey: secret },
  });
}

/** Sends a command through a real S3Client and returns the request as our server saw it. */
async function capture(send: (c: S3Client) => Promise<unknown>, c = client()): Promise<AuthRequest> {
  const before = captured.length;
  await send(c).catch(() => undefined); // responses are dummies; only the request matters
  expect(captured.length).toBe(before + 1);
  const r = captured[captured.length - 1];
  return { method: r.method, url: r.url, headers: r.headers };
}

// ------------------------------------------------------------ direct signer

const signer = sdkSigner({ accessKeyId: AKID, secretAccessKey: SECRET }, REGION);

/** The SDK's escapeUri: encodeURIComponent plus !'()* */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

async function signDirect(opts: {
  method?: string;
  path: string;
  query?: Record<string, string>;
  rawQuery?: string;
  headers?: Record<string, string>;
  signingDate?: Date;
}): Promise<AuthRequest> {
  const req = new HttpRequest({
    method: opts.method ?? 'GET',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9000,
    path: opts.path,
    query: opts.query ?? {},
    headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...opts.headers },
  });
  const signed = await signer.sign(req, { signingDate: opts.signingDate ?? new Date() });
  const qs =
    opts.rawQuery ??
    Object.entries(opts.query ?? {})
      .map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`)
      .join('&');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  return { method: signed.method, url: opts.path + (qs ? `?${qs}` : ''), headers };
}

// ------------------------------------------------------------------- tests

describe('header auth against a real S3Client', () => {
  it('accepts a simple GET', async () => {
    const req = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'hello.txt' })));
    const result = await authenticate(req, ctx());
    expect(result).toMatchObject({ kind: 'signed', accessKeyId: AKID });
    if (result.kind !== 'signed') throw new Error('unreachable');
    expect(['sha256', 'unsigned']).toContain(result.payload.type);
  });

  const keys = [
    'with space.txt',
    'a+b',
    '100%',
    '100%25',
    'é/日本語/ключ',
    'a//b',
    '/leading',
    'trailing/',
    'tilde~x',
    "!'()*[]{}@$&=;:,?#",
    'a/./b/../c',
    '..',
    'emoji 😀',
    'tab\tand\u0001ctl',
  ];
  for (const key of keys) {
    it(`accepts key ${JSON.stringify(key)}`, async () => {
      const req = await capture((c) => c.send(new HeadObjectCommand({ Bucket: 'bkt', Key: key })));
      await expect(authenticate(req, ctx())).resolves.toMatchObject({ kind: 'signed', accessKeyId: AKID });
    });
  }

  it('accepts ListObjectsV2 with prefix "a b", delimiter and start-after', async () => {
    const req = await capture((c) =>
      c.send(
        new ListObjectsV2Command({
          Bucket: 'bkt',
          Prefix: 'a b+c/é',
          Delimiter: '/',
          StartAfter: 'x=y&z',
          ContinuationToken: 'tok+en/==',
          MaxKeys: 10,
        }),
      ),
    );
    expect(req.url).toContain('list-type=2');
    await expect(authenticate(req, ctx())).resolves.toMatchObject({ kind: 'signed' });
  });

  it('accepts a PutObject with a body', async () => {
    const req = await capture((c) =>
      c.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'k', Body: 'hello world', ContentType: 'text/plain' })),
    );
    await expect(authenticate(req, ctx())).resolves.toMatchObject({ kind: 'signed' });
  });

  it('rejects a wrong secret with SignatureDoesNotMatch', async () => {
    const req = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'k' })), client('wrong'));
    const err = await expectS3Error(authenticate(req, ctx()), 'SignatureDoesNotMatch');
    expect(err.status).toBe(403);
    expect(err.extra.CanonicalRequest).toContain('/bkt/k');
  });

  it('rejects an unknown key with InvalidAccessKeyId', async () => {
    const req = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'k' })), client(SECRET, 'AKIDUNKNOWN'));
    await expectS3Error(authenticate(req, ctx()), 'InvalidAccessKeyId');
  });

  it('rejects a region mismatch with S3 wording', async () => {
    const req = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'k' })), client(SECRET, AKID, 'eu-west-1'));
    await expectS3Error(
      authenticate(req, ctx()),
      'AuthorizationHeaderMalformed',
      "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
    );
  });

  it('rejects a tampered signature, path or header', async () => {
    const req = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'k' })));
    const auth = req.headers.authorization as string;
    const flipped = auth.replace(/Signature=([0-9a-f])/, (_m, c: string) => `Signature=${c === '0' ? '1' : '0'}`);
    await expectS3Error(authenticate({ ...req, headers: { ...req.headers, authorization: flipped } }, ctx()), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...req, url: '/bkt/K' }, ctx()), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...req, headers: { ...req.headers, host: 'evil:1' } }, ctx()), 'SignatureDoesNotMatch');
  });

  it('rejects clock skew beyond the limit with RequestTimeTooSkewed', async () => {
    const req = await capture((c) => c.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'k' })));
    const late = () => new Date(Date.now() + 16 * 60 * 1000);
    const err = await expectS3Error(authenticate(req, ctx({ now: late })), 'RequestTimeTooSkewed');
    expect(err.status).toBe(403);
    const early = () => new Date(Date.now() - 16 * 60 * 1000);
    await expectS3Error(authenticate(req, ctx({ now: early })), 'RequestTimeTooSkewed');
    const within = () => new Date(Date.now() + 14 * 60 * 1000);
    await expect(authenticate(req, ctx({ now: within }))).resolves.toMatchObject({ kind: 'signed' });
  });
});

describe('header auth, signed directly with @smithy/signature-v4', () => {
  it('canonicalises query params: empty values, valueless params, sort order, spaces', async () => {
    const query = { 'list-type': '2', prefix: 'a b', delimiter: '/', 'encoding-type': '', 'Z-upper': 'v', 'a~b': 'c*d' };
    const req = await signDirect({ path: '/bkt', query });
    await expect(authenticate(req, ctx())).resolves.toMatchObject({ kind: 'signed' });
  });

  it('treats ?uploads (no "=") like uploads=', async () => {
    const req = await signDirect({ method: 'POST', path: '/bkt/key', query: { uploads: '' }, rawQuery: 'uploads' });
    await expect(authenticate(req, ctx())).resolves.toMatchObject({ kind: 'signed' });
  });

  it('accepts a raw "+" meaning a space (form encoding) and a raw "+" meaning a plus', async () => {
    const asSpace = await signDirect({ path: '/bkt', query: { prefix: 'a b' }, rawQuery: 'prefix=a+b' });
    await expect(authenticate(asSpace, ctx())).resolves.toMatchObject({ kind: 'signed' });
    const asPlus = await signDirect({ path: '/bkt', query: { prefix: 'a+b' }, rawQuery: 'prefix=a+b' });
    await expect(authenticate(asPlus, ctx())).resolves.toMatchObject({ kind: 'signed' });
  });

  it('accepts lower-case percent escapes and over-encoded unreserved characters in the path', async () => {
    const req = await signDirect({ path: '/bkt/a%20b~c' });
    await expect(authenticate({ ...req, url: '/bkt/a%20b%7Ec' }, ctx())).resolves.toMatchObject({ kind: 'signed' });
    const req2 = await signDirect({ path: '/bkt/%C3%A9' });
    await expect(authenticate({ ...req2, url: '/bkt/%c3%a9' }, ctx())).resolves.toMatchObject({ kind: 'signed' });
  });

  it('collapses whitespace in signed header values and joins repeated values', async () => {
    const req = await signDirect({ path: '/bkt/k', headers: { 'x-amz-meta-note': 'a   b\t c' } });
    expect(req.headers['authorization']).toContain('x-amz-meta-note');
    const padded = { ...req.headers, 'x-amz-meta-note': '  a b  c  ' };
    await expect(authenticate({ ...req, headers: padded }, ctx())).resolves.toMatchObject({ kind: 'signed' });
  });

  it('tolerates Authorization header spacing variants', async () => {
    const req = await signDirect({ path: '/bkt/k' });
    const auth = req.headers.authorization as string;
    const tight = auth.replace(/, /g, ',');
    const loose = auth.replace(/, /g, ' ,  ').replace('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256   ');
    for (const variant of [tight, loose]) {
      await expect(authenticate({ ...req, headers: { ...req.headers, authorization: variant } }, ctx())).resolves.toMatchObject({
        kind: 'signed',
      });
    }
  });

  it('returns the payload mode from x-amz-content-sha256', async () => {
    const hex = 'a'.repeat(64);
    const sha = await signDirect({ method: 'PUT', path: '/bkt/k', headers: { 'x-amz-content-sha256': hex.toUpperCase() } });
    await expect(authenticate(sha, ctx())).resolves.toMatchObject({ payload: { type: 'sha256', expectedHex: hex } });

    const unsignedTrailer = await signDirect({
      method: 'PUT',
      path: '/bkt/k',
      headers: { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
    });
    const r1 = await authenticate(unsignedTrailer, ctx());
    expect(r1).toMatchObject({ payload: { type: 'streaming-unsigned-trailer' } });
    expect(r1.kind === 'signed' && r1.chunkSigning).toBeFalsy();

    const date = new Date('2026-11-22T10:00:00Z');
    const streaming = await signDirect({
      method: 'PUT',
      path: '/bkt/k',
      headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' },
      signingDate: date,
    });
    const r2 = await authenticate(streaming, ctx({ now: () => date }));
    if (r2.kind !== 'signed') throw new Error('expected signed');
    expect(r2.payload).toEqual({ type: 'streaming-signed', trailer: true });
    const seed = /Signature=([0-9a-f]{64})/.exec(streaming.headers.authorization as string)![1];
    expect(r2.chunkSigning).toMatchObject({
      seedSignature: seed,
      amzDate: '20261122T100000Z',
      scope: '20261122/us-east-1/s3/aws4_request',
    });
    expect(r2.chunkSigning!.signingKey).toBeInstanceOf(Buffer);
  });

  it('rejects a missing x-amz-content-sha256 with InvalidRequest', async () => {
    const req = await signDirect({ path: '/bkt/k' });
    const headers = { ...req.headers };
    delete headers['x-amz-content-sha256'];
    await expectS3Error(
      authenticate({ ...req, headers }, ctx()),
      'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256',
    );
  });

  it('rejects an invalid x-amz-content-sha256 value', async () => {
    const req = await signDirect({ path: '/bkt/k', headers: { 'x-amz-content-sha256': 'nope' } });
    await expectS3Error(authenticate(req, ctx()), 'InvalidArgument');
  });

  it('rejects a missing x-amz-date', async () => {
    const req = await signDirect({ path: '/bkt/k' });
    const headers = { ...req.headers };
    delete headers['x-amz-date'];
    await expectS3Error(authenticate({ ...req, headers }, ctx()), 'AccessDenied', /valid Date or x-amz-date/);
  });

  it('rejects a credential date that differs from x-amz-date', async () => {
    const req = await signDirect({ path: '/bkt/k' });
    const auth = (req.headers.authorization as string).replace(/(Credential=[^/]+)\/\d{8}/, '$1/19990101');
    await expectS3Error(
      authenticate({ ...req, headers: { ...req.headers, authorization: auth } }, ctx()),
      'AuthorizationHeaderMalformed',
      /Date/,
    );
  });

  it('rejects a wrong service or terminator in the scope', async () => {
    const req = await signDirect({ path: '/bkt/k' });
    const auth = req.headers.authorization as string;
    await expectS3Error(
      authenticate({ ...req, headers: { ...req.headers, authorization: auth.replace('/s3/', '/s4/') } }, ctx()),
      'AuthorizationHeaderMalformed',
      /service 's4'/,
    );
    await expectS3Error(
      authenticate({ ...req, headers: { ...req.headers, authorization: auth.replace('aws4_request', 'aws5_request') } }, ctx()),
      'AuthorizationHeaderMalformed',
    );
  });

  it('requires host among the signed headers', async () => {
    const req = await signDirect({ path: '/bkt/k' });
    const auth = (req.headers.authorization as string).replace('SignedHeaders=host;', 'SignedHeaders=');
    await expectS3Error(
      authenticate({ ...req, headers: { ...req.headers, authorization: auth } }, ctx()),
      'AuthorizationHeaderMalformed',
      /host/,
    );
  });

  it('rejects SigV2 and other algorithms with a clear error', async () => {
    const base = { method: 'GET', url: '/bkt/k', headers: { host: 'x' } };
    await expectS3Error(
      authenticate({ ...base, headers: { ...base.headers, authorization: `AWS ${AKID}:abc=` } }, ctx()),
      'InvalidRequest',
      /Please use AWS4-HMAC-SHA256/,
    );
    await expectS3Error(
      authenticate({ ...base, headers: { ...base.headers, authorization: 'AWS4-ECDSA-P256-SHA256 Credential=x' } }, ctx()),
      'InvalidRequest',
    );
    await expectS3Error(authenticate({ ...base, url: `/bkt/k?AWSAccessKeyId=${AKID}&Signature=x&Expires=1` }, ctx()), 'InvalidRequest');
  });

  it('rejects a malformed Authorization header', async () => {
    const base = { method: 'GET', url: '/bkt/k', headers: { host: 'x', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } };
    await expectS3Error(
      authenticate({ ...base, headers: { ...base.headers, authorization: 'AWS4-HMAC-SHA256 Credential=a/b, Signature=x' } }, ctx()),
      'AuthorizationHeaderMalformed',
    );
  });

  it('treats a request without credentials as anonymous', async () => {
    await expect(authenticate({ method: 'GET', url: '/bkt/k?x=1', headers: { host: 'x' } }, ctx())).resolves.toEqual({
      kind: 'anonymous',
    });
  });

  it('looks the secret up once per request', async () => {
    let calls = 0;
    const req = await signDirect({ path: '/bkt', query: { prefix: 'a b' }, rawQuery: 'prefix=a+b' });
    await authenticate(req, ctx({ lookupSecret: async () => (calls++, SECRET) }));
    expect(calls).toBe(1);
  });
});

describe('presigned URLs from @aws-sdk/s3-request-presigner', () => {
  async function presign(opts: { key?: string; expiresIn?: number; signingDate?: Date; secret?: string } = {}) {
    const url = await getSignedUrl(client(opts.secret), new GetObjectCommand({ Bucket: 'bkt', Key: opts.key ?? 'a b/é+c.txt' }), {
      expiresIn: opts.expiresIn ?? 300,
      signingDate: opts.signingDate,
    });
    const u = new URL(url);
    return { method: 'GET', url: u.pathname + u.search, headers: { host: u.host } } satisfies AuthRequest;
  }

  it('accepts a fresh presigned GET as unsigned payload', async () => {
    const req = await presign();
    expect(req.url).toContain('X-Amz-Signature=');
    await expect(authenticate(req, ctx())).resolves.toEqual({
      kind: 'signed',
      accessKeyId: AKID,
      payload: { type: 'unsigned' },
    });
  });

  it('rejects an expired URL with AccessDenied "Request has expired"', async () => {
    const req = await presign({ expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    await expectS3Error(authenticate(req, ctx()), 'AccessDenied', 'Request has expired');
  });

  it('rejects a URL dated in the future beyond the allowed skew', async () => {
    const req = await presign({ signingDate: new Date(Date.now() + 20 * 60 * 1000) });
    await expectS3Error(authenticate(req, ctx()), 'AccessDenied');
  });

  it('rejects X-Amz-Expires outside 1..604800', async () => {
    const req = await presign();
    for (const bad of ['0', '604801', 'abc']) {
      const url = req.url.replace(/X-Amz-Expires=\d+/, `X-Amz-Expires=${bad}`);
      await expectS3Error(authenticate({ ...req, url }, ctx()), 'AuthorizationQueryParametersError');
    }
  });

  it('rejects a tampered signature, key or wrong secret', async () => {
    const req = await presign();
    const tampered = req.url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    await expectS3Error(authenticate({ ...req, url: tampered }, ctx()), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...req, url: req.url.replace('/bkt/', '/bkt2/') }, ctx()), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate(await presign({ secret: 'wrong' }), ctx()), 'SignatureDoesNotMatch');
  });

  it('rejects missing query auth parameters', async () => {
    const req = await presign();
    const url = req.url.replace(/&?X-Amz-SignedHeaders=[^&]*/, '');
    await expectS3Error(authenticate({ ...req, url }, ctx()), 'AuthorizationQueryParametersError');
  });

  it('rejects header and query auth together', async () => {
    const req = await presign();
    await expectS3Error(
      authenticate({ ...req, headers: { ...req.headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }, ctx()),
      'InvalidArgument',
    );
  });

  it('rejects an unknown key and a region mismatch', async () => {
    const req = await presign();
    await expectS3Error(authenticate(req, ctx({ lookupSecret: async () => null })), 'InvalidAccessKeyId');
    await expectS3Error(authenticate(req, ctx({ region: 'eu-west-1' })), 'AuthorizationQueryParametersError', /region/);
  });
});
