/**
 * Streaming decoder for `Content-Encoding: aws-chunked` request bodies, with
 * verification of SigV4 chunk signatures and the signed trailer. Written by
 * hand for Anvil — this is our own code.
 *
 * Wire format (one chunk header line per chunk, data, CRLF):
 *
 *   hex-size[;chunk-signature=sig]\r\n <size bytes> \r\n   … repeated …
 *   0[;chunk-signature=sig]\r\n
 *   [name:value\r\n …] [x-amz-trailer-signature:sig\r\n]   (only with trailers)
 *   \r\n                                                    (the SDKs omit it when there is no trailer)
 *
 * Decoded bytes are passed downstream as soon as they arrive (only header
 * lines are buffered, never a chunk), so a chunk's bytes are emitted before
 * its signature is checked: consumers must treat the body as trustworthy only
 * once this stream ends without error — Anvil commits a write only after that.
 */
import { createHash, type Hash, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

import { errors, S3Error } from '../errors.js';
import { hmac } from './signing.js';
import type { ChunkSigningState } from './sigv4.js';

export interface AwsChunkedOptions {
  /** present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: every chunk signature (and the trailer signature) is verified */
  signing?: ChunkSigningState;
  /** true when the x-amz-trailer header announced trailing headers */
  trailer: boolean;
  /** x-amz-decoded-content-length, when given: the decoded byte count must match exactly */
  decodedLength?: number;
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Chunk headers carry a size and a 64-hex signature; anything far longer is garbage, not a header. */
const MAX_LINE_BYTES = 4096;
/** Trailers are a few checksum headers; cap their total so a client cannot make us buffer much. */
const MAX_TRAILER_BYTES = 16 * 1024;
/** 12 hex digits = 256 TiB: far beyond any chunk, and still an exact JS number. */
const MAX_SIZE_DIGITS = 12;
const TRAILER_SIGNATURE = 'x-amz-trailer-signature';

type State = 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' | 'failed';

export class AwsChunkedDecoder extends Transform {
  /** Trailing headers (lower-case names, trimmed values), complete once the stream has ended. */
  readonly trailers: Record<string, string> = {};

  private readonly opts: AwsChunkedOptions;
  private state: State = 'size';
  private line: Buffer[] = [];
  private lineBytes = 0;
  private remaining = 0;
  private crlfSeen = 0;
  private decoded = 0;
  private trailerBytes = 0;
  /** Signature chain: starts at the request (seed) signature, then each chunk's. */
  private previousSignature = '';
  private chunkSignature: string | undefined;
  private chunkHash: Hash | undefined;
  /** Trailer lines in arrival order, for the trailer signature. */
  private trailerLines: Array<[string, string]> = [];
  private trailerSignature: string | undefined;

  constructor(opts: AwsChunkedOptions) {
    super();
    this.opts = opts;
    if (opts.signing) this.previousSignature = opts.signing.seedSignature;
  }

  override _transform(piece: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(piece);
      callback();
    } catch (err) {
      this.state = 'failed';
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.finish();
      callback();
    } catch (err) {
      this.state = 'failed';
      callback(err as Error);
    }
  }

  /** Runs the state machine over one input piece; a piece may end anywhere, even inside "\r\n". */
  private consume(piece: Buffer): void {
    let pos = 0;
    while (pos < piece.length) {
      switch (this.state) {
        case 'size':
        case 'trailer': {
          const line = this.takeLine(piece, pos);
          pos = line.next;
          if (line.text === undefined) break;
          if (this.state === 'size') this.onSizeLine(line.text);
          else this.onTrailerLine(line.text);
          break;
        }
        case 'data':
          pos = this.takeData(piece, pos);
          break;
        case 'data-crlf':
          pos = this.takeDataCrlf(piece, pos);
          break;
        case 'done':
          pos = this.takeAfterEnd(piece, pos);
          break;
        case 'failed':
          return;
      }
    }
  }

  /** Accumulates up to a LF; returns the line without its CRLF once complete. */
  private takeLine(piece: Buffer, pos: number): { text?: string; next: number } {
    const lf = piece.indexOf(0x0a, pos);
    const end = lf < 0 ? piece.length : lf;
    this.lineBytes += end - pos;
    if (this.lineBytes > MAX_LINE_BYTES) throw malformed('chunk header or trailer line too long');
    if (end > pos) this.line.push(piece.subarray(pos, end));
    if (lf < 0) return { next: piece.length };
    let text = Buffer.concat(this.line).toString('utf8');
    this.line = [];
    this.lineBytes = 0;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return { text, next: lf + 1 };
  }

  /** `hex-size[;chunk-signature=sig][;other-ext]` */
  private onSizeLine(text: string): void {
    const [sizeText, ...extensions] = text.split(';');
    const hex = sizeText.trim();
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length > MAX_SIZE_DIGITS) {
      throw malformed(`invalid chunk size '${hex.slice(0, 32)}'`);
    }
    const size = parseInt(hex, 16);
    this.chunkSignature = undefined;
    for (const ext of extensions) {
      const eq = ext.indexOf('=');
      if (eq >= 0 && ext.slice(0, eq).trim() === 'chunk-signature') this.chunkSignature = ext.slice(eq + 1).trim();
    }
    if (this.opts.signing && this.chunkSignature === undefined) throw signatureMismatch();
    if (size === 0) {
      this.verifyChunk(EMPTY_SHA256);
      this.state = 'trailer';
      return;
    }
    this.remaining = size;
    this.chunkHash = this.opts.signing ? createHash('sha256') : undefined;
    this.state = 'data';
  }

  private takeData(piece: Buffer, pos: number): number {
    const n = Math.min(this.remaining, piece.length - pos);
    const bytes = piece.subarray(pos, pos + n);
    this.decoded += n;
    if (this.opts.decodedLength !== undefined && this.decoded > this.opts.decodedLength) {
      throw lengthMismatch();
    }
    this.chunkHash?.update(bytes);
    this.push(bytes);
    this.remaining -= n;
    if (this.remaining === 0) {
      this.state = 'data-crlf';
      this.crlfSeen = 0;
    }
    return pos + n;
  }

  private takeDataCrlf(piece: Buffer, pos: number): number {
    const expected = this.crlfSeen === 0 ? 0x0d : 0x0a;
    if (piece[pos] !== expected) throw malformed('chunk data not followed by CRLF');
    this.crlfSeen++;
    if (this.crlfSeen === 2) {
      this.verifyChunk(this.chunkHash ? this.chunkHash.digest('hex') : EMPTY_SHA256);
      this.chunkHash = undefined;
      this.state = 'size';
    }
    return pos + 1;
  }

  /** An empty line ends the body; anything else is a `name:value` trailer. */
  private onTrailerLine(text: string): void {
    if (text === '') {
      this.endTrailers();
      return;
    }
    this.trailerBytes += text.length;
    if (this.trailerBytes > MAX_TRAILER_BYTES) throw malformed('trailing headers too large');
    const colon = text.indexOf(':');
    if (colon <= 0) throw malformed('invalid trailing header line');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === TRAILER_SIGNATURE) {
      this.trailerSignature = value;
    } else {
      this.trailers[name] = value;
      this.trailerLines.push([name, value]);
    }
  }

  /** Only CR/LF padding may follow the final empty line. */
  private takeAfterEnd(piece: Buffer, pos: number): number {
    for (let i = pos; i < piece.length; i++) {
      if (piece[i] !== 0x0d && piece[i] !== 0x0a) throw malformed('data after the final chunk');
    }
    return piece.length;
  }

  private endTrailers(): void {
    this.verifyTrailer();
    this.state = 'done';
  }

  /**
   * End of input. The SDKs end a trailer-less body right after "0\r\n" and may
   * omit the very last CRLF after trailers, so ending right after a complete
   * trailer line is accepted. Ending inside a line, before a signed trailer's
   * signature, or anywhere before the final chunk means the body was cut short.
   */
  private finish(): void {
    if (this.state === 'trailer') {
      const pending = Buffer.concat(this.line).toString('utf8');
      this.line = [];
      if (pending !== '' && pending !== '\r') throw errors.incompleteBody();
      if (this.opts.signing && this.opts.trailer && this.trailerSignature === undefined) throw errors.incompleteBody();
      this.endTrailers();
    }
    if (this.state !== 'done') throw errors.incompleteBody();
    if (this.opts.decodedLength !== undefined && this.decoded !== this.opts.decodedLength) throw lengthMismatch();
  }

  /** Chunk string to sign: AWS4-HMAC-SHA256-PAYLOAD, date, scope, previous signature, hash(""), hash(data). */
  private verifyChunk(dataSha256: string): void {
    const signing = this.opts.signing;
    if (!signing) return;
    const stringToSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      signing.amzDate,
      signing.scope,
      this.previousSignature,
      EMPTY_SHA256,
      dataSha256,
    ].join('\n');
    const expected = hmac(signing.signingKey, stringToSign).toString('hex');
    if (!sameSignature(expected, this.chunkSignature)) throw signatureMismatch();
    this.previousSignature = expected;
  }

  /**
   * Trailer string to sign: AWS4-HMAC-SHA256-TRAILER, date, scope, the final
   * (zero-size) chunk's signature, hash of the trailers as "name:value\n" each.
   * SDKs write trailers sorted by name, so arrival order and sorted order agree;
   * both are accepted in case a client signs one and sends the other.
   */
  private verifyTrailer(): void {
    const signing = this.opts.signing;
    if (!signing) return;
    if (this.trailerLines.length === 0 && this.trailerSignature === undefined && !this.opts.trailer) return;
    if (this.trailerSignature === undefined) throw signatureMismatch();
    const orders = [this.trailerLines, [...this.trailerLines].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))];
    for (const lines of orders) {
      const canonical = lines.map(([n, v]) => `${n}:${v}\n`).join('');
      const stringToSign = [
        'AWS4-HMAC-SHA256-TRAILER',
        signing.amzDate,
        signing.scope,
        this.previousSignature,
        createHash('sha256').update(canonical, 'utf8').digest('hex'),
      ].join('\n');
      if (sameSignature(hmac(signing.signingKey, stringToSign).toString('hex'), this.trailerSignature)) return;
    }
    throw signatureMismatch();
  }
}

function sameSignature(expectedHex: string, provided: string | undefined): boolean {
  const p = provided?.toLowerCase();
  if (p === undefined || !/^[0-9a-f]{64}$/.test(p)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(p, 'hex'));
}

function malformed(detail: string): S3Error {
  return errors.invalidRequest(`Malformed aws-chunked body: ${detail}.`);
}

function signatureMismatch(): S3Error {
  return errors.signatureDoesNotMatch();
}

function lengthMismatch(): S3Error {
  return new S3Error('IncompleteBody', 'The decoded body length does not match the x-amz-decoded-content-length header.', 400);
}
