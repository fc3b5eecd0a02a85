/**
 * fast-check generators of mutations to a validly signed request: the
 * Authorization header's fields, X-Amz-Date, x-amz-content-sha256, unsigned
 * extra headers, the body, and a presigned URL's X-Amz-* parameters. Each
 * mutation says whether the server MUST refuse the result (it changes what
 * was signed) or MAY accept it (an equivalent spelling).
 */
import fc from 'fast-check';

/** Characters a client can put in a header value (node refuses to send controls). */
const HEADER_CHARS = [...'abcdefABCDEF0123456789/=;,:-_. +*%&?"\'\\\t', 'é', '\u00ff', '\u0080'];
export const headerText = fc.string({ unit: fc.constantFrom(...HEADER_CHARS), minLength: 0, maxLength: 80 });
export const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

/** Query values may be anything: they are percent-encoded. */
export const queryText = fc.oneof(
  headerText,
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '0', '-1', '604801', '99999999999999999999', 'AWS4-HMAC-SHA256 ', 'aws4-hmac-sha256', '20200101T000000Z', '\u0000'),
);

export interface AuthFields {
  scheme: string;
  credential: string;
  signedHeaders: string;
  signature: string;
}

export function parseAuthorization(value: string): AuthFields {
  const m = /^(\S+) Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(value);
  if (!m) throw new Error(`unexpected Authorization from the SDK: ${value}`);
  return { scheme: m[1], credential: m[2], signedHeaders: m[3], signature: m[4] };
}

export type HeaderMutation =
  | { kind: 'field-value'; field: 'Credential' | 'SignedHeaders' | 'Signature'; value: string }
  | { kind: 'field-drop'; field: 'Credential' | 'SignedHeaders' | 'Signature' }
  | { kind: 'field-duplicate'; field: 'Credential' | 'SignedHeaders' | 'Signature'; value: string }
  | { kind: 'field-spacing'; spaces: string }
  | { kind: 'scheme'; value: string }
  | { kind: 'credential-part'; part: number; value: string }
  | { kind: 'credential-extra-part'; value: string }
  | { kind: 'signed-headers-drop'; index: number }
  | { kind: 'signed-headers-add'; name: string }
  | { kind: 'signed-headers-upper' }
  | { kind: 'signed-headers-reverse' }
  | { kind: 'signature-hex'; value: string }
  | { kind: 'signature-upper' }
  | { kind: 'signature-cut'; keep: number }
  | { kind: 'amz-date'; value: string }
  | { kind: 'amz-date-shift'; seconds: number }
  | { kind: 'amz-date-drop' }
  | { kind: 'content-sha'; value: string }
  | { kind: 'unsigned-header'; name: string; value: string }
  | { kind: 'duplicate-header'; name: string; value: string }
  | { kind: 'body-flip'; at: number }
  | { kind: 'path'; suffix: string }
  | { kind: 'method'; method: string }
  | { kind: 'host'; value: string };

const field = fc.constantFrom('Credential' as const, 'SignedHeaders' as const, 'Signature' as const);

export const headerMutationArb: fc.Arbitrary<HeaderMutation> = fc.oneof(
  fc.record({ kind: fc.constant('field-value' as const), field, value: headerText }),
  fc.record({ kind: fc.constant('field-drop' as const), field }),
  fc.record({ kind: fc.constant('field-duplicate' as const), field, value: headerText }),
  fc.record({ kind: fc.constant('field-spacing' as const), spaces: fc.constantFrom(' ', '  ', '\t', '') }),
  fc.record({
    kind: fc.constant('scheme' as const),
    value: fc.oneof(headerText, fc.constantFrom('AWS', 'aws4-hmac-sha256', 'AWS4-ECDSA-P256-SHA256', 'AWS4-HMAC-SHA256,', '')),
  }),
  fc.record({
    kind: fc.constant('credential-part' as const),
    part: fc.nat({ max: 4 }),
    value: fc.oneof(headerText, fc.constantFrom('', 's3 ', 'us-east-2', 'AWS4_REQUEST', '19700101', '99991231')),
  }),
  fc.record({ kind: fc.constant('credential-extra-part' as const), value: headerText }),
  fc.record({ kind: fc.constant('signed-headers-drop' as const), index: fc.nat({ max: 10 }) }),
  fc.record({
    kind: fc.constant('signed-headers-add' as const),
    name: fc.constantFrom('x-amz-meta-absent', 'content-type', 'range', 'authorization', ';', ''),
  }),
  fc.record({ kind: fc.constant('signed-headers-upper' as const) }),
  fc.record({ kind: fc.constant('signed-headers-reverse' as const) }),
  fc.record({ kind: fc.constant('signature-hex' as const), value: hex64 }),
  fc.record({ kind: fc.constant('signature-upper' as const) }),
  fc.record({ kind: fc.constant('signature-cut' as const), keep: fc.nat({ max: 63 }) }),
  fc.record({
    kind: fc.constant('amz-date' as const),
    value: fc.oneof(
      headerText,
      fc.constantFrom('20251301T000000Z', '20250230T000000Z', '20250101T250000Z', '20250101T000000', '2025-01-01T00:00:00Z', ''),
    ),
  }),
  fc.record({
    kind: fc.constant('amz-date-shift' as const),
    seconds: fc.oneof(fc.integer({ min: -3600 * 24, max: 3600 * 24 }), fc.constantFrom(-901, 901, 1, -1)),
  }),
  fc.record({ kind: fc.constant('amz-date-drop' as const) }),
  fc.record({
    kind: fc.constant('content-sha' as const),
    value: fc.oneof(
      headerText,
      hex64,
      fc.constantFrom(
        'UNSIGNED-PAYLOAD',
        'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
        'unsigned-payload',
        '',
      ),
    ),
  }),
  fc.record({
    kind: fc.constant('unsigned-header' as const),
    name: fc.constantFrom(
      'x-amz-meta-injected',
      'x-amz-acl',
      'x-amz-tagging',
      'x-amz-storage-class',
      'x-amz-website-redirect-location',
      'x-amz-server-side-encryption',
    ),
    value: fc.constantFrom('public-read', 'a=b', 'STANDARD', '/elsewhere', 'AES256', 'yes'),
  }),
  fc.record({
    kind: fc.constant('duplicate-header' as const),
    name: fc.constantFrom('x-amz-date', 'x-amz-content-sha256', 'authorization'),
    value: headerText,
  }),
  fc.record({ kind: fc.constant('body-flip' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('path' as const), suffix: fc.constantFrom('x', '/', '%2F', '%20', '.', '%00') }),
  fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom('POST', 'DELETE', 'GET') }),
  fc.record({ kind: fc.constant('host' as const), value: fc.constantFrom('127.0.0.2', 'evil.example', 'localhost') }),
);

export interface SignedRequest {
  method: string;
  /** encoded path without query */
  path: string;
  query: string;
  /** header name → value(s); an array sends the header more than once */
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export interface Mutated extends SignedRequest {
  /** the server must refuse this request (it is not what was signed) */
  mustReject: boolean;
  label: string;
}

function formatAuth(f: AuthFields, sep = ', '): string {
  return `${f.scheme} Credential=${f.credential}${sep}SignedHeaders=${f.signedHeaders}${sep}Signature=${f.signature}`;
}

function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

function parseAmz(s: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s)!;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

/** Applies one mutation to a header-signed request. */
export function mutateHeaders(base: SignedRequest, m: HeaderMutation): Mutated {
  const headers: Record<string, string | string[]> = { ...base.headers };
  const auth = parseAuthorization(headers.authorization as string);
  let { method, path, body } = base;
  let mustReject = true;
  const setAuth = (f: AuthFields, sep?: string) => (headers.authorization = formatAuth(f, sep));
  switch (m.kind) {
    case 'field-value': {
      const key = m.field === 'Credential' ? 'credential' : m.field === 'SignedHeaders' ? 'signedHeaders' : 'signature';
      mustReject = m.value.trim() !== auth[key];
      setAuth({ ...auth, [key]: m.value });
      break;
    }
    case 'field-drop':
      headers.authorization = formatAuth(auth).replace(new RegExp(`,? ?${m.field}=[^,]*`), '');
      break;
    case 'field-duplicate':
      // Which copy wins is the server's choice; either way it must not fail with a 5xx.
      headers.authorization = `${formatAuth(auth)}, ${m.field}=${m.value}`;
      mustReject = false;
      break;
    case 'field-spacing':
      setAuth(auth, `,${m.spaces}`);
      mustReject = false;
      break;
    case 'scheme':
      mustReject = m.value !== auth.scheme;
      setAuth({ ...auth, scheme: m.value });
      break;
    case 'credential-part': {
      const parts = auth.credential.split('/');
      mustReject = parts[m.part] !== m.value;
      parts[m.part] = m.value;
      setAuth({ ...auth, credential: parts.join('/') });
      break;
    }
    case 'credential-extra-part':
      setAuth({ ...auth, credential: `${auth.credential}/${m.value}` });
      break;
    case 'signed-headers-drop': {
      const names = auth.signedHeaders.split(';');
      names.splice(m.index % names.length, 1);
      setAuth({ ...auth, signedHeaders: names.join(';') });
      break;
    }
    case 'signed-headers-add': {
      const names = auth.signedHeaders.split(';');
      names.push(m.name);
      setAuth({ ...auth, signedHeaders: names.sort().join(';') });
      break;
    }
    case 'signed-headers-upper':
      setAuth({ ...auth, signedHeaders: auth.signedHeaders.toUpperCase() });
      mustReject = false;
      break;
    case 'signed-headers-reverse':
      setAuth({ ...auth, signedHeaders: auth.signedHeaders.split(';').reverse().join(';') });
      mustReject = false;
      break;
    case 'signature-hex':
      mustReject = m.value !== auth.signature;
      setAuth({ ...auth, signature: m.value });
      break;
    case 'signature-upper':
      setAuth({ ...auth, signature: auth.signature.toUpperCase() });
      mustReject = false;
      break;
    case 'signature-cut':
      setAuth({ ...auth, signature: auth.signature.slice(0, m.keep) });
      break;
    case 'amz-date':
      mustReject = m.value.trim() !== headers['x-amz-date'];
      headers['x-amz-date'] = m.value;
      break;
    case 'amz-date-shift':
      mustReject = m.seconds !== 0;
      headers['x-amz-date'] = amzDate(new Date(parseAmz(headers['x-amz-date'] as string).getTime() + m.seconds * 1000));
      break;
    case 'amz-date-drop':
      delete headers['x-amz-date'];
      break;
    case 'content-sha':
      mustReject = m.value.trim() !== headers['x-amz-content-sha256'];
      headers['x-amz-content-sha256'] = m.value;
      break;
    case 'unsigned-header':
      // Issue 12, finding 2: an x-amz-* header the signature does not cover is refused.
      headers[m.name] = m.value;
      break;
    case 'duplicate-header':
      // Node keeps the first Authorization and joins other repeated headers with ', '.
      mustReject = m.name !== 'authorization';
      headers[m.name] = [headers[m.name] as string, m.value];
      break;
    case 'body-flip':
      // A GET's body is never read, so it is not checked against the signed hash either.
      mustReject = method !== 'GET';
      if (body.length === 0) {
        body = Buffer.from('x');
      } else {
        body = Buffer.from(body);
        body[m.at % body.length] ^= 0x01;
      }
      headers['content-length'] = String(body.length);
      break;
    case 'path':
      path = path + m.suffix;
      break;
    case 'method':
      mustReject = m.method !== method;
      method = m.method;
      break;
    case 'host':
      headers.host = `${m.value}:${String(headers.host).split(':')[1]}`;
      break;
  }
  return { method, path, query: base.query, headers, body, mustReject, label: JSON.stringify(m) };
}

export const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Content-Sha256',
] as const;

export type QueryMutation =
  | { kind: 'param-value'; param: number; value: string }
  | { kind: 'param-drop'; param: number }
  | { kind: 'param-duplicate'; param: number; value: string }
  | { kind: 'param-rename'; param: number; name: string }
  | { kind: 'extra-param'; name: string; value: string }
  | { kind: 'raw-garbage'; text: string }
  | { kind: 'with-authorization' }
  | { kind: 'signature-upper' };

export const queryMutationArb: fc.Arbitrary<QueryMutation> = fc.oneof(
  fc.record({ kind: fc.constant('param-value' as const), param: fc.nat({ max: PRESIGN_PARAMS.length - 1 }), value: queryText }),
  fc.record({ kind: fc.constant('param-drop' as const), param: fc.nat({ max: PRESIGN_PARAMS.length - 1 }) }),
  fc.record({ kind: fc.constant('param-duplicate' as const), param: fc.nat({ max: PRESIGN_PARAMS.length - 1 }), value: queryText }),
  fc.record({
    kind: fc.constant('param-rename' as const),
    param: fc.nat({ max: PRESIGN_PARAMS.length - 1 }),
    name: fc.constantFrom('lower', 'upper', 'space'),
  }),
  fc.record({
    kind: fc.constant('extra-param' as const),
    name: fc.constantFrom('x-id', 'response-content-type', 'acl', 'uploads', 'versionId', 'X-Amz-Security-Token', 'x'),
    value: queryText,
  }),
  fc.record({
    kind: fc.constant('raw-garbage' as const),
    text: fc.constantFrom('%', '%zz', '%C3%28', '%ED%A0%80', '%00', '&&', '=', '&=&', '+', '%2', '#'),
  }),
  fc.record({ kind: fc.constant('with-authorization' as const) }),
  fc.record({ kind: fc.constant('signature-upper' as const) }),
);

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Applies one mutation to a presigned request's query ([name, value] pairs, in order). */
export function mutateQuery(
  params: Array<[string, string]>,
  m: QueryMutation,
): { query: string; extraHeaders: Record<string, string>; mustReject: boolean; label: string } {
  const list = params.map(([k, v]) => [k, v] as [string, string]);
  const index = (p: number) => list.findIndex(([k]) => k === PRESIGN_PARAMS[p]);
  let raw = '';
  let mustReject = true;
  const extraHeaders: Record<string, string> = {};
  switch (m.kind) {
    case 'param-value': {
      const i = index(m.param);
      if (i < 0) list.push([PRESIGN_PARAMS[m.param], m.value]);
      else {
        mustReject = list[i][1] !== m.value;
        list[i][1] = m.value;
      }
      break;
    }
    case 'param-drop': {
      const i = index(m.param);
      if (i >= 0) list.splice(i, 1);
      else mustReject = false;
      break;
    }
    case 'param-duplicate': {
      list.push([PRESIGN_PARAMS[m.param], m.value]);
      // A second X-Amz-Signature is not part of the canonical query (which copy is checked is the
      // server's choice); any other duplicate changes the canonical query.
      mustReject = PRESIGN_PARAMS[m.param] !== 'X-Amz-Signature';
      break;
    }
    case 'param-rename': {
      const i = index(m.param);
      if (i < 0) {
        mustReject = false;
        break;
      }
      const k = list[i][0];
      list[i][0] = m.name === 'lower' ? k.toLowerCase() : m.name === 'upper' ? k.toUpperCase() : ` ${k}`;
      break;
    }
    case 'extra-param':
      list.push([m.name, m.value]);
      break;
    case 'raw-garbage':
      raw = m.text;
      // A lone '&' or '=' adds an empty parameter that some canonicalisations ignore.
      mustReject = !['&&', '=', '&=&', '#'].includes(m.text);
      break;
    case 'with-authorization':
      extraHeaders.authorization =
        'AWS4-HMAC-SHA256 Credential=AKIAANVILTESTROOT000/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' +
        '0'.repeat(64);
      break;
    case 'signature-upper': {
      const i = list.findIndex(([k]) => k === 'X-Amz-Signature');
      list[i][1] = list[i][1].toUpperCase();
      mustReject = false;
      break;
    }
  }
  const query = list.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&') + (raw ? `&${raw}` : '');
  return { query, extraHeaders, mustReject, label: JSON.stringify(m) };
}
