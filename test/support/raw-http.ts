/**
 * Raw HTTP requests to a test server, signed by the AWS SDK's own SigV4
 * signer: for the requests the SDK client cannot express (bad framing,
 * unsigned extra headers, odd query strings).
 */
import http from 'node:http';
import { HttpRequest } from '@smithy/protocol-http';
import { sdkSigner } from './sdk-signer.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RawTarget {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  config: { region: string };
}

/** The <Code> of an S3 error document. */
export function errorCode(res: RawResponse): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(res.body)?.[1];
}

/**
 * Sends one request over a fresh connection and resolves with the answer. An
 * error after the answer arrived (the server stopped reading a body it had
 * refused) is not a failure.
 */
export function rawRequest(
  t: Pick<RawTarget, 'endpoint'>,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<RawResponse> {
  const url = new URL(t.endpoint);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      { host: url.hostname, port: Number(url.port), method, path: pathAndQuery, headers, agent: false },
      (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

/**
 * Signs headers for `method path?query` with the SDK signer, now. Every header
 * given is signed; `unsigned` headers are added after signing.
 */
export async function signRaw(
  t: RawTarget,
  method: string,
  path: string,
  opts: { query?: Record<string, string>; headers?: Record<string, string>; unsigned?: Record<string, string>; payloadHash?: string } = {},
): Promise<{ pathAndQuery: string; headers: Record<string, string>; seed: string; signingDate: Date }> {
  const url = new URL(t.endpoint);
  const signer = sdkSigner({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, t.config.region);
  const signingDate = new Date();
  const headers: Record<string, string> = { host: url.host, ...(opts.headers ?? {}) };
  if (opts.payloadHash) headers['x-amz-content-sha256'] = opts.payloadHash;
  const signed = await signer.sign(
    new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query: opts.query ?? {}, headers }),
    { signingDate },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = v;
  Object.assign(out, opts.unsigned ?? {});
  const seed = /Signature=([0-9a-f]{64})/.exec(out.authorization)![1];
  const qs = new URLSearchParams(opts.query ?? {}).toString().replace(/\+/g, '%20');
  return { pathAndQuery: qs ? `${path}?${qs}` : path, headers: out, seed, signingDate };
}
