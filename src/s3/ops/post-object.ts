/**
 * POST Object: browser form uploads authorised by a POST policy signed with
 * SigV4 (`x-amz-signature`) or, when the `sigv2` option allows, SigV2
 * (`AWSAccessKeyId` + `signature`, what boto3's generate_presigned_post
 * makes on Debian). The form is streamed (busboy); fields must precede the
 * file, as S3 requires, so the policy is checked before a single byte is stored.
 */
import type { Readable } from 'node:stream';

import busboy from 'busboy';

import type { ObjectVersion } from '../../core/objects.js';
import type { KeyPrincipal } from '../../core/tenants.js';
import { deriveSigningKey, hmac, signaturesEqual } from '../auth/signing.js';
import { policySignatureV2Matches, sigV2TurnedOff } from '../auth/sigv2.js';
import { header, type S3Request } from '../context.js';
import { errors } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { authorize, requireAclRight } from './access.js';
import { attributesFromHeaders } from './object-headers.js';
import { lockFromHeaders } from './object-lock.js';
import { writtenVersionHeader } from './versions.js';

type Fields = Map<string, string>;

type FormSignature = 'v4' | 'v2';

/** Form fields that need no policy condition (S3's rule; a SigV2 form's key id and signature are the signature). */
function exempt(name: string, version: FormSignature): boolean {
  const own = version === 'v4' ? ['x-amz-signature'] : ['awsaccesskeyid', 'signature'];
  return [...own, 'file', 'policy'].includes(name) || name.startsWith('x-ignore-');
}

/** SigV2 forms carry AWSAccessKeyId and signature and none of SigV4's x-amz-* signature fields. */
function formSignature(fields: Fields): FormSignature {
  const v4 = ['x-amz-signature', 'x-amz-credential', 'x-amz-algorithm'].some((name) => fields.has(name));
  return !v4 && (fields.has('awsaccesskeyid') || fields.has('signature')) ? 'v2' : 'v4';
}

const policyError = (msg: string) => errors.accessDenied(`Invalid according to Policy: ${msg}`);

interface PolicyLimits {
  minSize: number;
  maxSize: number;
}

/** Checks the policy document's expiration and every condition against the form; returns the size limits. */
function checkPolicy(policyB64: string, fields: Fields, bucketName: string, now: Date, version: FormSignature): PolicyLimits {
  let policy: { expiration?: string; conditions?: unknown[] };
  try {
    policy = JSON.parse(Buffer.from(policyB64, 'base64').toString('utf8'));
  } catch {
    throw errors.invalidArgument('Invalid Policy: Invalid JSON.', 'policy', '');
  }
  const expiration = Date.parse(policy.expiration ?? '');
  if (Number.isNaN(expiration)) throw errors.invalidArgument("Invalid Policy: Invalid 'expiration' value.", 'policy', '');
  if (expiration < now.getTime()) throw policyError('Policy expired.');
  if (!Array.isArray(policy.conditions)) throw errors.invalidArgument("Invalid Policy: Invalid 'conditions' value.", 'policy', '');
  const value = (name: string) => (name === 'bucket' ? bucketName : (fields.get(name) ?? ''));
  const covered = new Set<string>();
  const limits: PolicyLimits = { minSize: 0, maxSize: Infinity };
  for (const c of policy.conditions) {
    if (Array.isArray(c)) {
      const [op, rawName, expected] = c as [string, unknown, unknown];
      if (String(op).toLowerCase() === 'content-length-range') {
        limits.minSize = Number(rawName);
        limits.maxSize = Number(expected);
        // NaN would compare false with every size and silently lift the limit.
        if (!Number.isSafeInteger(limits.minSize) || !Number.isSafeInteger(limits.maxSize) || limits.minSize < 0) {
          throw errors.invalidArgument('Invalid Policy: Invalid content-length-range.', 'policy', '');
        }
        continue;
      }
      const name = String(rawName).replace(/^\$/, '').toLowerCase();
      covered.add(name);
      const actual = value(name);
      if (String(op).toLowerCase() === 'eq') {
        if (actual !== String(expected)) throw policyError(`Policy Condition failed: ["eq", "$${name}", "${expected}"]`);
      } else if (String(op).toLowerCase() === 'starts-with') {
        // For Content-Type, S3 checks every comma-separated value.
        const values = name === 'content-type' ? actual.split(',').map((v) => v.trim()) : [actual];
        if (!values.every((v) => v.startsWith(String(expected)))) {
          throw policyError(`Policy Condition failed: ["starts-with", "$${name}", "${expected}"]`);
        }
      } else {
        throw errors.invalidArgument(`Invalid Policy: Invalid condition operator ${op}`, 'policy', '');
      }
    } else if (c && typeof c === 'object') {
      for (const [rawName, expected] of Object.entries(c)) {
        const name = rawName.toLowerCase();
        covered.add(name);
        if (value(name) !== String(expected)) throw policyError(`Policy Condition failed: ["eq", "$${name}", "${expected}"]`);
      }
    }
  }
  for (const name of fields.keys()) {
    if (!exempt(name, version) && !covered.has(name)) throw policyError(`Extra input fields: ${name}`);
  }
  return limits;
}

/** Verifies the policy signature; returns the signing key's principal. */
async function authenticateForm(r: S3Request, fields: Fields, version: FormSignature): Promise<KeyPrincipal> {
  if (version === 'v2') return authenticateFormV2(r, fields);
  const policy = fields.get('policy');
  const signature = fields.get('x-amz-signature');
  const credential = fields.get('x-amz-credential');
  if (!policy || !signature || !credential) throw errors.accessDenied();
  if (fields.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') {
    throw errors.invalidRequest('The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[3] !== 's3' || parts[4] !== 'aws4_request') {
    throw errors.invalidArgument('Invalid credential', 'x-amz-credential', credential);
  }
  const [accessKeyId, date, region] = parts;
  if (region !== r.config.region) {
    throw errors.authorizationHeaderMalformed(
      `The authorization header is malformed; the region '${region}' is wrong; expecting '${r.config.region}'`,
    );
  }
  const key = await r.services.tenants.lookupKey(accessKeyId);
  if (!key) throw errors.invalidAccessKeyId();
  const expected = hmac(deriveSigningKey(key.secret, date, region), policy).toString('hex');
  if (!signaturesEqual(expected, signature)) throw errors.signatureDoesNotMatch();
  return key;
}

/** SigV2: signature = base64(HMAC-SHA1(secret, policy)), the key named by AWSAccessKeyId. */
async function authenticateFormV2(r: S3Request, fields: Fields): Promise<KeyPrincipal> {
  if (!r.config.sigv2) throw sigV2TurnedOff();
  const policy = fields.get('policy');
  const signature = fields.get('signature');
  const accessKeyId = fields.get('awsaccesskeyid');
  if (!policy || !signature || !accessKeyId) throw errors.accessDenied();
  const key = await r.services.tenants.lookupKey(accessKeyId);
  if (!key) throw errors.invalidAccessKeyId();
  if (!policySignatureV2Matches(key.secret, policy, signature)) throw errors.signatureDoesNotMatch();
  return key;
}

async function storeFromForm(r: S3Request, fields: Fields, file: Readable, filename: string): Promise<ObjectVersion> {
  const bucketName = r.addr.bucket!;
  const version = formSignature(fields);
  const principal = await authenticateForm(r, fields, version);
  r.tenantId = principal.tenantId;
  r.permissions = principal.permissions;
  const limits = checkPolicy(fields.get('policy')!, fields, bucketName, new Date(), version);
  const bucket = await r.services.buckets.get(bucketName);
  if (!bucket) throw errors.noSuchBucket(bucketName);
  const keyTemplate = fields.get('key');
  if (!keyTemplate) throw errors.invalidArgument("Bucket POST must contain a field named 'key'.", 'key', '');
  const key = keyTemplate.replace(/\$\{filename\}/g, filename);
  // The form's signer needs write on the key it names, as a PUT would.
  authorize(r, bucket, 'PostObject', key);
  const asHeaders: Record<string, string> = {};
  for (const [name, value] of fields) asHeaders[name] = value;
  const lock = lockFromHeaders(asHeaders);
  if (lock && !bucket.object_lock) throw errors.invalidRequest('Bucket is missing Object Lock Configuration');
  if (fields.get('acl') !== undefined) asHeaders['x-amz-acl'] = fields.get('acl')!;
  delete asHeaders['x-amz-tagging'];
  const attributes = attributesFromHeaders(asHeaders);
  // Judged on the ACL that will be stored, whichever form field named it (acl or x-amz-acl).
  requireAclRight(r, bucket, key, attributes.acl);
  // Enforce the policy's size limit while streaming, not after storing everything.
  async function* limited(): AsyncIterable<Buffer> {
    let size = 0;
    for await (const chunk of file as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limits.maxSize) throw errors.entityTooLarge(limits.maxSize);
      yield chunk;
    }
  }
  return r.services.objects.put(bucket, key, limited(), {
    attributes,
    expect: { maxSize: limits.maxSize, minSize: limits.minSize },
    lock,
    event: 's3:ObjectCreated:Post',
  });
}

export async function postObject(r: S3Request): Promise<void> {
  const contentType = header(r, 'content-type') ?? '';
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
    throw errors.preconditionFailed('Bucket POST must be of the enclosure-type multipart/form-data');
  }
  const fields: Fields = new Map();
  let form: busboy.Busboy;
  try {
    form = busboy({ headers: r.req.headers, limits: { fieldSize: 1 << 20, fields: 200, files: 1 } });
  } catch {
    // busboy throws when the Content-Type has no boundary (or is not a form it knows).
    throw errors.malformedPOSTRequest();
  }
  const stored = new Promise<ObjectVersion>((resolve, reject) => {
    let sawFile = false;
    form.on('field', (name, value) => fields.set(name.toLowerCase(), value));
    form.on('file', (name, stream, info) => {
      // busboy fails a file stream when the form ends inside it, read or not: own that error
      // (a reader still receives it) so that an ignored or refused file cannot stop the process.
      stream.on('error', () => undefined);
      if (name.toLowerCase() !== 'file' || sawFile) {
        stream.resume();
        return;
      }
      sawFile = true;
      storeFromForm(r, fields, stream, info.filename ?? '').then(resolve, (err) => {
        stream.resume();
        reject(err);
      });
    });
    form.on('error', () => reject(errors.malformedPOSTRequest()));
    form.on('close', () => {
      if (!sawFile) reject(errors.invalidArgument('POST requires exactly one file upload per request.', 'file', '0'));
    });
  });
  (r.bodyStreams ??= []).push(form);
  r.req.pipe(form);
  const version = await stored;
  r.stats.bytesIn += version.size;

  const etag = `"${version.etag}"`;
  const versionHeaders = writtenVersionHeader(version);
  const location = `http://${header(r, 'host') ?? 'localhost'}/${r.addr.bucket}/${encodeURIComponent(version.key)}`;
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  const url = redirect ? URL.parse(redirect) : null;
  if (url) {
    url.searchParams.set('bucket', r.addr.bucket!);
    url.searchParams.set('key', version.key);
    url.searchParams.set('etag', etag);
    sendEmpty(r, 303, { Location: url.toString(), ETag: etag, ...versionHeaders });
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    sendXml(
      r,
      201,
      'PostResponse',
      { Location: location, Bucket: r.addr.bucket!, Key: version.key, ETag: etag },
      { ETag: etag, Location: location, ...versionHeaders },
    );
  } else {
    sendEmpty(r, status === '200' ? 200 : 204, { ETag: etag, Location: location, ...versionHeaders });
  }
}
