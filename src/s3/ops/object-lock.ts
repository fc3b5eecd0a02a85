/**
 * Object Lock on the wire: the x-amz-object-lock-* headers of writes, the
 * bucket's configuration (Get/PutObjectLockConfiguration) and a version's
 * retention and legal hold (Get/PutObjectRetention, Get/PutObjectLegalHold).
 * The rules (what may be shortened, who may bypass what) are core's
 * (core/objects/retention.ts, core/object-lock.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';

import type { Bucket } from '../../core/buckets.js';
import { type DefaultRetention, objectLockOf } from '../../core/object-lock.js';
import type { LockMode, VersionLock } from '../../core/objects.js';
import { readSmallBody } from '../body.js';
import { header, type S3Request } from '../context.js';
import { errors, S3Error } from '../errors.js';
import { sendEmpty, sendXml } from '../respond.js';
import { parseXml } from '../xml.js';
import { mayAccessKey, requireBucket } from './access.js';
import { readableVersion, requireIntegrityHeader, versionHeader, versionIdParam } from './versions.js';

function value(headers: IncomingHttpHeaders | Record<string, string>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** A retention mode in a header: InvalidArgument when unknown (as S3 answers). */
function parseMode(mode: unknown, what: string): LockMode {
  if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') throw errors.invalidArgument('Unknown wormMode directive.', what, String(mode));
  return mode;
}

/** A retention mode in an XML body: a value the schema does not allow is MalformedXML (as S3 answers). */
function parseBodyMode(mode: unknown): LockMode {
  if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') throw errors.malformedXML();
  return mode;
}

/** An ISO 8601 date-time with its zone (Z or an offset): one without would be read in the server's local time. */
function parseDate(text: string, what: string): number {
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text.trim()) || Number.isNaN(t))
    throw errors.invalidArgument('The retain until date must be an ISO 8601 date', what, text);
  return t;
}

/**
 * The protection a write asks for (PutObject, CopyObject, CreateMultipartUpload,
 * POST form fields lower-cased): undefined when it asks for none. Whether
 * the bucket allows it is core's decision.
 */
export function lockFromHeaders(headers: IncomingHttpHeaders | Record<string, string>): VersionLock | undefined {
  const mode = value(headers, 'x-amz-object-lock-mode');
  const until = value(headers, 'x-amz-object-lock-retain-until-date');
  const hold = value(headers, 'x-amz-object-lock-legal-hold');
  if (mode === undefined && until === undefined && hold === undefined) return undefined;
  if ((mode === undefined) !== (until === undefined)) {
    throw errors.invalidArgument(
      'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
      mode === undefined ? 'x-amz-object-lock-mode' : 'x-amz-object-lock-retain-until-date',
      '',
    );
  }
  if (hold !== undefined && hold !== 'ON' && hold !== 'OFF')
    throw errors.invalidArgument('Legal Hold must be either of on or off', 'x-amz-object-lock-legal-hold', hold);
  const lock: VersionLock = { legalHold: hold === 'ON' };
  if (mode !== undefined) {
    lock.mode = parseMode(mode, 'x-amz-object-lock-mode');
    lock.until = parseDate(until!, 'x-amz-object-lock-retain-until-date');
    if (lock.until <= Date.now())
      throw errors.invalidArgument('The retain until date must be in the future!', 'x-amz-object-lock-retain-until-date', until!);
  }
  return lock;
}

/**
 * Checks a write's lock headers before its body is received: the bucket
 * must have Object Lock. A body that will be stored under a retention
 * (asked for, or the bucket's default) needs an integrity header, as S3
 * requires (`needsIntegrity`: PutObject).
 */
export function lockForWrite(r: S3Request, bucket: Bucket, opts: { needsIntegrity: boolean }): VersionLock | undefined {
  const lock = lockFromHeaders(r.req.headers);
  if (lock) requireObjectLock(bucket);
  if (opts.needsIntegrity && (lock || objectLockOf(bucket)?.rule)) requireIntegrityHeader(r);
  return lock;
}

/**
 * Whether the caller asked to bypass GOVERNANCE retention and may (root, or
 * an admin right on the key). A caller without the right is not refused
 * for asking: the request goes on without the bypass, so it still deletes
 * what no retention protects, and core refuses what one does (403).
 */
export function bypassGovernance(r: S3Request, bucket: Bucket, key: string): boolean {
  if (header(r, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() !== 'true') return false;
  return mayAccessKey(r, bucket, 'admin', key);
}

function requireObjectLock(bucket: Bucket): void {
  if (!bucket.object_lock) throw errors.invalidRequest('Bucket is missing Object Lock Configuration');
}

export async function getObjectLockConfiguration(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const config = objectLockOf(bucket);
  if (!config) {
    throw new S3Error('ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket', 404, {
      BucketName: bucket.name,
    });
  }
  const rule = config.rule;
  sendXml(r, 200, 'ObjectLockConfiguration', {
    ObjectLockEnabled: 'Enabled',
    Rule: rule ? { DefaultRetention: { Mode: rule.mode, Days: rule.days, Years: rule.years } } : undefined,
  });
}

function positiveInt(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw errors.malformedXML();
  // An integer that is not positive (0, -1) is a bad period (InvalidArgument, from core); anything else is not a number.
  if (!/^-?\d+$/.test(String(v).trim())) throw errors.malformedXML();
  return Number(v);
}

export async function putObjectLockConfiguration(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  requireIntegrityHeader(r);
  const doc = parseXml(await readSmallBody(r));
  const conf = doc.ObjectLockConfiguration as Record<string, unknown> | undefined;
  if (!conf || typeof conf !== 'object') throw errors.malformedXML();
  if (conf.ObjectLockEnabled !== 'Enabled') throw errors.malformedXML();
  let rule: DefaultRetention | undefined;
  if (conf.Rule !== undefined) {
    const dr = (conf.Rule as Record<string, unknown> | undefined)?.DefaultRetention as Record<string, unknown> | undefined;
    if (!dr || typeof dr !== 'object') throw errors.malformedXML();
    // Exactly one period: both or neither is not a document S3's schema allows.
    if ((dr.Days === undefined) === (dr.Years === undefined)) throw errors.malformedXML();
    rule = { mode: parseBodyMode(dr.Mode), days: positiveInt(dr.Days), years: positiveInt(dr.Years) };
  }
  await r.services.buckets.setObjectLock(bucket, rule);
  sendEmpty(r, 200);
}

export async function getObjectRetention(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  requireObjectLock(bucket);
  // A delete marker has no protection: 404 when it is the key's latest, 405 when named (as GET answers).
  const v = await readableVersion(r, bucket, r.addr.key!);
  if (!v.lock.mode || v.lock.until === undefined) {
    throw new S3Error('NoSuchObjectLockConfiguration', 'The specified object does not have a ObjectLock configuration', 404);
  }
  sendXml(r, 200, 'Retention', { Mode: v.lock.mode, RetainUntilDate: new Date(v.lock.until).toISOString() }, versionHeader(bucket, v));
}

export async function putObjectRetention(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const key = r.addr.key!;
  const versionId = versionIdParam(r);
  requireIntegrityHeader(r);
  const doc = parseXml(await readSmallBody(r));
  const ret = doc.Retention as unknown;
  if (ret === undefined || (ret !== '' && (typeof ret !== 'object' || ret === null))) throw errors.malformedXML();
  const fields = ret === '' ? {} : (ret as Record<string, unknown>);
  const mode = fields.Mode;
  const until = fields.RetainUntilDate;
  if ((mode === undefined) !== (until === undefined)) throw errors.malformedXML();
  const wanted = mode === undefined ? {} : { mode: parseBodyMode(mode), until: parseDate(String(until), 'RetainUntilDate') };
  const v = await r.services.objects.setRetention(bucket, key, versionId, wanted, bypassGovernance(r, bucket, key));
  sendEmpty(r, 200, versionHeader(bucket, v));
}

export async function getObjectLegalHold(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  requireObjectLock(bucket);
  // A delete marker has no protection: 404 when it is the key's latest, 405 when named (as GET answers).
  const v = await readableVersion(r, bucket, r.addr.key!);
  sendXml(r, 200, 'LegalHold', { Status: v.lock.legalHold ? 'ON' : 'OFF' }, versionHeader(bucket, v));
}

export async function putObjectLegalHold(r: S3Request): Promise<void> {
  const bucket = await requireBucket(r);
  const versionId = versionIdParam(r);
  requireIntegrityHeader(r);
  const doc = parseXml(await readSmallBody(r));
  const status = (doc.LegalHold as Record<string, unknown> | undefined)?.Status;
  if (status !== 'ON' && status !== 'OFF') throw errors.malformedXML();
  // Anyone who may write the key may put a hold on; lifting one takes the right a GOVERNANCE bypass takes.
  if (status === 'OFF' && !mayAccessKey(r, bucket, 'admin', r.addr.key!)) throw errors.accessDenied();
  const v = await r.services.objects.setLegalHold(bucket, r.addr.key!, versionId, status === 'ON');
  sendEmpty(r, 200, versionHeader(bucket, v));
}
