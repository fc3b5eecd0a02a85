/**
 * An aws-chunked body encoder written from the AWS spec ("Signature
 * Calculations for the Authorization Header: Transferring Payload in Multiple
 * Chunks"), shared by the unit and integration tests. Chunk and trailer HMACs
 * are computed by the SDK's own signer (@smithy/signature-v4), never by
 * Anvil's code.
 *
 *   hex-size;chunk-signature=sig\r\n <data> \r\n        … one per chunk …
 *   0;chunk-signature=sig\r\n
 *   [x-amz-checksum-crc32:value\r\n x-amz-trailer-signature:sig\r\n]
 *   \r\n
 */
import { createHash } from 'node:crypto';

import { Crc32 } from '@aws-crypto/crc32';
import type { SignatureV4 } from '@smithy/signature-v4';

export const EMPTY_SHA256 = createHash('sha256').digest('hex');

export const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** x-amz-checksum-crc32 value: big-endian CRC32, base64. */
export function crc32Base64(b: Buffer): string {
  const c = new Crc32();
  c.update(b);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(c.digest() >>> 0);
  return out.toString('base64');
}

/** ISO 8601 basic format, as in X-Amz-Date. */
export function amzDateOf(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export interface ChunkSigning {
  /** the SDK signer (its credentials and region must be those of the seed signature) */
  signer: SignatureV4;
  /** the date the seed request was signed with */
  signingDate: Date;
  region: string;
}

export interface SignedEncodeOptions {
  chunkSize: number;
  trailer: boolean;
  /**
   * 'chunk': flip the first hex digit of the 2nd chunk's signature;
   * 'trailer': flip the first hex digit of the trailer signature;
   * 'trailer-value': send a different checksum than the one signed.
   */
  tamper?: 'chunk' | 'trailer' | 'trailer-value';
  /** the x-amz-checksum-crc32 trailer value to sign and send (default: the payload's true CRC32) */
  trailerChecksum?: string;
}

function flipFirstHex(sig: string): string {
  return sig.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
}

/** Encodes payload as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body chained from seedSignature. */
export async function encodeSigned(
  payload: Buffer,
  seedSignature: string,
  signing: ChunkSigning,
  opts: SignedEncodeOptions,
): Promise<Buffer> {
  const { signer, signingDate } = signing;
  const amzDate = amzDateOf(signingDate);
  const scope = `${amzDate.slice(0, 8)}/${signing.region}/s3/aws4_request`;
  const parts: Buffer[] = [];
  let previous = seedSignature;
  const chunks: Buffer[] = [];
  for (let i = 0; i < payload.length; i += opts.chunkSize) chunks.push(payload.subarray(i, i + opts.chunkSize));
  chunks.push(Buffer.alloc(0));
  for (const [i, chunk] of chunks.entries()) {
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, EMPTY_SHA256, sha256Hex(chunk)].join('\n');
    previous = await signer.sign(toSign, { signingDate });
    const sent = opts.tamper === 'chunk' && i === 1 ? flipFirstHex(previous) : previous;
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${sent}\r\n`));
    if (chunk.length > 0) parts.push(chunk, Buffer.from('\r\n'));
  }
  if (opts.trailer) {
    const checksum = opts.trailerChecksum ?? crc32Base64(payload);
    const canonical = `x-amz-checksum-crc32:${checksum}\n`;
    const toSign = ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, previous, sha256Hex(canonical)].join('\n');
    let trailerSig = await signer.sign(toSign, { signingDate });
    if (opts.tamper === 'trailer') trailerSig = flipFirstHex(trailerSig);
    const sentChecksum = opts.tamper === 'trailer-value' ? 'AAAAAA==' : checksum;
    parts.push(Buffer.from(`x-amz-checksum-crc32:${sentChecksum}\r\nx-amz-trailer-signature:${trailerSig}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Encodes payload as a STREAMING-UNSIGNED-PAYLOAD-TRAILER body (no chunk signatures) with the given trailers. */
export function encodeUnsigned(payload: Buffer, opts: { chunkSize: number; trailers: Record<string, string> }): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < payload.length; i += opts.chunkSize) {
    const chunk = payload.subarray(i, i + opts.chunkSize);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n'));
  for (const [name, value] of Object.entries(opts.trailers)) parts.push(Buffer.from(`${name}:${value}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
