/** Sends a hand-made request signed with the AWS SDK's own SigV4 signer (for cases the SDK client cannot express). */
import { HttpRequest } from '@smithy/protocol-http';

import { sdkSigner } from './sdk-signer.js';

export interface Signer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  config?: { region: string };
}

export async function signedFetch(
  t: Signer,
  method: string,
  url: string,
  opts: {
    headers?: Record<string, string>;
    body?: Buffer | string;
    payloadHash?: string;
    region?: string;
    creds?: { accessKeyId: string; secretAccessKey: string };
  } = {},
): Promise<Response> {
  const u = new URL(url);
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const query: Record<string, string> = {};
  for (const [k, v] of u.searchParams) query[k] = v;
  const headers: Record<string, string> = { host: u.host, ...(opts.headers ?? {}) };
  if (opts.payloadHash) headers['x-amz-content-sha256'] = opts.payloadHash;
  const request = new HttpRequest({
    method,
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: decodeURIComponent(u.pathname),
    query,
    headers,
    body,
  });
  const signer = sdkSigner(
    opts.creds ?? { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    opts.region ?? t.config?.region ?? 'us-east-1',
  );
  const signed = await signer.sign(request);
  return fetch(url, { method, headers: signed.headers as Record<string, string>, body });
}
