/**
 * Request bodies: undo aws-chunked framing when the client streamed, and
 * gather what the client promised about the body (length, signed SHA-256,
 * Content-MD5 and x-amz-checksum-*, sent as headers or as trailers) as an
 * ExpectedBody that core checks after the last byte (core/objects/digests.ts).
 * A body that fails any check is never committed.
 */
import { BodyDigester, CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../blobs/index.js';
import { type ExpectedBody, verifyDigests } from '../core/objects/digests.js';
import { AwsChunkedDecoder } from './auth/chunked.js';
import { header, type S3Request } from './context.js';
import { errors } from './errors.js';

export interface RequestBody {
  stream: AsyncIterable<Buffer>;
  /** Trailing headers (lower-case), available once the stream ended. */
  trailers(): Record<string, string>;
  declaredLength?: number;
}

function parseLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw errors.invalidArgument('Invalid content length', 'Content-Length', value);
  return Number(value);
}

export function requestBody(r: S3Request, opts: { requireLength?: boolean } = {}): RequestBody {
  const payload = r.auth.kind === 'signed' ? r.auth.payload : { type: 'unsigned' as const };
  const contentLength = parseLength(header(r, 'content-length'));
  const encoding = (header(r, 'content-encoding') ?? '').toLowerCase();
  const streaming =
    payload.type === 'streaming-signed' || payload.type === 'streaming-unsigned-trailer' || encoding.includes('aws-chunked');
  if (streaming) {
    const decodedLength = parseLength(header(r, 'x-amz-decoded-content-length'));
    if (decodedLength === undefined && opts.requireLength) throw errors.missingContentLength();
    const decoder = new AwsChunkedDecoder({
      signing: r.auth.kind === 'signed' ? r.auth.chunkSigning : undefined,
      trailer: payload.type === 'streaming-unsigned-trailer' || (payload.type === 'streaming-signed' && payload.trailer),
      decodedLength,
    });
    // The decoder fails when its input ends short or breaks, whether or not anyone
    // reads it: a handler that rejects the request on its headers never does. An
    // 'error' with no listener would take the whole process down, so the error is
    // owned here; a reader still receives it through its own listener.
    decoder.on('error', () => undefined);
    r.req.pipe(decoder);
    r.req.once('error', (err) => decoder.destroy(err));
    r.req.once('aborted', () => decoder.destroy(errors.incompleteBody()));
    (r.bodyStreams ??= []).push(decoder);
    return { stream: decoder, trailers: () => decoder.trailers, declaredLength: decodedLength };
  }
  if (contentLength === undefined && opts.requireLength && header(r, 'transfer-encoding') === undefined) {
    throw errors.missingContentLength();
  }
  return { stream: r.req, trailers: () => ({}), declaredLength: contentLength };
}

/** The checksum algorithms the client asked us to verify or store, from headers and announced trailers. */
export function requestedChecksums(r: S3Request): ChecksumAlgorithm[] {
  const wanted = new Set<ChecksumAlgorithm>();
  const consider = (name: string) => {
    const alg = name
      .trim()
      .toLowerCase()
      .replace(/^x-amz-checksum-/, '');
    if (alg === '') return;
    if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(alg)) {
      throw errors.invalidRequest(`Value for x-amz-checksum-algorithm header is invalid: ${alg}`);
    }
    wanted.add(alg as ChecksumAlgorithm);
  };
  for (const alg of CHECKSUM_ALGORITHMS) if (header(r, `x-amz-checksum-${alg}`) !== undefined) wanted.add(alg);
  for (const t of (header(r, 'x-amz-trailer') ?? '').split(',')) if (t.trim()) consider(t);
  const sdkAlg = header(r, 'x-amz-sdk-checksum-algorithm') ?? header(r, 'x-amz-checksum-algorithm');
  if (sdkAlg) consider(sdkAlg);
  return [...wanted];
}

/** What the request declares about its body, for core to check once the body is staged. */
export function expectedBody(r: S3Request, body: RequestBody): ExpectedBody {
  const fromHeaders = (source: (name: string) => string | undefined) => {
    const out: Partial<Record<ChecksumAlgorithm, string>> = {};
    for (const alg of CHECKSUM_ALGORITHMS) {
      const value = source(`x-amz-checksum-${alg}`);
      if (value !== undefined) out[alg] = value;
    }
    return out;
  };
  return {
    length: body.declaredLength,
    sha256: r.auth.kind === 'signed' && r.auth.payload.type === 'sha256' ? r.auth.payload.expectedHex : undefined,
    contentMd5: header(r, 'content-md5'),
    checksums: fromHeaders((name) => header(r, name)),
    trailingChecksums: () => {
      const trailers = body.trailers();
      return fromHeaders((name) => trailers[name]);
    },
    algorithms: requestedChecksums(r),
  };
}

/** Reads a small request body (XML documents) fully, verifying it like any other body. */
export async function readSmallBody(r: S3Request, limit = 1 << 20): Promise<Buffer> {
  const body = requestBody(r);
  const expect = expectedBody(r, body);
  const digester = new BodyDigester({ sha256: expect.sha256 !== undefined, checksums: expect.algorithms });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body.stream) {
    size += chunk.length;
    if (size > limit) throw errors.malformedXML();
    digester.update(chunk);
    chunks.push(chunk);
  }
  verifyDigests(digester.digest(), expect);
  return Buffer.concat(chunks);
}
