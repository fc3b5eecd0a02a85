/**
 * AWS Signature Version 4 in the browser, for the S3 API and the admin API
 * (signed-in with an access key). SHA-256 and HMAC are written out here
 * rather than taken from WebCrypto: crypto.subtle exists only in secure
 * contexts, and a self-hosted Anvil is often reached over plain HTTP on a LAN
 * address. Only short strings are hashed (canonical requests, small JSON
 * bodies); uploads are presigned with UNSIGNED-PAYLOAD and never hashed here.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export function sha256(data: Uint8Array): Uint8Array {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const bitLength = data.length * 8;
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(i * 4, h[i]);
  return out;
}

const utf8 = new TextEncoder();

export function hmac(key: Uint8Array, message: string): Uint8Array {
  let k = key.length > 64 ? sha256(key) : key;
  const block = new Uint8Array(64);
  block.set(k);
  k = block;
  const inner = new Uint8Array(64 + utf8.encode(message).length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = k[i] ^ 0x36;
    outer[i] = k[i] ^ 0x5c;
  }
  inner.set(utf8.encode(message), 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export const sha256Hex = (text: string | Uint8Array): string => hex(sha256(typeof text === 'string' ? utf8.encode(text) : text));

/** RFC 3986 encoding as SigV4 wants it (also !'()*); `/` kept when encoding a path. */
export function uriEncode(s: string, keepSlash = false): string {
  const e = encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? e.replace(/%2F/g, '/') : e;
}

function amzDate(now: Date): { date: string; stamp: string } {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return { date: stamp.slice(0, 8), stamp };
}

function canonicalQuery(params: Array<[string, string]>): string {
  return params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function signingKey(secret: string, date: string, region: string): Uint8Array {
  const kDate = hmac(utf8.encode(`AWS4${secret}`), date);
  return hmac(hmac(hmac(kDate, region), 's3'), 'aws4_request');
}

export interface SignInput {
  method: string;
  /** Path, already encoded as it will be sent (see uriEncode(…, true)). */
  path: string;
  query?: Array<[string, string]>;
  host: string;
  region: string;
  credentials: Credentials;
  now?: Date;
}

/** A presigned URL path+query (UNSIGNED-PAYLOAD, only `host` signed): for fetch, XHR uploads and download links. */
export function presign(input: SignInput & { expiresSeconds: number }): string {
  const { date, stamp } = amzDate(input.now ?? new Date());
  const scope = `${date}/${input.region}/s3/aws4_request`;
  const params: Array<[string, string]> = [
    ...(input.query ?? []),
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${input.credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', stamp],
    ['X-Amz-Expires', String(input.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  const query = canonicalQuery(params);
  const canonical = [input.method, input.path, query, `host:${input.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256Hex(canonical)].join('\n');
  const signature = hex(hmac(signingKey(input.credentials.secretAccessKey, date, input.region), toSign));
  return `${input.path}?${query}&X-Amz-Signature=${signature}`;
}

/**
 * Headers that sign a request with its body's hash (the admin API wants the body signed). `headers` are
 * signed too and returned with the rest (lower-case names: x-amz-acl, content-type…).
 */
export function signHeaders(input: SignInput & { body: string; headers?: Record<string, string> }): Record<string, string> {
  const { date, stamp } = amzDate(input.now ?? new Date());
  const scope = `${date}/${input.region}/s3/aws4_request`;
  const payload = sha256Hex(input.body);
  const extra = Object.entries(input.headers ?? {}).map(([k, v]): [string, string] => [k.toLowerCase(), v.trim()]);
  const headers: Array<[string, string]> = [['host', input.host], ['x-amz-content-sha256', payload], ['x-amz-date', stamp], ...extra].sort(
    ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0),
  ) as Array<[string, string]>;
  const signed = headers.map(([k]) => k).join(';');
  const canonical = [
    input.method,
    input.path,
    canonicalQuery(input.query ?? []),
    headers.map(([k, v]) => `${k}:${v}\n`).join(''),
    signed,
    payload,
  ].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256Hex(canonical)].join('\n');
  const signature = hex(hmac(signingKey(input.credentials.secretAccessKey, date, input.region), toSign));
  return {
    ...Object.fromEntries(extra),
    'x-amz-content-sha256': payload,
    'x-amz-date': stamp,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`,
  };
}
