/**
 * Requests on the wire, for the fuzz and fault suites: hand-made HTTP
 * requests signed by the AWS SDK's own SigV4 signer (header-signed or
 * presigned), and raw TCP exchanges for what no HTTP client would send
 * (bad framing, half-closed or reset sockets, slow headers).
 */
import http from 'node:http';
import net from 'node:net';

import { HttpRequest } from '@smithy/protocol-http';

import { sdkSigner } from './sdk-signer.js';

export interface WireTarget {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  config: { region: string };
}

export interface WireResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** the body as UTF-8 */
  text: string;
  /** the <Code> of an S3 error document, if the body is one */
  code?: string;
}

function responseOf(status: number, headers: http.IncomingHttpHeaders, body: Buffer): WireResponse {
  const text = body.toString('utf8');
  return { status, headers, body, text, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] };
}

/** AWS URI encoding of one path segment or query component (RFC 3986 unreserved kept, all else %XX of UTF-8). */
export function awsEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/bucket/key` with the key encoded the AWS way ('/' kept). */
export function objectPath(bucket: string, key?: string): string {
  return key === undefined ? `/${bucket}` : `/${bucket}/${key.split('/').map(awsEncode).join('/')}`;
}

export function queryString(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([k, v]) => `${awsEncode(k)}=${awsEncode(v)}`)
    .join('&');
}

/**
 * Sends one request over a fresh connection. An error after the answer
 * arrived (the server stopped reading a body it had refused) is not a failure;
 * nor is EPIPE/ECONNRESET while still sending, if an answer then arrives.
 */
export function send(
  t: Pick<WireTarget, 'endpoint'>,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string | string[]>,
  body?: Buffer | string,
  timeoutMs = 30_000,
): Promise<WireResponse> {
  const url = new URL(t.endpoint);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      { host: url.hostname, port: Number(url.port), method, path: pathAndQuery, headers, agent: false, timeout: timeoutMs },
      (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          // Resolve once the server has closed the connection (this client asks it to): by then it is
          // done with the request, so whatever the request set off has happened (or is one tick away).
          const socket = req.socket;
          const done = () => {
            clearTimeout(bound);
            resolve(responseOf(res.statusCode!, res.headers, Buffer.concat(parts)));
          };
          const bound = setTimeout(done, 1000);
          if (!socket || socket.destroyed) done();
          else socket.once('close', done);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms to ${method} ${pathAndQuery.slice(0, 200)}`)));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

export interface SignedParts {
  pathAndQuery: string;
  headers: Record<string, string>;
  /** the request signature (the seed of an aws-chunked body) */
  seed: string;
  signingDate: Date;
}

/**
 * Signs `method path?query` with the SDK signer. `path` must already be
 * encoded (see objectPath): it is signed verbatim, as S3 clients do.
 * `unsigned` headers are added after signing.
 */
export async function sign(
  t: WireTarget,
  method: string,
  path: string,
  opts: {
    query?: Record<string, string>;
    headers?: Record<string, string>;
    unsigned?: Record<string, string>;
    payloadHash?: string;
    signingDate?: Date;
    /** headers sent but left out of the signature (e.g. content-length, to mutate a body's framing after signing) */
    unsignable?: string[];
  } = {},
): Promise<SignedParts> {
  const url = new URL(t.endpoint);
  const signer = sdkSigner({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, t.config.region);
  const signingDate = opts.signingDate ?? new Date();
  const headers: Record<string, string> = { host: url.host, ...(opts.headers ?? {}) };
  headers['x-amz-content-sha256'] = opts.payloadHash ?? headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD';
  const signed = await signer.sign(
    new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query: opts.query ?? {}, headers }),
    { signingDate, unsignableHeaders: new Set(opts.unsignable ?? []) },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = v;
  Object.assign(out, opts.unsigned ?? {});
  const seed = /Signature=([0-9a-f]{64})/.exec(out.authorization)![1];
  const qs = queryString(opts.query ?? {});
  return { pathAndQuery: qs ? `${path}?${qs}` : path, headers: out, seed, signingDate };
}

/** A presigned URL's path and query (X-Amz-* parameters included), as the SDK presigner makes it. */
export async function presign(
  t: WireTarget,
  method: string,
  path: string,
  opts: { query?: Record<string, string>; headers?: Record<string, string>; expiresIn?: number; signingDate?: Date } = {},
): Promise<{ pathAndQuery: string; query: Array<[string, string]>; headers: Record<string, string> }> {
  const url = new URL(t.endpoint);
  const signer = sdkSigner({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, t.config.region);
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: opts.query ?? {},
    headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(opts.headers ?? {}) },
  });
  const signed = await signer.presign(request, { expiresIn: opts.expiresIn ?? 300, signingDate: opts.signingDate });
  const query = Object.entries(signed.query as Record<string, string>);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  return { pathAndQuery: `${path}?${query.map(([k, v]) => `${awsEncode(k)}=${awsEncode(v)}`).join('&')}`, query, headers };
}

/** What came back on a raw TCP exchange: the status line's code (if any) and everything the server wrote. */
export interface RawExchange {
  status?: number;
  raw: string;
  /** the socket ended or was reset by the server */
  closedByServer: boolean;
}

/**
 * Opens a TCP connection to the server and writes the given pieces, waiting
 * `gapMs` between them; then half-closes (`end`), leaves the socket open
 * (`keep`) or resets it (`reset`). Resolves with what the server answered
 * once it closes the connection or after `waitMs` without news.
 */
export function rawExchange(
  t: Pick<WireTarget, 'endpoint'>,
  pieces: Array<Buffer | string>,
  opts: { gapMs?: number; then?: 'end' | 'keep' | 'reset' | 'destroy'; waitMs?: number } = {},
): Promise<RawExchange> {
  const url = new URL(t.endpoint);
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port), allowHalfOpen: true });
    const received: Buffer[] = [];
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(received).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      resolve({ status: m ? Number(m[1]) : undefined, raw, closedByServer });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), opts.waitMs ?? 3000);
    };
    socket.on('data', (d: Buffer) => {
      received.push(d);
      arm();
    });
    socket.on('end', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.once('connect', async () => {
      for (const [i, piece] of pieces.entries()) {
        if (settled) return;
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        socket.write(piece);
      }
      if (settled) return;
      switch (opts.then ?? 'keep') {
        case 'end':
          socket.end();
          break;
        case 'reset':
          socket.resetAndDestroy();
          finish(false);
          return;
        case 'destroy':
          socket.destroy();
          finish(false);
          return;
        case 'keep':
          break;
      }
      arm();
    });
  });
}

/** Serialises a request head for rawExchange. */
export function requestHead(method: string, pathAndQuery: string, headers: Record<string, string>): string {
  return `${method} ${pathAndQuery} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}
