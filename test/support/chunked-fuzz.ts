/**
 * fast-check generators for aws-chunked request bodies: random chunk sizes,
 * the three streaming modes, and one framing mutation per body (bad sizes,
 * truncation, bad CRLF, flipped data or signatures, trailer damage, bytes
 * after the end). Chunk and trailer signatures are computed with the AWS
 * SDK's own signer (as in aws-chunked.ts), never with Anvil's code; each
 * mutation says whether the server must refuse the body.
 */
import { createHash } from 'node:crypto';

import type { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';

import { amzDateOf, crc32Base64, EMPTY_SHA256 } from './aws-chunked.js';

export type StreamingMode = 'signed' | 'signed-trailer' | 'unsigned-trailer';

export const CONTENT_SHA256: Record<StreamingMode, string> = {
  signed: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'signed-trailer': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'unsigned-trailer': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
};

export const hasTrailer = (mode: StreamingMode) => mode !== 'signed';

export type ChunkMutation =
  | { kind: 'none' }
  | { kind: 'size-text'; chunk: number; text: string }
  | { kind: 'size-delta'; chunk: number; delta: number }
  | { kind: 'size-spelling'; chunk: number; spelling: 'upper' | 'zeros' }
  | { kind: 'data-crlf'; chunk: number; text: string }
  | { kind: 'lf-only-lines' }
  | { kind: 'data-flip'; chunk: number; at: number }
  | { kind: 'signature-flip'; chunk: number }
  | { kind: 'signature-drop'; chunk: number }
  | { kind: 'extension'; chunk: number; text: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'tail'; text: string }
  | { kind: 'trailer-value'; value: string }
  | { kind: 'trailer-drop' }
  | { kind: 'trailer-signature-flip' }
  | { kind: 'trailer-extra'; line: string }
  | { kind: 'trailer-huge' }
  | { kind: 'no-final-crlf' }
  | { kind: 'decoded-length'; delta: number }
  | { kind: 'header-line-huge' };

const chunkIndex = fc.nat({ max: 20 });

export const chunkMutationArb: fc.Arbitrary<ChunkMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<ChunkMutation>({ kind: 'none' }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('size-text' as const),
      chunk: chunkIndex,
      text: fc.constantFrom('', 'g', '-1', ' 10', '0x10', 'fffffffffffffff', '1'.repeat(13), '١', '10 ', '+1', 'NaN'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('size-delta' as const),
      chunk: chunkIndex,
      delta: fc.oneof(fc.constantFrom(-1, 1, 2), fc.integer({ min: -100, max: 100_000 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('size-spelling' as const),
      chunk: chunkIndex,
      spelling: fc.constantFrom('upper' as const, 'zeros' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('data-crlf' as const),
      chunk: chunkIndex,
      text: fc.constantFrom('', '\n', '\r', 'xx', '\n\r', '\r\r', '\r\n\r\n'),
    }),
  },
  { weight: 1, arbitrary: fc.constant<ChunkMutation>({ kind: 'lf-only-lines' }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('data-flip' as const), chunk: chunkIndex, at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('signature-flip' as const), chunk: chunkIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('signature-drop' as const), chunk: chunkIndex }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('extension' as const),
      chunk: chunkIndex,
      text: fc.constantFrom(';foo=bar', ';', ';chunk-signature', ';a=b;c'),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tail' as const),
      text: fc.constantFrom('x', '0\r\n\r\n', '\r\n\r\n', '5\r\nhello\r\n', '\u0000'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('trailer-value' as const), value: fc.constantFrom('AAAAAA==', '', 'not base64', 'AAAAAAAA') }),
  },
  { weight: 1, arbitrary: fc.constant<ChunkMutation>({ kind: 'trailer-drop' }) },
  { weight: 1, arbitrary: fc.constant<ChunkMutation>({ kind: 'trailer-signature-flip' }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('trailer-extra' as const),
      line: fc.constantFrom('x-amz-meta-extra:1', 'x-amz-checksum-sha256:AAAA', 'no-colon', ':empty-name', 'x-amz-checksum-crc32:AAAAAA=='),
    }),
  },
  { weight: 1, arbitrary: fc.constant<ChunkMutation>({ kind: 'trailer-huge' }) },
  { weight: 1, arbitrary: fc.constant<ChunkMutation>({ kind: 'no-final-crlf' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('decoded-length' as const), delta: fc.constantFrom(-1, 1, -1000, 1000) }) },
  { weight: 1, arbitrary: fc.constant<ChunkMutation>({ kind: 'header-line-huge' }) },
);

/** Payload plus chunk sizes: the chunks cover the payload exactly (the last may be short). */
export const chunkingArb = fc
  .tuple(fc.integer({ min: 0, max: 40_000 }), fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 8 }))
  .map(([length, sizes]) => {
    const chunks: number[] = [];
    let left = length;
    for (let i = 0; left > 0; i++) {
      const n = Math.min(left, sizes[i % sizes.length]);
      chunks.push(n);
      left -= n;
    }
    return { length, chunks };
  });

/** The x-amz-decoded-content-length a mutated body declares (signed before the body is built). */
export function declaredLength(m: ChunkMutation, payload: Buffer): number {
  return m.kind === 'decoded-length' ? Math.max(0, payload.length + m.delta) : payload.length;
}

interface Frame {
  size: string;
  extension: string;
  signature?: string;
  lineEnd: string;
  data: Buffer;
  dataEnd: string;
}

export interface BuiltBody {
  body: Buffer;
  /** x-amz-decoded-content-length to send */
  decodedLength: number;
  mustReject: boolean;
  label: string;
}

export interface Signing {
  signer: SignatureV4;
  signingDate: Date;
  region: string;
  seed: string;
}

const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const flipHex = (sig: string) => (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1);

/**
 * Builds the body for `payload` cut into `chunks`, signed from `signing.seed`
 * (signed modes), with one mutation applied. Signatures always sign the
 * intended chunk data, so a mutation is exactly a change on the wire.
 */
export async function buildChunkedBody(
  mode: StreamingMode,
  payload: Buffer,
  chunks: number[],
  m: ChunkMutation,
  signing: Signing | undefined,
): Promise<BuiltBody> {
  const signed = mode !== 'unsigned-trailer';
  const amzDate = signing ? amzDateOf(signing.signingDate) : '';
  const scope = signing ? `${amzDate.slice(0, 8)}/${signing.region}/s3/aws4_request` : '';
  const frames: Frame[] = [];
  let offset = 0;
  let previous = signing?.seed ?? '';
  for (const n of [...chunks, 0]) {
    const data = payload.subarray(offset, offset + n);
    offset += n;
    let signature: string | undefined;
    if (signed) {
      const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
      signature = await signing!.signer.sign(toSign, { signingDate: signing!.signingDate });
      previous = signature;
    }
    frames.push({ size: n.toString(16), extension: '', signature, lineEnd: '\r\n', data, dataEnd: n > 0 ? '\r\n' : '' });
  }
  const checksum = crc32Base64(payload);
  const trailerLines: string[] = [];
  let trailerSignature: string | undefined;
  if (hasTrailer(mode)) {
    trailerLines.push(`x-amz-checksum-crc32:${checksum}`);
    if (signed) {
      const toSign = ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, previous, sha256Hex(`x-amz-checksum-crc32:${checksum}\n`)].join('\n');
      trailerSignature = await signing!.signer.sign(toSign, { signingDate: signing!.signingDate });
    }
  }
  let finalCrlf = '\r\n';
  let tail = '';
  const decodedLength = declaredLength(m, payload);
  let mustReject = true;
  const frame = (i: number) => frames[i % frames.length];
  const dataFrame = (i: number) => (frames.length > 1 ? frames[i % (frames.length - 1)] : undefined);

  switch (m.kind) {
    case 'none':
      mustReject = false;
      break;
    case 'size-text': {
      const f = frame(m.chunk);
      // Whitespace around the hex digits (BWS) may be tolerated: then only a different number must be refused.
      const t = m.text.trim();
      mustReject = !(/^[0-9a-fA-F]{1,12}$/.test(t) && parseInt(t, 16) === parseInt(f.size, 16));
      f.size = m.text;
      break;
    }
    case 'size-delta': {
      const f = frame(m.chunk);
      const size = Math.max(0, parseInt(f.size, 16) + m.delta);
      mustReject = size !== parseInt(f.size, 16);
      f.size = size.toString(16);
      break;
    }
    case 'size-spelling': {
      const f = frame(m.chunk);
      f.size = m.spelling === 'upper' ? f.size.toUpperCase() : `000${f.size}`;
      mustReject = false;
      break;
    }
    case 'data-crlf': {
      const f = dataFrame(m.chunk);
      if (f) f.dataEnd = m.text;
      else mustReject = false;
      break;
    }
    case 'lf-only-lines':
      // Chunk header and trailer lines ended by a bare LF: tolerated by some decoders, refused by others.
      for (const f of frames) f.lineEnd = '\n';
      mustReject = false;
      break;
    case 'data-flip': {
      const f = dataFrame(m.chunk);
      if (f) {
        f.data = Buffer.from(f.data);
        f.data[m.at % f.data.length] ^= 0x20;
      } else mustReject = false;
      break;
    }
    case 'signature-flip':
      if (signed) frame(m.chunk).signature = flipHex(frame(m.chunk).signature!);
      else mustReject = false;
      break;
    case 'signature-drop':
      if (signed) frame(m.chunk).signature = undefined;
      else mustReject = false;
      break;
    case 'extension':
      // Unknown chunk extensions are ignored (a bare ';chunk-signature' after the real one too).
      frame(m.chunk).extension = m.text;
      mustReject = false;
      break;
    case 'truncate':
      break;
    case 'tail':
      tail = m.text;
      // Only CR/LF padding may follow the end.
      mustReject = m.text.replace(/[\r\n]/g, '') !== '';
      break;
    case 'trailer-value':
      if (trailerLines.length) trailerLines[0] = `x-amz-checksum-crc32:${m.value}`;
      // (the CRC32 of an empty payload is AAAAAA==)
      mustReject = trailerLines.length > 0 && m.value !== checksum;
      break;
    case 'trailer-drop':
      if (trailerLines.length) {
        trailerLines.length = 0;
        trailerSignature = undefined;
        // Without the announced checksum, an unsigned body is merely unchecked.
        mustReject = signed;
      } else mustReject = false;
      break;
    case 'trailer-signature-flip':
      if (trailerSignature) trailerSignature = flipHex(trailerSignature);
      else mustReject = false;
      break;
    case 'trailer-extra':
      trailerLines.push(m.line);
      // Signed: the trailer signature no longer matches. Unsigned: a line that is not a header, or a
      // second, wrong copy of the announced checksum, must be refused; another header may be ignored.
      mustReject =
        signed || ['no-colon', ':empty-name', `x-amz-checksum-crc32:${checksum === 'AAAAAA==' ? '-' : 'AAAAAA=='}`].includes(m.line);
      break;
    case 'trailer-huge':
      trailerLines.push(`x-amz-meta-huge:${'x'.repeat(20_000)}`);
      break;
    case 'no-final-crlf':
      // The SDKs omit the last CRLF; decoders accept its absence.
      finalCrlf = '';
      mustReject = false;
      break;
    case 'decoded-length':
      mustReject = decodedLength !== payload.length;
      break;
    case 'header-line-huge':
      frame(0).extension = `;pad=${'p'.repeat(5000)}`;
      break;
  }

  const parts: Buffer[] = [];
  for (const f of frames) {
    const sig = f.signature === undefined ? '' : `;chunk-signature=${f.signature}`;
    parts.push(Buffer.from(`${f.size}${sig}${f.extension}${f.lineEnd}`), f.data, Buffer.from(f.dataEnd));
  }
  const lineEnd = m.kind === 'lf-only-lines' ? '\n' : '\r\n';
  for (const line of trailerLines) parts.push(Buffer.from(`${line}${lineEnd}`));
  if (trailerSignature) parts.push(Buffer.from(`x-amz-trailer-signature:${trailerSignature}${lineEnd}`));
  parts.push(Buffer.from(finalCrlf + tail));
  let body = Buffer.concat(parts);
  if (m.kind === 'truncate') {
    const full = body;
    body = full.subarray(0, Math.floor(m.at * full.length));
    // Cutting only the final CRLF (or the CR before it) leaves a body the SDKs themselves send.
    const withoutEnd = full.length - finalCrlf.length;
    mustReject = body.length < withoutEnd;
  }
  return { body, decodedLength, mustReject, label: JSON.stringify(m) };
}
