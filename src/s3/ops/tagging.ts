/** Object and bucket tagging, with S3's limits on tag count and length. */
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors, S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXml } from '../xml.js';
import { requireBucket } from './access.js';
import { readableVersion, versionHeader, versionIdParam } from './versions.js';

const MAX_OBJECT_TAGS = 10;
const MAX_BUCKET_TAGS = 50;

const invalidTag = (msg: string) => new S3Error('InvalidTag', msg, 400);

export function validateTags(pairs: Array<[string, string]>, max: number): Record<string, string> {
  if (pairs.length > max) throw new S3Error('BadRequest', `Object tags cannot be greater than ${max}`, 400);
  const tags: Record<string, string> = {};
  for (const [k, v] of pairs) {
    if (k.length < 1 || k.length > 128) throw invalidTag('The TagKey you have provided is invalid');
    if (v.length > 256) throw invalidTag('The TagValue you have provided is invalid');
    if (k.toLowerCase().startsWith('aws:')) throw invalidTag('Your TagKey cannot be prefixed with aws:');
    if (k in tags) throw invalidTag('Cannot provide multiple Tags with the same key');
    tags[k] = v;
  }
  return tags;
}

/** x-amz-tagging: a URL query string of key=value pairs. */
export function tagsFromHeader(value: string | undefined): Record<string, string> {
  if (value === undefined || value === '') return {};
  return validateTags([...new URLSearchParams(value)], MAX_OBJECT_TAGS);
}

async function tagsFromBody(r: S3Request, max: number): Promise<Record<string, string>> {
  const doc = parseXml(await readSmallBody(r));
  const tagging = doc.Tagging as { TagSet?: { Tag?: Array<{ Key?: unknown; Value?: unknown }> } | string } | undefined;
  if (!tagging || typeof tagging !== 'object') throw errors.malformedXML();
  const set = tagging.TagSet;
  const list = set && typeof set === 'object' ? (set.Tag ?? []) : [];
  return validateTags(
    list.map((t) => {
      if (typeof t.Key !== 'string') throw errors.malformedXML();
      // A value holding markup (elements, processing instructions) is not text: never store it as ''.
      if (t.Value !== undefined && typeof t.Value !== 'string') throw errors.malformedXML();
      return [t.Key, t.Value ?? ''];
    }),
    max,
  );
}

function sendTags(r: S3Request, tags: Record<string, string>, headers: Record<string, string> = {}): void {
  sendXml(r, 200, 'Tagging', { TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }, headers);
}

export async function getObjectTagging(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const v = await readableVersion(r, bucket, r.addr.key!);
  sendTags(r, v.tags, versionHeader(bucket, v));
}

export async function putObjectTagging(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const versionId = versionIdParam(r);
  const tags = await tagsFromBody(r, MAX_OBJECT_TAGS);
  const v = await r.services.objects.setTags(bucket, r.addr.key!, tags, versionId);
  sendEmpty(r, 200, versionHeader(bucket, v));
}

export async function deleteObjectTagging(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const v = await r.services.objects.setTags(bucket, r.addr.key!, {}, versionIdParam(r));
  sendEmpty(r, 204, versionHeader(bucket, v));
}

export async function getBucketTagging(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  if (bucket.tags === null) {
    throw new S3Error('NoSuchTagSet', 'The TagSet does not exist', 404, { BucketName: bucket.name });
  }
  sendTags(r, JSON.parse(bucket.tags));
}

export async function putBucketTagging(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await r.services.buckets.setTags(bucket, await tagsFromBody(r, MAX_BUCKET_TAGS));
  sendEmpty(r, 204);
}

export async function deleteBucketTagging(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  await r.services.buckets.setTags(bucket, null);
  sendEmpty(r, 204);
}

/** x-amz-tagging-count on GET/HEAD when the object has tags. */
export function taggingCountHeader(tags: Record<string, string>): Record<string, string> {
  const n = Object.keys(tags).length;
  return n > 0 ? { 'x-amz-tagging-count': String(n) } : {};
}

export function taggingDirective(r: S3Request): 'COPY' | 'REPLACE' {
  const d = (header(r, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (d !== 'COPY' && d !== 'REPLACE') throw errors.invalidArgument('Unknown tagging directive.', 'x-amz-tagging-directive', d);
  return d;
}
