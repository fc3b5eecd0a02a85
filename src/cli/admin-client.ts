/**
 * A small client of the admin API for `anvil admin --endpoint <url>`: JSON
 * requests signed with SigV4 (service "s3", the server's region) using an
 * access key, exactly like an S3 request.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AdminClientOptions {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** An error answer of the admin API, with its stable code. */
export class AdminApiClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error object's other fields (a merge's 409 lists its conflicts here). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${code}: ${message}`);
    this.name = 'AdminApiClientError';
  }
}

/** Percent-encodes a path segment the way SigV4 canonicalizes it (RFC 3986 unreserved characters stay). */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export class AdminClient {
  private readonly base: URL;
  private readonly signer: SignatureV4;

  constructor(private readonly opts: AdminClientOptions) {
    this.base = new URL(opts.endpoint);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:')
      throw new Error(`--endpoint must be an http(s) URL: ${opts.endpoint}`);
    this.signer = new SignatureV4({
      service: 's3',
      region: opts.region,
      sha256: Sha256,
      // The path is given already encoded (segment by segment), as S3 signs it: no double encoding.
      uriEscapePath: false,
      applyChecksum: true,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
    });
  }

  /**
   * One request. `segments` are joined under /admin/v1/ (each percent-encoded);
   * a JSON answer is returned parsed, an empty one as undefined.
   */
  async request<T = unknown>(
    method: string,
    segments: string[],
    opts: { body?: unknown; query?: Record<string, string> } = {},
  ): Promise<T> {
    const path = '/admin/v1/' + segments.map(encodeSegment).join('/');
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { host: this.base.host };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const query = opts.query ?? {};
    const signed = await this.signer.sign({
      method,
      protocol: this.base.protocol,
      hostname: this.base.hostname,
      port: this.base.port ? Number(this.base.port) : undefined,
      path,
      query,
      headers,
      body,
    });
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    let res: Response;
    try {
      res = await fetch(url, { method, headers: signed.headers as Record<string, string>, body });
    } catch (err) {
      throw new Error(`cannot reach ${this.base.origin}: ${(err as Error).cause ?? (err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch (err) {
      throw new Error(`${method} ${path}: HTTP ${res.status}, not a JSON answer (is ${this.base.origin} an Anvil server?)`, { cause: err });
    }
    if (!res.ok) {
      const err = json?.error;
      const { code, message, ...details } = (err ?? {}) as Record<string, unknown>;
      throw new AdminApiClientError(
        res.status,
        typeof code === 'string' ? code : `HTTP${res.status}`,
        typeof message === 'string' ? message : text,
        details,
      );
    }
    return json as T;
  }
}
