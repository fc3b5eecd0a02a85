/**
 * CORS: bucket configuration (Put/Get/DeleteBucketCors), OPTIONS preflight,
 * and the Access-Control-* headers on real requests, so a page on another
 * origin can upload straight to a bucket.
 */
import type { Bucket } from '../../core/buckets.js';
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors, S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXml } from '../xml.js';
import { requireBucket } from './access.js';

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

const METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
const MAX_RULES = 100;

function strings(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw errors.malformedXML();
  return (v as string[]).map((s) => s.trim());
}

export function parseCorsConfiguration(xml: Buffer | string): CorsRule[] {
  const doc = parseXml(xml);
  const conf = doc.CORSConfiguration as { CORSRule?: Array<Record<string, unknown>> } | undefined;
  if (!conf || typeof conf !== 'object' || !Array.isArray(conf.CORSRule) || conf.CORSRule.length === 0) throw errors.malformedXML();
  if (conf.CORSRule.length > MAX_RULES) throw errors.invalidRequest(`A CORS configuration may hold at most ${MAX_RULES} rules`);
  return conf.CORSRule.map((rule) => {
    const r: CorsRule = {
      id: typeof rule.ID === 'string' ? rule.ID : undefined,
      allowedOrigins: strings(rule.AllowedOrigin),
      allowedMethods: strings(rule.AllowedMethod),
      allowedHeaders: strings(rule.AllowedHeader).map((h) => h.toLowerCase()),
      exposeHeaders: strings(rule.ExposeHeader),
      maxAgeSeconds: rule.MaxAgeSeconds === undefined ? undefined : Number(rule.MaxAgeSeconds),
    };
    if (r.allowedOrigins.length === 0 || r.allowedMethods.length === 0) throw errors.malformedXML();
    for (const m of r.allowedMethods) {
      if (!METHODS.has(m)) throw errors.invalidRequest(`Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
    }
    for (const o of r.allowedOrigins) {
      if (o.split('*').length > 2) throw errors.invalidRequest(`AllowedOrigin "${o}" can not have more than one wildcard.`);
    }
    if (r.maxAgeSeconds !== undefined && !Number.isInteger(r.maxAgeSeconds)) throw errors.malformedXML();
    return r;
  });
}

/** S3's CORS globs: at most one `*`, matching any run of characters. */
function globMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

function findRule(rules: CorsRule[], origin: string, method: string, requestHeaders: string[]): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((o) => globMatch(o, origin)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((a) => globMatch(a, h))),
  );
}

function rulesOf(bucket: Bucket): CorsRule[] {
  return bucket.cors ? (JSON.parse(bucket.cors) as CorsRule[]) : [];
}

function allowOrigin(rule: CorsRule, origin: string): string {
  return rule.allowedOrigins.includes('*') ? '*' : origin;
}

/** Headers for a real (non-preflight) cross-origin request, when a rule allows it. */
export function corsResponseHeaders(bucket: Bucket, origin: string, method: string): Record<string, string> {
  const rule = findRule(rulesOf(bucket), origin, method, []);
  if (!rule) return {};
  const out: Record<string, string> = {
    'Access-Control-Allow-Origin': allowOrigin(rule, origin),
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    Vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (rule.exposeHeaders.length) out['Access-Control-Expose-Headers'] = rule.exposeHeaders.join(', ');
  if (out['Access-Control-Allow-Origin'] !== '*') out['Access-Control-Allow-Credentials'] = 'true';
  return out;
}

const forbidden = () =>
  new S3Error(
    'AccessForbidden',
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    403,
    { Method: 'OPTIONS', ResourceType: 'OBJECT' },
  );

/** OPTIONS preflight: answered without authentication, from the bucket's rules alone. */
export async function preflight(r: S3Request): Promise<void> {
  const origin = header(r, 'origin');
  const method = header(r, 'access-control-request-method');
  if (!r.addr.bucket) throw errors.invalidRequest('Preflight requests must address a bucket');
  if (!origin) throw errors.invalidRequest('Insufficient information. Origin request header needed.');
  if (!method) throw errors.invalidRequest('Invalid Access-Control-Request-Method: null');
  const bucket = await r.services.buckets.get(r.addr.bucket);
  if (!bucket) throw errors.noSuchBucket(r.addr.bucket);
  const requested = (header(r, 'access-control-request-headers') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const rule = findRule(rulesOf(bucket), origin, method, requested);
  if (!rule) throw forbidden();
  const headers: Record<string, string> = {
    'Access-Control-Allow-Origin': allowOrigin(rule, origin),
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    Vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (requested.length) headers['Access-Control-Allow-Headers'] = requested.join(', ');
  if (rule.exposeHeaders.length) headers['Access-Control-Expose-Headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) headers['Access-Control-Max-Age'] = String(rule.maxAgeSeconds);
  if (headers['Access-Control-Allow-Origin'] !== '*') headers['Access-Control-Allow-Credentials'] = 'true';
  sendEmpty(r, 200, headers);
}

export async function putBucketCors(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const rules = parseCorsConfiguration(await readSmallBody(r));
  await r.services.buckets.setCors(bucket, rules);
  sendEmpty(r, 200);
}

export async function getBucketCors(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  if (!bucket.cors) {
    throw new S3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist', 404, { BucketName: bucket.name });
  }
  sendXml(r, 200, 'CORSConfiguration', {
    CORSRule: rulesOf(bucket).map((rule) => ({
      ID: rule.id,
      AllowedHeader: rule.allowedHeaders,
      AllowedMethod: rule.allowedMethods,
      AllowedOrigin: rule.allowedOrigins,
      ExposeHeader: rule.exposeHeaders,
      MaxAgeSeconds: rule.maxAgeSeconds,
    })),
  });
}

export async function deleteBucketCors(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await r.services.buckets.setCors(bucket, null);
  sendEmpty(r, 204);
}
