/**
 * fast-check generators of mutations to a validly SigV2-signed request
 * (test/support/sigv2-signer.ts): the Authorization header, the signed
 * lines (verb, Content-MD5, Content-Type, Date), the x-amz-* headers, the
 * path and its sub-resources, the body, the Host, and a presigned URL's
 * AWSAccessKeyId / Expires / Signature. Each mutation says whether the
 * server MUST refuse the result (it changes what was signed) or MAY accept
 * it (an equivalent spelling, or a part SigV2 does not sign).
 */
import fc from 'fast-check';

import { headerText } from './sigv4-fuzz.js';
import { awsEncode } from './wire.js';

const base64Char = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const base64Signature = fc.array(base64Char, { minLength: 27, maxLength: 27 }).map((cs) => `${cs.join('')}=`);

/** Query parameters SigV2 signs (a changed or added one must fail) and some it does not. */
/** x-amz-* headers a client could add after signing, each with a value the operation would honour. */
const AMZ_HEADERS: Array<[string, string]> = [
  ['x-amz-meta-injected', 'yes'],
  ['x-amz-acl', 'public-read'],
  ['x-amz-tagging', 'a=b'],
  ['x-amz-storage-class', 'STANDARD'],
  ['x-amz-website-redirect-location', '/elsewhere'],
  ['x-amz-server-side-encryption', 'AES256'],
  ['x-amz-date', new Date().toUTCString()],
  ['x-amz-content-sha256', 'UNSIGNED-PAYLOAD'],
];

const SIGNED_PARAMS = [
  'acl',
  'tagging',
  'uploads',
  'versionId=null',
  'partNumber=1',
  'response-content-type=text%2Fhtml',
  'retention',
  'legal-hold',
  'delete',
  'versioning',
  'policy',
  'cors',
  'object-lock',
  'uploadId=abc',
];
const UNSIGNED_PARAMS = ['prefix=x', 'foo=bar', 'list-type=2', 'x-id=PutObject', 'max-keys=1'];

export interface V2Request {
  method: string;
  /** encoded path, no query */
  path: string;
  query: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export interface V2Mutated extends V2Request {
  mustReject: boolean;
  label: string;
}

export type V2HeaderMutation =
  | { kind: 'method'; method: string }
  | { kind: 'path'; suffix: string }
  | { kind: 'signed-param'; param: string }
  | { kind: 'unsigned-param'; param: string }
  | { kind: 'line-value'; name: 'content-type' | 'content-md5' | 'date'; value: string }
  | { kind: 'line-drop'; name: 'content-type' | 'content-md5' | 'date' }
  | { kind: 'amz-add'; name: string; value: string }
  | { kind: 'amz-change'; value: string }
  | { kind: 'amz-drop' }
  | { kind: 'amz-padding'; pad: string }
  | { kind: 'amz-upper' }
  | { kind: 'date-shift'; seconds: number }
  | { kind: 'signature-char'; at: number; char: string }
  | { kind: 'signature-value'; value: string }
  | { kind: 'signature-cut'; keep: number }
  | { kind: 'key-id'; value: string }
  | { kind: 'scheme'; value: string }
  | { kind: 'body-flip'; at: number }
  | { kind: 'host'; value: string }
  | { kind: 'duplicate'; name: 'x-amz-meta-colour' | 'authorization' | 'content-md5' | 'date'; value: string };

const lineName = fc.constantFrom('content-type' as const, 'content-md5' as const, 'date' as const);

export function headerMutationArb(bucket: string): fc.Arbitrary<V2HeaderMutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom('POST', 'DELETE', 'GET', 'HEAD') }),
    fc.record({ kind: fc.constant('path' as const), suffix: fc.constantFrom('x', '/', '%20', '.', '%2F', '~') }),
    // The two rules a holder of a signed request would try to get around weigh more: added x-amz-*
    // headers and added sub-resources.
    { arbitrary: fc.record({ kind: fc.constant('signed-param' as const), param: fc.constantFrom(...SIGNED_PARAMS) }), weight: 3 },
    fc.record({ kind: fc.constant('unsigned-param' as const), param: fc.constantFrom(...UNSIGNED_PARAMS) }),
    fc.record({ kind: fc.constant('line-value' as const), name: lineName, value: headerText }),
    fc.record({ kind: fc.constant('line-drop' as const), name: lineName }),
    // Values each header accepts, so that only the signature can be why a request is refused.
    { arbitrary: fc.constantFrom(...AMZ_HEADERS).map(([name, value]) => ({ kind: 'amz-add' as const, name, value })), weight: 4 },
    fc.record({ kind: fc.constant('amz-change' as const), value: headerText }),
    fc.record({ kind: fc.constant('amz-drop' as const) }),
    fc.record({ kind: fc.constant('amz-padding' as const), pad: fc.constantFrom(' ', '  ', '\t', ' \t ') }),
    fc.record({ kind: fc.constant('amz-upper' as const) }),
    fc.record({
      kind: fc.constant('date-shift' as const),
      seconds: fc.oneof(fc.integer({ min: -3600, max: 3600 }), fc.constantFrom(-1, 1, 60)),
    }),
    fc.record({ kind: fc.constant('signature-char' as const), at: fc.nat({ max: 26 }), char: base64Char }),
    fc.record({ kind: fc.constant('signature-value' as const), value: fc.oneof(base64Signature, headerText) }),
    fc.record({ kind: fc.constant('signature-cut' as const), keep: fc.nat({ max: 27 }) }),
    fc.record({ kind: fc.constant('key-id' as const), value: fc.oneof(headerText, fc.constantFrom('AKIANOSUCHKEY0000000', '', ' ')) }),
    fc.record({
      kind: fc.constant('scheme' as const),
      value: fc.constantFrom('aws', 'AWS4-HMAC-SHA256', 'AWS2', '', 'AWS  ', 'AWS\t', 'Bearer'),
    }),
    fc.record({ kind: fc.constant('body-flip' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('host' as const),
      value: fc.constantFrom('127.0.0.2', 'evil.example', `${bucket}.localhost`, 'other.localhost'),
    }),
    fc.record({
      kind: fc.constant('duplicate' as const),
      name: fc.constantFrom('x-amz-meta-colour' as const, 'authorization' as const, 'content-md5' as const, 'date' as const),
      value: headerText,
    }),
  );
}

const trimmed = (v: string) => v.replace(/\r?\n[ \t]*/g, ' ').trim();

/**
 * Applies one mutation to a header-signed request whose headers are
 * content-type, content-md5, x-amz-meta-colour, date, content-length, host
 * and authorization (`AWS AKID:signature`).
 */
export function mutateHeaderSigned(base: V2Request, m: V2HeaderMutation): V2Mutated {
  const headers: Record<string, string | string[]> = { ...base.headers };
  const auth = headers.authorization as string;
  const colon = auth.lastIndexOf(':');
  const keyId = auth.slice(4, colon);
  const signature = auth.slice(colon + 1);
  const setAuth = (scheme: string, id: string, sig: string) => (headers.authorization = `${scheme} ${id}:${sig}`);
  let { method, path, query, body } = base;
  let mustReject = true;
  switch (m.kind) {
    case 'method':
      mustReject = m.method !== method;
      method = m.method;
      break;
    case 'path':
      path += m.suffix;
      break;
    case 'signed-param':
      query = query ? `${query}&${m.param}` : m.param;
      break;
    case 'unsigned-param':
      // SigV2 signs only sub-resources: these may be changed by whoever holds the request, on S3 too.
      query = query ? `${query}&${m.param}` : m.param;
      mustReject = false;
      break;
    case 'line-value':
      mustReject = trimmed(m.value) !== trimmed(String(headers[m.name]));
      headers[m.name] = m.value;
      break;
    case 'line-drop':
      delete headers[m.name];
      break;
    case 'amz-add':
      headers[m.name] = m.value;
      break;
    case 'amz-change':
      mustReject = trimmed(m.value) !== trimmed(String(headers['x-amz-meta-colour']));
      headers['x-amz-meta-colour'] = m.value;
      break;
    case 'amz-drop':
      delete headers['x-amz-meta-colour'];
      break;
    case 'amz-padding':
      headers['x-amz-meta-colour'] = `${m.pad}${String(headers['x-amz-meta-colour'])}${m.pad}`;
      mustReject = false;
      break;
    case 'amz-upper': {
      // Header names are case-insensitive: node hands them over lower-cased.
      const value = headers['x-amz-meta-colour'];
      delete headers['x-amz-meta-colour'];
      headers['X-AMZ-META-COLOUR'] = value;
      mustReject = false;
      break;
    }
    case 'date-shift':
      mustReject = m.seconds !== 0;
      headers.date = new Date(Date.parse(String(headers.date)) + m.seconds * 1000).toUTCString();
      break;
    case 'signature-char': {
      mustReject = signature[m.at] !== m.char;
      setAuth('AWS', keyId, signature.slice(0, m.at) + m.char + signature.slice(m.at + 1));
      break;
    }
    case 'signature-value':
      mustReject = m.value.trim() !== signature;
      setAuth('AWS', keyId, m.value);
      break;
    case 'signature-cut':
      setAuth('AWS', keyId, signature.slice(0, m.keep));
      break;
    case 'key-id':
      mustReject = m.value.trim() !== keyId;
      setAuth('AWS', m.value, signature);
      break;
    case 'scheme':
      // More white space after the scheme is the same header; any other scheme is not SigV2.
      mustReject = !/^AWS\s+$/.test(m.value);
      headers.authorization = `${m.value}${m.value.endsWith(' ') || m.value.endsWith('\t') ? '' : ' '}${keyId}:${signature}`;
      break;
    case 'body-flip':
      // The body is not signed, but its Content-MD5 is.
      if (body.length === 0) body = Buffer.from('x');
      else {
        body = Buffer.from(body);
        body[m.at % body.length] ^= 0x01;
      }
      headers['content-length'] = String(body.length);
      break;
    case 'host': {
      // SigV2 does not sign the Host; it matters only when it names one of our buckets (virtual-host style).
      mustReject = m.value.endsWith('.localhost');
      headers.host = `${m.value}:${String(headers.host).split(':')[1]}`;
      break;
    }
    case 'duplicate':
      // Node keeps the first Authorization; it joins other repeated headers with ', ' (another value).
      mustReject = m.name !== 'authorization';
      headers[m.name] = [headers[m.name] as string, m.value];
      break;
  }
  return { method, path, query, headers, body, mustReject, label: JSON.stringify(m) };
}

// ---------------------------------------------------------------- presigned URLs

export const PRESIGN_PARAMS = ['AWSAccessKeyId', 'Expires', 'Signature'] as const;

export type V2QueryMutation =
  | { kind: 'param-value'; param: number; value: string }
  | { kind: 'param-drop'; param: number }
  | { kind: 'param-append-duplicate'; param: number; value: string }
  | { kind: 'param-prepend-duplicate'; param: number; value: string }
  | { kind: 'param-rename'; param: number; how: 'lower' | 'upper' | 'space' }
  | { kind: 'signed-param'; param: string }
  | { kind: 'unsigned-param'; param: string }
  | { kind: 'header'; name: string; value: string }
  | { kind: 'path'; suffix: string }
  | { kind: 'method'; method: string }
  | { kind: 'with-authorization' }
  | { kind: 'signature-plus-spelling'; spelling: '+' | '%20' | '%2b' };

export const queryMutationArb: fc.Arbitrary<V2QueryMutation> = fc.oneof(
  fc.record({
    kind: fc.constant('param-value' as const),
    param: fc.nat({ max: 2 }),
    value: fc.oneof(headerText, base64Signature, fc.constantFrom('0', '9999999999', '99999999999999999999', '-1', '1e10', '')),
  }),
  fc.record({ kind: fc.constant('param-drop' as const), param: fc.nat({ max: 2 }) }),
  fc.record({ kind: fc.constant('param-append-duplicate' as const), param: fc.nat({ max: 2 }), value: headerText }),
  fc.record({ kind: fc.constant('param-prepend-duplicate' as const), param: fc.nat({ max: 2 }), value: headerText }),
  fc.record({
    kind: fc.constant('param-rename' as const),
    param: fc.nat({ max: 2 }),
    how: fc.constantFrom('lower' as const, 'upper' as const, 'space' as const),
  }),
  { arbitrary: fc.record({ kind: fc.constant('signed-param' as const), param: fc.constantFrom(...SIGNED_PARAMS) }), weight: 3 },
  fc.record({ kind: fc.constant('unsigned-param' as const), param: fc.constantFrom(...UNSIGNED_PARAMS) }),
  {
    arbitrary: fc
      .constantFrom<[string, string]>(...AMZ_HEADERS, ['content-type', 'text/html'], ['content-md5', '1B2M2Y8AsgTpgAmY7PhCfg=='])
      .map(([name, value]) => ({ kind: 'header' as const, name, value })),
    weight: 4,
  },
  fc.record({ kind: fc.constant('path' as const), suffix: fc.constantFrom('x', '/', '%20', '.', '%2F') }),
  fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom('HEAD', 'DELETE', 'POST', 'PUT') }),
  fc.record({ kind: fc.constant('with-authorization' as const) }),
  fc.record({
    kind: fc.constant('signature-plus-spelling' as const),
    spelling: fc.constantFrom('+' as const, '%20' as const, '%2b' as const),
  }),
);

/** Applies one mutation to a presigned URL's request: `params` are the auth parameters [name, decoded value]. */
export function mutatePresigned(
  req: { method: string; path: string; params: Array<[string, string]> },
  m: V2QueryMutation,
): { method: string; pathAndQuery: string; headers: Record<string, string>; mustReject: boolean; label: string } {
  const list = req.params.map(([k, v]) => [k, v] as [string, string]);
  const at = (p: number) => list.findIndex(([k]) => k === PRESIGN_PARAMS[p]);
  let { method, path } = req;
  let extra = '';
  let mustReject = true;
  let signatureRaw: string | undefined;
  const headers: Record<string, string> = {};
  switch (m.kind) {
    case 'param-value': {
      const i = at(m.param);
      mustReject = list[i][1] !== m.value;
      list[i][1] = m.value;
      break;
    }
    case 'param-drop':
      list.splice(at(m.param), 1);
      break;
    case 'param-append-duplicate':
      // The first of repeated auth parameters is the one read; a later copy changes nothing signed.
      list.push([PRESIGN_PARAMS[m.param], m.value]);
      mustReject = false;
      break;
    case 'param-prepend-duplicate':
      // ... and an earlier copy replaces what was signed.
      mustReject = m.value !== list[at(m.param)][1];
      list.unshift([PRESIGN_PARAMS[m.param], m.value]);
      break;
    case 'param-rename': {
      const i = at(m.param);
      const k = list[i][0];
      list[i][0] = m.how === 'lower' ? k.toLowerCase() : m.how === 'upper' ? k.toUpperCase() : ` ${k}`;
      break;
    }
    case 'signed-param':
      extra = m.param;
      break;
    case 'unsigned-param':
      extra = m.param;
      mustReject = false;
      break;
    case 'header':
      headers[m.name] = m.value;
      break;
    case 'path':
      path += m.suffix;
      break;
    case 'method':
      mustReject = m.method !== method;
      method = m.method;
      break;
    case 'with-authorization':
      headers.authorization = `AWS ${list[at(0)][1]}:${list[at(2)][1]}`;
      break;
    case 'signature-plus-spelling': {
      // A '+' of the base64 signature left unencoded, or encoded as a space: the same signature.
      const sig = list[at(2)][1];
      signatureRaw = sig.split('+').map(awsEncode).join(m.spelling);
      mustReject = false;
      break;
    }
  }
  const query = list
    .map(([k, v]) => `${awsEncode(k)}=${k === 'Signature' && signatureRaw !== undefined ? signatureRaw : awsEncode(v)}`)
    .join('&');
  return { method, pathAndQuery: `${path}?${extra ? `${extra}&` : ''}${query}`, headers, mustReject, label: JSON.stringify(m) };
}
