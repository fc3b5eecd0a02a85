/**
 * The isolation matrix: every S3 operation Anvil knows (the table in
 * src/s3/permissions.ts, walked key by key so the table and this file cannot
 * drift) is sent by three callers that have no right to tenant A's private
 * bucket `shared-a/secret/...`:
 *
 * - B: an unrestricted key of another tenant (which owns `bucket-b`);
 * - scoped: a key of tenant A itself, limited to `shared-a/other/*`;
 * - anon: no signature at all.
 *
 * Each answer must be a refusal (AccessDenied, with the few exceptions S3
 * itself makes, noted where they are expected), must reveal nothing (no key
 * name, size, ETag, upload id, body, tag, metadata or owner the request did
 * not itself carry), and must be the same whether the addressed key or upload
 * exists or not. Afterwards tenant A's data is exactly what it was.
 *
 * Requests are sent raw (signed with the SDK's own signer, or unsigned), so
 * bodies and headers are inspected exactly as they leave the server.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketAclCommand,
  GetBucketCorsCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';

import type { PolicyStatement } from '../../src/core/policy.js';
import { OPERATION_ACCESS } from '../../src/s3/permissions.js';
import { parseAddress } from '../../src/s3/request.js';
import { route } from '../../src/s3/router.js';
import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

type Creds = { accessKeyId: string; secretAccessKey: string };
type CallerName = 'B' | 'scoped' | 'anon';
const CALLERS: CallerName[] = ['B', 'scoped', 'anon'];

interface Caller {
  name: CallerName;
  creds?: Creds;
}

interface Expectation {
  status: number;
  /** The S3 error code (not checked on HEAD, whose errors carry no body). */
  code?: string;
  check?: (r: Raw) => void;
}

interface Probe {
  label: string;
  method: string;
  /** Path and query, e.g. `/shared-a/secret/one.txt?tagging`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** A browser-form POST (sent without an Authorization header; the form carries its own signature, if any). */
  form?: { fields: Record<string, string>; file: string; filename: string };
  /** Default: 403 AccessDenied. */
  expect?: Expectation;
  /** Probes sharing this tag (existing vs missing key or upload) must get indistinguishable answers. */
  same?: string;
}

interface Raw {
  status: number;
  code: string | undefined;
  text: string;
  headers: Record<string, string>;
}

const DENIED: Expectation = { status: 403, code: 'AccessDenied' };

const BUCKET = 'shared-a';
const ONE = 'secret/one.txt';
const TWO = 'secret/two.txt';
const BIG = 'secret/big.bin';
const MISSING = 'secret/missing.txt';
const BOGUS_UPLOAD = 'bm90LWEtcmVhbC11cGxvYWQtaWQtYXQtYWxsLTAwMDA';

/** Distinctive sizes (primes) so a leaked size can be searched for; distinctive bodies so leaked bytes can too. */
function payload(marker: string, size: number): Buffer {
  return Buffer.from(`${marker} `.repeat(Math.ceil(size / (marker.length + 1))).slice(0, size));
}
const ONE_BODY = payload('S3CR3T-PAYLOAD-ONE', 7919);
const TWO_BODY = payload('S3CR3T-PAYLOAD-TWO', 6007);
const PART_BODY = payload('S3CR3T-PAYLOAD-PART', 5431);

const md5hex = (b: Buffer | string) => crypto.createHash('md5').update(b).digest('hex');
const md5b64 = (b: Buffer | string) => crypto.createHash('md5').update(b).digest('base64');
const sha256hex = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

function hmac(key: Buffer | string, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** The form fields of a SigV4 POST policy signed with `creds` (as in post-object.test.ts). */
function signedForm(creds: Creds, conditions: unknown[], extra: Record<string, string>): Record<string, string> {
  const now = new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, '');
  const amzDate = `${date}T000000Z`;
  const credential = `${creds.accessKeyId}/${date}/us-east-1/s3/aws4_request`;
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(now.getTime() + 600_000).toISOString(),
      conditions: [...conditions, { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': amzDate }],
    }),
  ).toString('base64');
  const kDate = hmac(`AWS4${creds.secretAccessKey}`, date);
  const key = hmac(hmac(hmac(kDate, 'us-east-1'), 's3'), 'aws4_request');
  return {
    ...extra,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-credential': credential,
    'x-amz-date': amzDate,
    policy,
    'x-amz-signature': hmac(key, policy).toString('hex'),
  };
}

describeEachEngine('tenant and policy isolation', (engine) => {
  const t = useAnvil(engine);
  let a: S3Client; // tenant A, unrestricted
  let b: S3Client; // tenant B, unrestricted
  const creds: Partial<Record<'A' | 'B' | 'scoped', Creds>> = {};
  let tenantACanonicalId = '';
  /** A's upload on secret/big.bin, its one part's ETag. */
  let uploadId = '';
  let partEtag = '';
  /** Uploads the callers own, as destinations of UploadPartCopy. */
  let uploadB = '';
  let uploadScoped = '';
  let baseline: unknown;

  const caller = (name: CallerName): Caller => ({ name, creds: name === 'anon' ? undefined : creds[name] });

  beforeAll(async () => {
    const tenants = t.anvil.services.tenants;
    tenantACanonicalId = (await tenants.createTenant('tenant-a')).canonicalId;
    await tenants.createTenant('tenant-b');
    const pick = (k: Creds) => ({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });
    creds.A = pick(await tenants.createKey('tenant-a'));
    creds.scoped = pick(
      await tenants.createKey('tenant-a', {
        policies: [{ effect: 'allow', actions: ['read', 'list', 'write', 'delete', 'admin'], resources: ['shared-a/other/*'] }],
      }),
    );
    creds.B = pick(await tenants.createKey('tenant-b'));
    a = t.client(creds.A);
    b = t.client(creds.B);

    // Tenant A: a private bucket with secrets, tags, CORS, metadata and an upload in progress.
    await a.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await a.send(new CreateBucketCommand({ Bucket: 'hidden-a' })); // outside the scoped key's reach entirely
    await a.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: ONE,
        Body: ONE_BODY,
        ContentType: 'text/plain',
        Metadata: { note: 'meta-secret-value' },
        Tagging: 'class=classified-tag-one',
      }),
    );
    await a.send(new PutObjectCommand({ Bucket: BUCKET, Key: TWO, Body: TWO_BODY, Tagging: 'class=classified-tag-two' }));
    await a.send(new PutBucketTaggingCommand({ Bucket: BUCKET, Tagging: { TagSet: [{ Key: 'team', Value: 'bucket-tag-secret' }] } }));
    await a.send(
      new PutBucketCorsCommand({
        Bucket: BUCKET,
        CORSConfiguration: {
          CORSRules: [{ AllowedOrigins: ['https://cors-secret.example'], AllowedMethods: ['GET'], ExposeHeaders: ['ETag'] }],
        },
      }),
    );
    // No bucket policy: every supported policy statement makes something public, and shared-a stays private.
    uploadId = (await a.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: BIG }))).UploadId!;
    partEtag = (await a.send(new UploadPartCommand({ Bucket: BUCKET, Key: BIG, UploadId: uploadId, PartNumber: 1, Body: PART_BODY })))
      .ETag!;
    expect(partEtag).toBe(`"${md5hex(PART_BODY)}"`);

    // Tenant B: its own bucket, object and upload (destinations for copies).
    await b.send(new CreateBucketCommand({ Bucket: 'bucket-b' }));
    await b.send(new PutObjectCommand({ Bucket: 'bucket-b', Key: 'own.txt', Body: 'b owns this' }));
    uploadB = (await b.send(new CreateMultipartUploadCommand({ Bucket: 'bucket-b', Key: 'b-upload.bin' }))).UploadId!;

    // The scoped key's own upload, inside its prefix.
    const scoped = t.client(creds.scoped);
    uploadScoped = (await scoped.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'other/copy-upload.bin' }))).UploadId!;

    baseline = await snapshot();
  });

  // ---------------------------------------------------------------- sending and judging

  async function send(c: Caller, p: Probe): Promise<Raw> {
    const url = `${t.endpoint}${p.path}`;
    let res: Response;
    if (p.form) {
      const form = new FormData();
      for (const [k, v] of Object.entries(p.form.fields)) form.append(k, v);
      form.append('file', new Blob([p.form.file]), p.form.filename);
      res = await fetch(url, { method: 'POST', body: form, redirect: 'manual' });
    } else if (c.creds) {
      res = await signedFetch(t, p.method, url, { creds: c.creds, headers: p.headers, body: p.body, payloadHash: sha256hex(p.body ?? '') });
    } else {
      const body = p.body === undefined ? undefined : typeof p.body === 'string' ? p.body : new Uint8Array(p.body);
      res = await fetch(url, { method: p.method, headers: p.headers, body, redirect: 'manual' });
    }
    const text = await res.text();
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    // Only an error document's own code (a DeleteResult carries per-key codes).
    const code = /^(<\?xml[^>]*\?>\s*)?<Error>/.test(text) ? /<Code>([^<]*)<\/Code>/.exec(text)?.[1] : undefined;
    return { status: res.status, code, text, headers };
  }

  /** Which operation the server will take this probe for (so a builder cannot silently exercise another one). */
  function routeOf(p: Probe): string {
    const headers: Record<string, string> = { host: new URL(t.endpoint).host, ...(p.headers ?? {}) };
    const addr = parseAddress({ url: p.path, headers } as unknown as IncomingMessage, t.config.domain);
    return route(p.method, addr).op;
  }

  /** What a refused caller must never see, unless its own request carried it (an echoed name is no leak). */
  function secrets(who: CallerName): Array<{ name: string; text: string; re: RegExp }> {
    const lit = (name: string, text: string) => ({ name, text, re: new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'i') });
    const size = (name: string, n: number) => ({ name, text: String(n), re: new RegExp(`\\b${n}\\b`) });
    const list = [
      lit('key one.txt', 'one.txt'),
      lit('key two.txt', 'two.txt'),
      lit('key big.bin', 'big.bin'),
      lit('prefix secret/', 'secret/'),
      size('size of one.txt', ONE_BODY.length),
      size('size of two.txt', TWO_BODY.length),
      size('size of the part', PART_BODY.length),
      lit('ETag of one.txt', md5hex(ONE_BODY)),
      lit('ETag of two.txt', md5hex(TWO_BODY)),
      lit('ETag of the part', md5hex(PART_BODY)),
      lit('upload id', uploadId),
      lit('object bytes', 'S3CR3T-PAYLOAD'),
      lit('object tag', 'classified-tag'),
      lit('object metadata', 'meta-secret-value'),
      lit('bucket tag', 'bucket-tag-secret'),
      lit('CORS rule', 'cors-secret.example'),
    ];
    // The scoped key belongs to tenant A: A's owner identity is its own.
    if (who !== 'scoped') list.push(lit("tenant A's canonical id", tenantACanonicalId), lit("tenant A's name", 'tenant-a'));
    return list;
  }

  function requestText(p: Probe): string {
    let path = p.path;
    try {
      path = decodeURIComponent(p.path);
    } catch {
      /* keep it raw */
    }
    const parts = [path, JSON.stringify(p.headers ?? {}), p.body?.toString() ?? ''];
    if (p.form) parts.push(JSON.stringify(p.form.fields), p.form.filename);
    return parts.join('\n');
  }

  const VOLATILE_HEADERS = new Set(['x-amz-request-id', 'x-amz-id-2', 'date']);

  function leaked(who: CallerName, p: Probe, r: Raw): string[] {
    const echo = requestText(p);
    const body = r.text.replace(/<(RequestId|HostId)>[^<]*<\/\1>/g, '');
    const headers = Object.entries(r.headers)
      .filter(([k]) => !VOLATILE_HEADERS.has(k))
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
    return secrets(who)
      .filter((s) => !echo.toLowerCase().includes(s.text.toLowerCase()))
      .filter((s) => s.re.test(body) || s.re.test(headers))
      .map((s) => s.name);
  }

  /** Headers that describe an object, an upload or a bucket: a refusal carries none. */
  function revealingHeaders(r: Raw): string[] {
    return Object.keys(r.headers).filter(
      (h) =>
        [
          'etag',
          'last-modified',
          'content-range',
          'location',
          'x-amz-bucket-region',
          'x-amz-tagging-count',
          'x-amz-mp-parts-count',
          'x-amz-version-id',
        ].includes(h) ||
        h.startsWith('x-amz-meta-') ||
        h.startsWith('x-amz-checksum-') ||
        h.startsWith('access-control-'),
    );
  }

  /** An answer with what may legitimately differ between two addressed keys removed. */
  function shape(r: Raw) {
    return {
      status: r.status,
      code: r.code,
      body: r.text.replace(/<(RequestId|HostId|Resource|Key)>[^<]*<\/\1>/g, ''),
      headers: Object.keys(r.headers)
        .filter((h) => !VOLATILE_HEADERS.has(h))
        .sort(),
    };
  }

  /** Sends an operation's probes as one caller and checks each answer; returns them for further comparison. */
  async function runProbes(op: string, who: CallerName): Promise<Array<{ probe: Probe; res: Raw }>> {
    const build = BUILDERS[op];
    if (!build) throw new Error(`no request builder for ${op}: add one to BUILDERS in test/integration/isolation.test.ts`);
    const probes = build(caller(who));
    expect(probes.length, `${op} has probes`).toBeGreaterThan(0);
    const out: Array<{ probe: Probe; res: Raw }> = [];
    for (const p of probes) {
      const what = `${op} by ${who}, ${p.label} (${p.method} ${p.path})`;
      expect.soft(routeOf(p), `${what}: routed as`).toBe(op);
      const res = await send(caller(who), p);
      const exp = p.expect ?? DENIED;
      expect.soft({ status: res.status, code: p.method === 'HEAD' ? undefined : res.code }, `${what}: answer ${res.text}`).toEqual({
        status: exp.status,
        code: p.method === 'HEAD' ? undefined : exp.code,
      });
      if (exp.status === 403) expect.soft(revealingHeaders(res), `${what}: revealing headers`).toEqual([]);
      expect.soft(leaked(who, p, res), `${what}: leaked in ${JSON.stringify(res.headers)} ${res.text}`).toEqual([]);
      exp.check?.(res);
      out.push({ probe: p, res });
    }
    // Existing and missing keys (and real and bogus upload ids) must look alike.
    const groups = new Map<string, Array<{ probe: Probe; res: Raw }>>();
    for (const x of out) if (x.probe.same) groups.set(x.probe.same, [...(groups.get(x.probe.same) ?? []), x]);
    for (const [tag, xs] of groups) {
      for (const x of xs.slice(1)) {
        expect.soft(shape(x.res), `${op} by ${who}: "${x.probe.label}" vs "${xs[0].probe.label}" (${tag})`).toEqual(shape(xs[0].res));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- one request builder per operation

  const obj = (key: string, query = '') => `/${BUCKET}/${key}${query}`;
  const existingAndMissing = (method: string, query = '', extra: Partial<Probe> = {}): Probe[] => [
    { label: 'existing key', method, path: obj(ONE, query), same: 'key', ...extra },
    { label: 'missing key', method, path: obj(MISSING, query), same: 'key', ...extra },
  ];
  const realAndBogusUpload = (method: string, query: string, extra: Partial<Probe> = {}): Probe[] => [
    { label: 'real upload id', method, path: obj(BIG, `?${query}uploadId=${uploadId}`), same: 'upload', ...extra },
    { label: 'bogus upload id', method, path: obj(BIG, `?${query}uploadId=${BOGUS_UPLOAD}`), same: 'upload', ...extra },
  ];
  const listings = (query: string): Probe[] => [
    { label: 'whole bucket', method: 'GET', path: `/${BUCKET}${query}` },
    { label: "prefix 'secret/'", method: 'GET', path: `/${BUCKET}${query}${query ? '&' : '?'}prefix=secret%2F` },
    { label: "delimiter '/'", method: 'GET', path: `/${BUCKET}${query}${query ? '&' : '?'}delimiter=%2F` },
  ];
  const copySources = (dest: string, extra: Partial<Probe> = {}): Probe[] => [
    {
      label: `existing source into ${dest}`,
      method: 'PUT',
      path: dest,
      headers: { 'x-amz-copy-source': `/${BUCKET}/${ONE}` },
      same: 'source',
      ...extra,
    },
    {
      label: `missing source into ${dest}`,
      method: 'PUT',
      path: dest,
      headers: { 'x-amz-copy-source': `/${BUCKET}/${MISSING}` },
      same: 'source',
      ...extra,
    },
  ];
  const xml = (body: string, extra: Record<string, string> = {}) => ({ body, headers: { 'content-md5': md5b64(body), ...extra } });

  const TAGGING = '<Tagging><TagSet><Tag><Key>pwned</Key><Value>yes</Value></Tag></TagSet></Tagging>';
  const CORS =
    '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>';
  const POLICY = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` },
      { Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` },
    ],
  });
  const bucketNames = (text: string) => [...text.matchAll(/<Name>([^<]*)<\/Name>/g)].map((m) => m[1]);

  const BUILDERS: Record<string, (c: Caller) => Probe[]> = {
    ListBuckets: (c) => [
      {
        label: 'all buckets',
        method: 'GET',
        path: '/',
        expect:
          c.name === 'anon'
            ? DENIED
            : {
                status: 200,
                check: (r) => {
                  const names = bucketNames(r.text);
                  expect.soft(names, `ListBuckets by ${c.name}`).not.toContain('hidden-a');
                  if (c.name === 'B') {
                    expect.soft(names, 'ListBuckets by B').not.toContain(BUCKET);
                    expect.soft(names, 'ListBuckets by B').toEqual(['bucket-b']);
                  } else {
                    // By design (Permissions.reachesBucket) a key lists the buckets its allows reach into:
                    // the scoped key may write shared-a/other/*, so it sees shared-a (and nothing else of A).
                    expect.soft(names, 'ListBuckets by the scoped key').toEqual([BUCKET]);
                  }
                },
              },
      },
    ],
    CreateBucket: (c) =>
      c.name === 'B'
        ? [
            // Bucket names are one namespace for everyone: S3 itself answers 409 BucketAlreadyExists to
            // another account creating a taken name. It reveals only that the name is taken, as on AWS.
            { label: "A's bucket name", method: 'PUT', path: `/${BUCKET}`, expect: { status: 409, code: 'BucketAlreadyExists' } },
          ]
        : [
            { label: 'a new bucket it has no admin right on', method: 'PUT', path: `/iso-${c.name}-new` },
            { label: "A's bucket name", method: 'PUT', path: `/${BUCKET}` },
          ],
    DeleteBucket: () => [{ label: 'the bucket', method: 'DELETE', path: `/${BUCKET}` }],
    HeadBucket: () => [{ label: 'the bucket', method: 'HEAD', path: `/${BUCKET}` }],
    GetBucketLocation: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?location` }],
    GetBucketVersioning: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?versioning` }],
    PutBucketVersioning: () => [
      {
        label: 'suspend or enable it',
        method: 'PUT',
        path: `/${BUCKET}?versioning`,
        ...xml('<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>'),
      },
    ],
    GetObjectLockConfiguration: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?object-lock` }],
    PutObjectLockConfiguration: () => [
      {
        label: 'turn Object Lock on',
        method: 'PUT',
        path: `/${BUCKET}?object-lock`,
        ...xml('<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>'),
      },
    ],
    ListObjects: () => listings(''),
    ListObjectsV2: () => listings('?list-type=2'),
    ListObjectVersions: () => listings('?versions'),
    ListMultipartUploads: () => listings('?uploads'),
    GetBucketAcl: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?acl` }],
    PutBucketAcl: () => [{ label: 'make it public-read', method: 'PUT', path: `/${BUCKET}?acl`, headers: { 'x-amz-acl': 'public-read' } }],
    GetBucketPolicy: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?policy` }],
    PutBucketPolicy: () => [{ label: 'a policy making it public', method: 'PUT', path: `/${BUCKET}?policy`, ...xml(POLICY) }],
    DeleteBucketPolicy: () => [{ label: 'the bucket', method: 'DELETE', path: `/${BUCKET}?policy` }],
    GetBucketPolicyStatus: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?policyStatus` }],
    GetBucketTagging: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?tagging` }],
    PutBucketTagging: () => [{ label: 'new tags', method: 'PUT', path: `/${BUCKET}?tagging`, ...xml(TAGGING) }],
    DeleteBucketTagging: () => [{ label: 'the bucket', method: 'DELETE', path: `/${BUCKET}?tagging` }],
    GetBucketCors: () => [{ label: 'the bucket', method: 'GET', path: `/${BUCKET}?cors` }],
    PutBucketCors: () => [{ label: 'open CORS', method: 'PUT', path: `/${BUCKET}?cors`, ...xml(CORS) }],
    DeleteBucketCors: () => [{ label: 'the bucket', method: 'DELETE', path: `/${BUCKET}?cors` }],
    GetObject: () => [
      ...existingAndMissing('GET'),
      { label: 'existing key, ranged', method: 'GET', path: obj(ONE), headers: { range: 'bytes=0-9' }, same: 'ranged' },
      { label: 'missing key, ranged', method: 'GET', path: obj(MISSING), headers: { range: 'bytes=0-9' }, same: 'ranged' },
      {
        label: 'existing key, If-Match its ETag',
        method: 'GET',
        path: obj(ONE),
        headers: { 'if-match': `"${md5hex(ONE_BODY)}"` },
        same: 'cond',
      },
      {
        label: 'missing key, If-Match that ETag',
        method: 'GET',
        path: obj(MISSING),
        headers: { 'if-match': `"${md5hex(ONE_BODY)}"` },
        same: 'cond',
      },
    ],
    HeadObject: () => [
      ...existingAndMissing('HEAD'),
      {
        label: 'existing key, If-None-Match its ETag',
        method: 'HEAD',
        path: obj(ONE),
        headers: { 'if-none-match': `"${md5hex(ONE_BODY)}"` },
        same: 'cond',
      },
      {
        label: 'missing key, If-None-Match that ETag',
        method: 'HEAD',
        path: obj(MISSING),
        headers: { 'if-none-match': `"${md5hex(ONE_BODY)}"` },
        same: 'cond',
      },
    ],
    GetObjectAttributes: () =>
      existingAndMissing('GET', '?attributes', {
        headers: { 'x-amz-object-attributes': 'ETag,Checksum,ObjectParts,StorageClass,ObjectSize' },
      }),
    GetObjectAcl: () => existingAndMissing('GET', '?acl'),
    GetObjectTagging: () => existingAndMissing('GET', '?tagging'),
    GetObjectRetention: () => existingAndMissing('GET', '?retention'),
    GetObjectLegalHold: () => existingAndMissing('GET', '?legal-hold'),
    PutObjectRetention: () =>
      existingAndMissing(
        'PUT',
        '?retention',
        xml('<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>'),
      ),
    PutObjectLegalHold: () => existingAndMissing('PUT', '?legal-hold', xml('<LegalHold><Status>ON</Status></LegalHold>')),
    PutObject: () => [
      { label: 'overwrite an existing key', method: 'PUT', path: obj(ONE), body: 'pwned' },
      { label: 'a new key', method: 'PUT', path: obj('secret/new.txt'), body: 'pwned' },
      { label: 'overwrite only if absent', method: 'PUT', path: obj(ONE), body: 'pwned', headers: { 'if-none-match': '*' } },
    ],
    PostObject: (c) => {
      const form = (key: string) => {
        if (!c.creds) return { fields: { key }, file: 'pwned', filename: 'x.txt' }; // no policy, no signature
        const conditions = [{ bucket: BUCKET }, ['starts-with', '$key', 'secret/'], ['content-length-range', 1, 1000]];
        return { fields: signedForm(c.creds, conditions, { key }), file: 'pwned', filename: 'x.txt' };
      };
      return [
        {
          label: `form ${c.creds ? 'signed by the caller' : 'without signature'}, existing key`,
          method: 'POST',
          path: `/${BUCKET}`,
          form: form(ONE),
        },
        {
          label: `form ${c.creds ? 'signed by the caller' : 'without signature'}, new key`,
          method: 'POST',
          path: `/${BUCKET}`,
          form: form('secret/posted.txt'),
        },
      ];
    },
    CopyObject: (c) => {
      const probes: Probe[] = [];
      if (c.name === 'B') {
        probes.push(...copySources('/bucket-b/stolen.txt'));
        probes.push({
          label: "overwrite A's key from B's object",
          method: 'PUT',
          path: obj(ONE),
          headers: { 'x-amz-copy-source': '/bucket-b/own.txt' },
        });
      } else if (c.name === 'scoped') {
        probes.push(...copySources(obj('other/copy')));
        probes.push({
          label: 'overwrite a key outside its prefix',
          method: 'PUT',
          path: obj(ONE),
          headers: { 'x-amz-copy-source': `/${BUCKET}/${TWO}` },
        });
      } else {
        probes.push(...copySources(obj('secret/copy.txt')));
      }
      return probes;
    },
    PutObjectTagging: () => existingAndMissing('PUT', '?tagging', xml(TAGGING)),
    DeleteObjectTagging: () => existingAndMissing('DELETE', '?tagging'),
    PutObjectAcl: () => existingAndMissing('PUT', '?acl', { headers: { 'x-amz-acl': 'public-read' } }),
    CreateMultipartUpload: () => [
      { label: 'a new key', method: 'POST', path: obj('secret/new-upload.bin', '?uploads') },
      { label: 'an existing key', method: 'POST', path: obj(ONE, '?uploads') },
    ],
    UploadPart: () => realAndBogusUpload('PUT', 'partNumber=2&', { body: 'pwned part' }),
    UploadPartCopy: (c) => {
      const aUpload = obj(BIG, `?partNumber=2&uploadId=${uploadId}`);
      if (c.name === 'B') {
        return [
          ...copySources(`/bucket-b/b-upload.bin?partNumber=1&uploadId=${uploadB}`),
          { label: "B's object into A's upload", method: 'PUT', path: aUpload, headers: { 'x-amz-copy-source': '/bucket-b/own.txt' } },
        ];
      }
      if (c.name === 'scoped') {
        return [
          ...copySources(obj('other/copy-upload.bin', `?partNumber=1&uploadId=${uploadScoped}`)),
          {
            label: "A's other object into A's upload",
            method: 'PUT',
            path: aUpload,
            headers: { 'x-amz-copy-source': `/${BUCKET}/${TWO}` },
          },
        ];
      }
      return copySources(aUpload);
    },
    CompleteMultipartUpload: () =>
      realAndBogusUpload('POST', '', {
        body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${partEtag}</ETag></Part></CompleteMultipartUpload>`,
      }),
    AbortMultipartUpload: () => realAndBogusUpload('DELETE', ''),
    ListParts: () => realAndBogusUpload('GET', ''),
    DeleteObject: () => existingAndMissing('DELETE'),
    DeleteObjects: (c) => {
      const body =
        '<Delete><Object><Key>secret/one.txt</Key></Object><Object><Key>secret/two.txt</Key></Object>' +
        '<Object><Key>secret/missing.txt</Key></Object></Delete>';
      // A key of another tenant, or no key at all, is refused the whole request (the bucket is not
      // theirs). A key of A's own tenant reaches the bucket, so each key is judged and reported on
      // its own (as S3 does): 200 with every key in <Error> AccessDenied, and nothing deleted.
      const expectation: Expectation =
        c.name !== 'scoped'
          ? DENIED
          : {
              status: 200,
              check: (r) => {
                expect.soft(r.text, 'DeleteObjects by the scoped key: nothing deleted').not.toContain('<Deleted>');
                const errs = [...r.text.matchAll(/<Error>([\s\S]*?)<\/Error>/g)].map((m) => m[1]);
                expect.soft(errs.map((e) => /<Key>([^<]*)<\/Key>/.exec(e)?.[1]).sort()).toEqual([MISSING, ONE, TWO]);
                expect
                  .soft(errs.map((e) => /<Code>([^<]*)<\/Code>/.exec(e)?.[1]))
                  .toEqual(['AccessDenied', 'AccessDenied', 'AccessDenied']);
                // The missing key's entry is the existing keys' entry with another name.
                const strip = (e: string) => e.replace(/<Key>[^<]*<\/Key>/, '');
                expect.soft(new Set(errs.map(strip)).size, 'per-key errors are alike for existing and missing keys').toBe(1);
              },
            };
      return [
        { label: 'two existing keys and a missing one', method: 'POST', path: `/${BUCKET}?delete`, ...xml(body), expect: expectation },
      ];
    },
  };

  // ---------------------------------------------------------------- the state the matrix must not change

  async function snapshot() {
    const objects = [];
    const listed = await a.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    for (const o of listed.Contents ?? []) {
      const get = await a.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
      const bytes = Buffer.from(await get.Body!.transformToByteArray());
      const tags = (await a.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: o.Key }))).TagSet;
      const acl = (await a.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: o.Key }))).Grants?.map(
        (g) => `${g.Permission}:${g.Grantee?.URI ?? g.Grantee?.ID}`,
      );
      objects.push({
        key: o.Key,
        size: o.Size,
        etag: o.ETag,
        sha256: sha256hex(bytes),
        contentType: get.ContentType,
        metadata: get.Metadata,
        tags,
        acl,
      });
    }
    const uploads = ((await a.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).map(
      (u) => `${u.Key} ${u.UploadId}`,
    );
    const parts = ((await a.send(new ListPartsCommand({ Bucket: BUCKET, Key: BIG, UploadId: uploadId }))).Parts ?? []).map((p) => ({
      n: p.PartNumber,
      etag: p.ETag,
      size: p.Size,
    }));
    const scopedParts =
      (await a.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'other/copy-upload.bin', UploadId: uploadScoped }))).Parts ?? [];
    const bucketAcl = (await a.send(new GetBucketAclCommand({ Bucket: BUCKET }))).Grants?.map(
      (g) => `${g.Permission}:${g.Grantee?.URI ?? g.Grantee?.ID}`,
    );
    const bucketTags = (await a.send(new GetBucketTaggingCommand({ Bucket: BUCKET }))).TagSet;
    const cors = (await a.send(new GetBucketCorsCommand({ Bucket: BUCKET }))).CORSRules;
    const policy = (await s3Error(a.send(new GetBucketPolicyCommand({ Bucket: BUCKET })))).name;
    const aBuckets = ((await a.send(new ListBucketsCommand({}))).Buckets ?? []).map((x) => x.Name);
    const bObjects = ((await b.send(new ListObjectsV2Command({ Bucket: 'bucket-b' }))).Contents ?? []).map((o) => `${o.Key} ${o.ETag}`);
    const bParts = (await b.send(new ListPartsCommand({ Bucket: 'bucket-b', Key: 'b-upload.bin', UploadId: uploadB }))).Parts ?? [];
    const bBuckets = ((await b.send(new ListBucketsCommand({}))).Buckets ?? []).map((x) => x.Name);
    const strayBuckets = [];
    for (const name of ['iso-scoped-new', 'iso-anon-new']) if (await t.anvil.services.buckets.get(name)) strayBuckets.push(name);
    return {
      objects,
      uploads,
      parts,
      scopedParts,
      bucketAcl,
      bucketTags,
      cors,
      policy,
      aBuckets,
      bObjects,
      bParts,
      bBuckets,
      strayBuckets,
    };
  }

  // ---------------------------------------------------------------- the tests

  it('has a request builder for every operation in OPERATION_ACCESS, and none for operations it lacks', () => {
    const ops = Object.keys(OPERATION_ACCESS);
    expect(ops.length).toBeGreaterThan(0);
    expect(
      ops.filter((op) => !BUILDERS[op]),
      'operations without a request builder',
    ).toEqual([]);
    expect(
      Object.keys(BUILDERS).filter((op) => !(op in OPERATION_ACCESS)),
      'builders for operations not in the table',
    ).toEqual([]);
  });

  it('starts from the intended state', () => {
    const s = baseline as Awaited<ReturnType<typeof snapshot>>;
    expect(s.objects.map((o) => [o.key, o.size, o.etag])).toEqual([
      [ONE, ONE_BODY.length, `"${md5hex(ONE_BODY)}"`],
      [TWO, TWO_BODY.length, `"${md5hex(TWO_BODY)}"`],
    ]);
    expect(s.uploads).toEqual([`other/copy-upload.bin ${uploadScoped}`, `${BIG} ${uploadId}`]);
    expect(s.parts).toEqual([{ n: 1, etag: partEtag, size: PART_BODY.length }]);
    expect(s.policy).toBe('NoSuchBucketPolicy');
    expect(s.bucketAcl).toHaveLength(1);
    expect(s.strayBuckets).toEqual([]);
  });

  describe('the matrix', () => {
    for (const op of Object.keys(OPERATION_ACCESS)) {
      for (const who of CALLERS) {
        it(`${op} by ${who}`, async () => {
          await runProbes(op, who);
        });
      }
    }
  });

  it('answers alike for existing and missing keys (GET, HEAD, GetObjectTagging, GetObjectAttributes, GetObjectAcl)', async () => {
    for (const op of ['GetObject', 'HeadObject', 'GetObjectTagging', 'GetObjectAttributes', 'GetObjectAcl']) {
      for (const who of CALLERS) {
        const out = await runProbes(op, who);
        const existing = out.find((x) => x.probe.label === 'existing key')!;
        const missing = out.find((x) => x.probe.label === 'missing key')!;
        expect(existing.res.status, `${op} by ${who}`).toBe(403);
        expect(shape(missing.res), `${op} by ${who}: missing vs existing`).toEqual(shape(existing.res));
      }
    }
  });

  it("refuses copies out of A's private objects, whether the source exists or not", async () => {
    for (const op of ['CopyObject', 'UploadPartCopy']) {
      for (const who of CALLERS) {
        const out = (await runProbes(op, who)).filter((x) => x.probe.same === 'source');
        expect(out, `${op} by ${who}`).toHaveLength(2);
        for (const x of out) expect([x.res.status, x.res.code], `${op} by ${who}: ${x.probe.label}`).toEqual([403, 'AccessDenied']);
        expect(shape(out[1].res)).toEqual(shape(out[0].res));
      }
    }
  });

  it('refuses multipart listings (ListMultipartUploads, ListParts) to every caller', async () => {
    for (const who of CALLERS) {
      for (const x of [...(await runProbes('ListMultipartUploads', who)), ...(await runProbes('ListParts', who))]) {
        expect([x.res.status, x.res.code], `${who}: ${x.probe.label}`).toEqual([403, 'AccessDenied']);
        expect(x.res.text).not.toContain('<Upload>');
        expect(x.res.text).not.toContain('<Part>');
      }
    }
  });

  it("does not let a caller use A's upload id under a key it may write (scoped: shared-a/other/, B: bucket-b)", async () => {
    for (const [who, at] of [
      ['scoped', (id: string, q = '') => obj('other/big.bin', `?${q}uploadId=${id}`)],
      ['B', (id: string, q = '') => `/bucket-b/secret/big.bin?${q}uploadId=${id}`],
    ] as const) {
      for (const [method, q, body] of [
        ['GET', '', undefined],
        ['PUT', 'partNumber=2&', 'pwned part'],
        ['POST', '', `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${partEtag}</ETag></Part></CompleteMultipartUpload>`],
        ['DELETE', '', undefined],
      ] as const) {
        const real = await send(caller(who), { label: 'real', method, path: at(uploadId, q), body });
        const bogus = await send(caller(who), { label: 'bogus', method, path: at(BOGUS_UPLOAD, q), body });
        expect([real.status, real.code], `${who} ${method} with A's real upload id: ${real.text}`).toEqual([404, 'NoSuchUpload']);
        expect(shape(real), `${who} ${method}: real vs bogus upload id`).toEqual(shape(bogus));
        expect(real.text).not.toContain(PART_BODY.length.toString());
      }
    }
  });

  it("leaves A's data exactly as it was: objects, bytes, tags, ACLs, bucket settings, the upload and its part", async () => {
    const after = await snapshot();
    expect(after).toEqual(baseline);
    const get = await a.send(new GetObjectCommand({ Bucket: BUCKET, Key: ONE }));
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(ONE_BODY)).toBe(true);
    expect((await a.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: ONE }))).TagSet).toEqual([
      { Key: 'class', Value: 'classified-tag-one' },
    ]);
    expect((await a.send(new ListPartsCommand({ Bucket: BUCKET, Key: BIG, UploadId: uploadId }))).Parts?.map((p) => p.ETag)).toEqual([
      partEtag,
    ]);
  });

  // ---------------------------------------------------------------- what scoped keys may do

  describe('scoped keys, positive side', () => {
    const key = (policies: PolicyStatement[]) => t.anvil.services.tenants.createKey('tenant-a', { policies });

    it('the prefix-scoped key may PUT, GET, list and DELETE inside shared-a/other/', async () => {
      const s = t.client(creds.scoped);
      await s.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'other/note.txt', Body: 'scoped note' }));
      const got = await s.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'other/note.txt' }));
      expect(await got.Body!.transformToString()).toBe('scoped note');
      const listed = await s.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'other/' }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['other/note.txt']);
      // Markers and delimiters cannot move a listing out of its prefix.
      for (const q of [
        '&start-after=a',
        '&delimiter=%2F',
        '&start-after=other%2F',
        '&continuation-token=' + Buffer.from('1:a').toString('base64url'),
      ]) {
        const r = await send(caller('scoped'), { label: q, method: 'GET', path: `/${BUCKET}?list-type=2&prefix=other%2F${q}` });
        expect(r.status, `${q}: ${r.text}`).toBe(200);
        expect(leaked('scoped', { label: q, method: 'GET', path: '/' }, r), q).toEqual([]);
        expect(
          [...r.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]),
          q,
        ).toEqual(['other/note.txt']);
      }
      const v1 = await send(caller('scoped'), { label: 'v1 marker', method: 'GET', path: `/${BUCKET}?prefix=other%2F&marker=a` });
      expect([...v1.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])).toEqual(['other/note.txt']);
      const uploads = await send(caller('scoped'), {
        label: 'uploads',
        method: 'GET',
        path: `/${BUCKET}?uploads&prefix=other%2F&key-marker=a`,
      });
      expect(uploads.status, uploads.text).toBe(200);
      expect([...uploads.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])).toEqual(['other/copy-upload.bin']);
      expect(leaked('scoped', { label: 'uploads', method: 'GET', path: '/' }, uploads)).toEqual([]);
      await s.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'other/note.txt' }));
      // It may list there, so a missing key is honestly missing.
      expect((await s3Error(s.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'other/note.txt' })))).name).toBe('NoSuchKey');
    });

    it('the prefix-scoped key may not list the whole bucket nor secret/', async () => {
      const scoped = caller('scoped');
      for (const path of [
        `/${BUCKET}?list-type=2`,
        `/${BUCKET}?list-type=2&prefix=secret%2F`,
        `/${BUCKET}?list-type=2&prefix=oth`,
        `/${BUCKET}`,
      ]) {
        const r = await send(scoped, { label: path, method: 'GET', path });
        expect([r.status, r.code], path).toEqual([403, 'AccessDenied']);
        expect(r.text).not.toContain('secret/');
      }
    });

    it('a key without admin cannot make objects public through the ACL of a write (PutObjectAcl needs admin)', async () => {
      // S3 requires s3:PutObjectAcl for x-amz-acl on PutObject, CopyObject, CreateMultipartUpload and
      // the acl field of a POST form; Anvil's table puts PutObjectAcl under `admin`. A key that may only
      // write must therefore not be able to publish an object by naming public-read while writing it.
      const k = await key([{ effect: 'allow', actions: ['read', 'list', 'write', 'delete'], resources: ['shared-a/other/*'] }]);
      const who = { name: 'scoped' as const, creds: k };
      await t.client(k).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'other/base.txt', Body: 'base' }));
      const control = await send(who, {
        label: 'PutObjectAcl',
        method: 'PUT',
        path: obj('other/base.txt', '?acl'),
        headers: { 'x-amz-acl': 'public-read' },
      });
      expect([control.status, control.code], 'PutObjectAcl without admin').toEqual([403, 'AccessDenied']);

      const attempts: Array<[string, Probe, string]> = [
        [
          'PutObject',
          { label: 'put', method: 'PUT', path: obj('other/pub-put.txt'), body: 'published?', headers: { 'x-amz-acl': 'public-read' } },
          'other/pub-put.txt',
        ],
        [
          'CopyObject',
          {
            label: 'copy',
            method: 'PUT',
            path: obj('other/pub-copy.txt'),
            headers: { 'x-amz-copy-source': `/${BUCKET}/other/base.txt`, 'x-amz-acl': 'public-read' },
          },
          'other/pub-copy.txt',
        ],
        [
          'PostObject',
          {
            label: 'post',
            method: 'POST',
            path: `/${BUCKET}`,
            form: {
              fields: signedForm(k, [{ bucket: BUCKET }, ['starts-with', '$key', 'other/'], { acl: 'public-read' }], {
                key: 'other/pub-post.txt',
                acl: 'public-read',
              }),
              file: 'published?',
              filename: 'x.txt',
            },
          },
          'other/pub-post.txt',
        ],
        [
          'CreateMultipartUpload',
          { label: 'mpu', method: 'POST', path: obj('other/pub-mpu.bin', '?uploads'), headers: { 'x-amz-acl': 'public-read' } },
          'other/pub-mpu.bin',
        ],
      ];
      for (const [op, probe, target] of attempts) {
        expect(routeOf(probe)).toBe(op);
        const r = await send(who, probe);
        expect
          .soft([r.status, r.code], `${op} with x-amz-acl public-read by a key without admin: ${r.text}`)
          .toEqual([403, 'AccessDenied']);
        if (op === 'CreateMultipartUpload' && r.status === 200) {
          const id = /<UploadId>([^<]*)<\/UploadId>/.exec(r.text)![1];
          const c = t.client(k);
          const part = await c.send(
            new UploadPartCommand({ Bucket: BUCKET, Key: target, UploadId: id, PartNumber: 1, Body: 'published?' }),
          );
          await c.send(
            new CompleteMultipartUploadCommand({
              Bucket: BUCKET,
              Key: target,
              UploadId: id,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
            }),
          );
        }
        const anon = await fetch(`${t.endpoint}/${BUCKET}/${target}`);
        expect.soft(anon.status, `anonymous GET of ${target} written by ${op} with x-amz-acl public-read`).toBe(403);
      }
      for (const target of ['other/base.txt', ...attempts.map((x) => x[2])])
        await a.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: target }));
    });

    it('an explicit deny wins: read on shared-a/* but not shared-a/secret/*', async () => {
      await a.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public.txt', Body: 'for everyone in A' }));
      const k = await key([
        { effect: 'allow', actions: ['read'], resources: ['shared-a/*'] },
        { effect: 'deny', actions: ['read'], resources: ['shared-a/secret/*'] },
      ]);
      const c = t.client(k);
      const got = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public.txt' }));
      expect(await got.Body!.transformToString()).toBe('for everyone in A');
      const who = { name: 'scoped' as const, creds: k };
      const existing = await send(who, { label: 'denied', method: 'GET', path: obj(ONE) });
      const missing = await send(who, { label: 'denied, missing', method: 'GET', path: obj(MISSING) });
      expect([existing.status, existing.code]).toEqual([403, 'AccessDenied']);
      expect(shape(missing)).toEqual(shape(existing));
      expect(existing.text).not.toContain('S3CR3T');
      await a.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'public.txt' }));
    });

    it("a deny of list on shared-a/secret/* refuses listings that could show it, and allows 'other/'", async () => {
      const k = await key([
        { effect: 'allow', actions: ['list'], resources: ['shared-a/*'] },
        { effect: 'deny', actions: ['list'], resources: ['shared-a/secret/*'] },
      ]);
      const who = { name: 'scoped' as const, creds: k };
      for (const prefix of ['', 'secret/', 'sec']) {
        const r = await send(who, { label: prefix, method: 'GET', path: `/${BUCKET}?list-type=2&prefix=${encodeURIComponent(prefix)}` });
        expect([r.status, r.code], `prefix '${prefix}'`).toEqual([403, 'AccessDenied']);
        expect(r.text).not.toContain('one.txt');
      }
      const ok = await send(who, { label: 'other/', method: 'GET', path: `/${BUCKET}?list-type=2&prefix=other%2F` });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.text).not.toContain('secret/');
    });
  });
});
