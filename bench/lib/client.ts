/**
 * The load generator's S3 client: an undici keep-alive Pool plus a SigV4
 * signer that signs each request once with UNSIGNED-PAYLOAD (no body hashing
 * on the client). Hashes for signing use node:crypto (native), wrapped in the
 * Checksum interface @smithy/signature-v4 expects, to keep client CPU low.
 */
import crypto from 'node:crypto';

import { SignatureV4 } from '@smithy/signature-v4';
import { Pool } from 'undici';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** @smithy Checksum over node:crypto (the constructor's secret makes it an HMAC). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
function bytes(d: SourceData): string | Uint8Array {
  if (typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

class NodeSha256 {
  private h: crypto.Hash | crypto.Hmac;
  private readonly secret?: string | Uint8Array;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.h = this.fresh();
  }
  private fresh(): crypto.Hash | crypto.Hmac {
    return this.secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', this.secret);
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {
    this.h = this.fresh();
  }
}

/** RFC 3986 encoding, as SigV4 canonicalizes it. */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function objectPath(bucket: string, key?: string): string {
  if (key === undefined) return `/${rfc3986(bucket)}`;
  return `/${rfc3986(bucket)}/${key.split('/').map(rfc3986).join('/')}`;
}

export interface S3Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Response body as text (only when asked for, or on errors). */
  text?: string;
  /** Bytes of body received. */
  bytes: number;
}

export interface RequestOptions {
  query?: Record<string, string>;
  body?: Buffer;
  headers?: Record<string, string>;
  /** Read the body as text (XML answers); otherwise it is counted and dropped. */
  wantText?: boolean;
  /** Accept these statuses without throwing (default: 2xx). */
  okStatuses?: number[];
}

export class S3Http {
  readonly pool: Pool;
  private readonly signer: SignatureV4;
  private readonly host: string;
  private readonly hostname: string;
  private readonly port: number;

  constructor(
    readonly endpoint: string,
    creds: Credentials,
    region = 'us-east-1',
    connections = 128,
  ) {
    const u = new URL(endpoint);
    this.host = u.host;
    this.hostname = u.hostname;
    this.port = Number(u.port);
    this.pool = new Pool(u.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
    });
    this.signer = new SignatureV4({
      credentials: creds,
      region,
      service: 's3',
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<S3Response> {
    const query = opts.query ?? {};
    const headers: Record<string, string> = {
      host: this.host,
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      ...opts.headers,
    };
    if (opts.body !== undefined) headers['content-length'] = String(opts.body.length);
    const signed = await this.signer.sign({
      method,
      protocol: 'http:',
      hostname: this.hostname,
      port: this.port,
      path,
      query,
      headers,
    });
    const qs = Object.entries(query)
      .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
      .join('&');
    // pool.dispatch with a counting handler: no Readable stream per response,
    // so the client spends little CPU per request and per body chunk.
    const res = await new Promise<S3Response>((resolve, reject) => {
      let status = 0;
      const resHeaders: Record<string, string | string[] | undefined> = {};
      let bytes = 0;
      let chunks: Buffer[] | null = null;
      this.pool.dispatch(
        { method: method as 'GET', path: qs ? `${path}?${qs}` : path, headers: signed.headers, body: opts.body },
        {
          onConnect() {},
          onHeaders(statusCode: number, raw: Buffer[]) {
            status = statusCode;
            for (let i = 0; i + 1 < raw.length; i += 2) resHeaders[raw[i].toString('latin1').toLowerCase()] = raw[i + 1].toString('latin1');
            const ok = (statusCode >= 200 && statusCode < 300) || opts.okStatuses?.includes(statusCode);
            if (!ok || opts.wantText) chunks = [];
            return true;
          },
          onData(chunk: Buffer) {
            bytes += chunk.length;
            chunks?.push(chunk);
            return true;
          },
          onComplete() {
            resolve({ status, headers: resHeaders, bytes, ...(chunks ? { text: Buffer.concat(chunks).toString('utf8') } : {}) });
          },
          onError(err: Error) {
            reject(err);
          },
        },
      );
    });
    const ok = (res.status >= 200 && res.status < 300) || opts.okStatuses?.includes(res.status);
    if (!ok) throw new Error(`${method} ${path}${qs ? `?${qs}` : ''}: HTTP ${res.status}: ${(res.text ?? '').slice(0, 300)}`);
    return res;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
