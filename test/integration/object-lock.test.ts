/**
 * Object Lock end to end (issue 14), on both engines: the bucket's
 * configuration and default retention, retention and legal hold per
 * version (on PUT, copy, multipart, and afterwards), and the protection
 * itself: a locked version cannot be removed by anyone (root, DeleteObjects,
 * the operator's forced bucket delete) until its retention ends and no
 * legal hold remains; GOVERNANCE yields only to a bypass by a caller with
 * the right to it.
 */
import { createHash } from 'node:crypto';

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
  type ObjectLockConfiguration,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';

import { ROOT_TENANT } from '../../src/core/tenants.js';
import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';
import { objectPath, send, sign, type WireResponse } from '../support/wire.js';

const LOCKED = 'locked'; // Object Lock, no default retention
const DEFAULTS = 'lock-defaults'; // Object Lock, default retentions set by the tests
const PLAIN = 'plain'; // no versioning, no lock
const DAY = 86_400_000;

/** A date `ms` from now, on a whole second (the wire format of the lock headers has seconds). */
const fromNow = (ms: number) => new Date(Math.ceil((Date.now() + ms) / 1000) * 1000);

const md5 = (body: string) => createHash('md5').update(body).digest('base64');
const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');

describeEachEngine('object lock', (engine) => {
  const t = useAnvil(engine, {
    buckets: [{ Bucket: LOCKED, ObjectLockEnabledForBucket: true }, { Bucket: DEFAULTS, ObjectLockEnabledForBucket: true }, PLAIN],
    // The forced bucket delete is a background task: let the worker pick it up promptly.
    start: { workerIntervalMs: 100 },
  });

  /** A key of the root tenant that may read, list, write and delete in LOCKED, but holds no admin right. */
  let scoped: S3Client;

  beforeAll(async () => {
    const k = await t.anvil.services.tenants.createKey(ROOT_TENANT, {
      policies: [{ effect: 'allow', actions: ['read', 'list', 'write', 'delete'], resources: [`${LOCKED}/*`] }],
    });
    scoped = t.client({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });
  });

  const head = (Bucket: string, Key: string, VersionId?: string) => t.s3.send(new HeadObjectCommand({ Bucket, Key, VersionId }));

  const lockOf = (h: Pick<HeadObjectCommandOutput, 'ObjectLockMode' | 'ObjectLockRetainUntilDate' | 'ObjectLockLegalHoldStatus'>) => ({
    mode: h.ObjectLockMode,
    until: h.ObjectLockRetainUntilDate?.getTime(),
    hold: h.ObjectLockLegalHoldStatus,
  });

  async function put(Bucket: string, Key: string, lock: { mode?: 'GOVERNANCE' | 'COMPLIANCE'; until?: Date; hold?: 'ON' | 'OFF' } = {}) {
    const res = await t.s3.send(
      new PutObjectCommand({
        Bucket,
        Key,
        Body: `body of ${Key}`,
        ObjectLockMode: lock.mode,
        ObjectLockRetainUntilDate: lock.until,
        ObjectLockLegalHoldStatus: lock.hold,
      }),
    );
    expect(res.VersionId).toMatch(/^[0-9a-f]{20}$/);
    return res.VersionId!;
  }

  async function bodyOf(Bucket: string, Key: string, VersionId?: string): Promise<string> {
    const res = await t.s3.send(new GetObjectCommand({ Bucket, Key, VersionId }));
    return res.Body!.transformToString();
  }

  const deleteVersion = (Key: string, VersionId: string, opts: { bypass?: boolean; client?: S3Client; bucket?: string } = {}) =>
    (opts.client ?? t.s3).send(
      new DeleteObjectCommand({ Bucket: opts.bucket ?? LOCKED, Key, VersionId, BypassGovernanceRetention: opts.bypass }),
    );

  async function refused(p: Promise<unknown>, status: number, name?: string): Promise<void> {
    const err = await s3Error(p);
    const got = { status: err.$metadata.httpStatusCode, name: name === undefined ? undefined : err.name };
    expect(got).toEqual({ status, name });
  }

  /** A hand-made request signed by the root key (for what the SDK always adds, such as a checksum). */
  async function raw(method: string, path: string, query: Record<string, string>, headers: Record<string, string>, body = '') {
    const signed = await sign(t, method, path, {
      query,
      headers: { 'content-length': String(Buffer.byteLength(body)), ...headers },
      payloadHash: sha256(body),
    });
    return send(t, method, signed.pathAndQuery, signed.headers, body);
  }
  const wire = (res: WireResponse) => ({ status: res.status, code: res.code });

  // ---------------------------------------------------------------- the bucket's configuration

  describe('bucket configuration', () => {
    it('CreateBucket with Object Lock enables versioning and answers the lock configuration; a bucket without answers 404', async () => {
      const v = await t.s3.send(new GetBucketVersioningCommand({ Bucket: LOCKED }));
      expect(v.Status).toBe('Enabled');
      const conf = await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: LOCKED }));
      expect(conf.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled' });
      await refused(t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: PLAIN })), 404, 'ObjectLockConfigurationNotFoundError');
      expect((await t.s3.send(new GetBucketVersioningCommand({ Bucket: PLAIN }))).Status).toBeUndefined();
    });

    it('PutObjectLockConfiguration sets a default retention (GOVERNANCE in days, COMPLIANCE in years) that new versions get', async () => {
      const setRule = async (rule: ObjectLockConfiguration['Rule']) => {
        await t.s3.send(
          new PutObjectLockConfigurationCommand({
            Bucket: DEFAULTS,
            ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: rule },
          }),
        );
        return (await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: DEFAULTS }))).ObjectLockConfiguration;
      };

      expect(await setRule({ DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } })).toEqual({
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
      });
      let before = Date.now();
      const gov = await put(DEFAULTS, 'gov-default');
      let after = Date.now();
      let h = await head(DEFAULTS, 'gov-default', gov);
      expect(h.ObjectLockMode).toBe('GOVERNANCE');
      // One day from the write (the header has whole seconds).
      expect(h.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThanOrEqual(Math.floor((before + DAY) / 1000) * 1000);
      expect(h.ObjectLockRetainUntilDate!.getTime()).toBeLessThanOrEqual(after + DAY);
      await refused(deleteVersion('gov-default', gov, { bucket: DEFAULTS }), 403, 'AccessDenied');

      expect(await setRule({ DefaultRetention: { Mode: 'COMPLIANCE', Years: 1 } })).toEqual({
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Years: 1 } },
      });
      before = Date.now();
      const comp = await put(DEFAULTS, 'comp-default');
      after = Date.now();
      h = await head(DEFAULTS, 'comp-default', comp);
      expect(h.ObjectLockMode).toBe('COMPLIANCE');
      const oneYear = (ms: number) => {
        const d = new Date(ms);
        d.setUTCFullYear(d.getUTCFullYear() + 1);
        return d.getTime();
      };
      expect(h.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThanOrEqual(Math.floor(oneYear(before) / 1000) * 1000);
      expect(h.ObjectLockRetainUntilDate!.getTime()).toBeLessThanOrEqual(oneYear(after));

      // A PUT that asks for its own retention gets it instead of the default; one that asks only a hold gets both.
      const until = fromNow(2 * DAY);
      const own = await put(DEFAULTS, 'own', { mode: 'GOVERNANCE', until });
      expect(lockOf(await head(DEFAULTS, 'own', own))).toEqual({ mode: 'GOVERNANCE', until: until.getTime(), hold: undefined });
      const held = await put(DEFAULTS, 'held', { hold: 'ON' });
      h = await head(DEFAULTS, 'held', held);
      expect({ mode: h.ObjectLockMode, hold: h.ObjectLockLegalHoldStatus }).toEqual({ mode: 'COMPLIANCE', hold: 'ON' });

      // A body stored under the default retention needs Content-MD5 or a checksum, as one asking for a retention does.
      const without = await raw('PUT', objectPath(DEFAULTS, 'raw-default'), {}, {}, 'raw');
      expect(wire(without)).toEqual({ status: 400, code: 'InvalidRequest' });
      await refused(head(DEFAULTS, 'raw-default'), 404);
      const withMd5 = await raw('PUT', objectPath(DEFAULTS, 'raw-default'), {}, { 'content-md5': md5('raw') }, 'raw');
      expect(wire(withMd5)).toEqual({ status: 200, code: undefined });
      expect((await head(DEFAULTS, 'raw-default')).ObjectLockMode).toBe('COMPLIANCE');

      // The configuration without a rule removes the default; lock stays enabled.
      expect(await setRule(undefined)).toEqual({ ObjectLockEnabled: 'Enabled' });
      const none = await put(DEFAULTS, 'no-default');
      expect(lockOf(await head(DEFAULTS, 'no-default', none))).toEqual({ mode: undefined, until: undefined, hold: undefined });
      // Without a default, a PUT asking for no protection needs no integrity header.
      expect(wire(await raw('PUT', objectPath(DEFAULTS, 'raw-none'), {}, {}, 'raw'))).toEqual({ status: 200, code: undefined });
      expect(lockOf(await head(DEFAULTS, 'raw-none'))).toEqual({ mode: undefined, until: undefined, hold: undefined });
    });

    it('PutObjectLockConfiguration needs Content-MD5 or a checksum', async () => {
      const xml =
        '<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled>' +
        '<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>3</Days></DefaultRetention></Rule></ObjectLockConfiguration>';
      const without = await raw('PUT', `/${LOCKED}`, { 'object-lock': '' }, { 'content-type': 'application/xml' }, xml);
      expect(wire(without)).toEqual({ status: 400, code: 'InvalidRequest' });
      expect((await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: LOCKED }))).ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
      });
      // A Content-MD5 that does not match the body is no integrity check: 400 BadDigest.
      const wrongMd5 = await raw(
        'PUT',
        `/${LOCKED}`,
        { 'object-lock': '' },
        { 'content-type': 'application/xml', 'content-md5': md5('other') },
        xml,
      );
      expect(wire(wrongMd5)).toEqual({ status: 400, code: 'BadDigest' });
      expect((await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: LOCKED }))).ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
      });
      // The same request with Content-MD5 is accepted (so only the missing header was refused).
      const withMd5 = await raw(
        'PUT',
        `/${LOCKED}`,
        { 'object-lock': '' },
        { 'content-type': 'application/xml', 'content-md5': md5(xml) },
        xml,
      );
      expect(wire(withMd5)).toEqual({ status: 200, code: undefined });
      expect((await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: LOCKED }))).ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 3 } },
      });
      // Back to no default: the tests below rely on versions without retention.
      await t.s3.send(new PutObjectLockConfigurationCommand({ Bucket: LOCKED, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
      expect((await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: LOCKED }))).ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
      });
    });

    it('refuses an invalid default retention with 400 and keeps the configuration', async () => {
      // The codes S3 (and Ceph's s3-tests) give: a document its schema does not allow is MalformedXML,
      // a period that is not positive InvalidArgument.
      const bad: Array<[ObjectLockConfiguration, string]> = [
        [{ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1, Years: 1 } } }, 'MalformedXML'],
        [{ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 0 } } }, 'InvalidArgument'],
        [{ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Years: -1 } } }, 'InvalidArgument'],
        [{ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE' } } }, 'MalformedXML'],
        [{ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Days: 1 } } }, 'MalformedXML'],
        [{ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'FOREVER' as 'GOVERNANCE', Days: 1 } } }, 'MalformedXML'],
        [{ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'governance' as 'GOVERNANCE', Days: 1 } } }, 'MalformedXML'],
        [{ Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } }, 'MalformedXML'],
      ];
      for (const [conf, code] of bad) {
        const err = await s3Error(t.s3.send(new PutObjectLockConfigurationCommand({ Bucket: LOCKED, ObjectLockConfiguration: conf })));
        expect({ conf, status: err.$metadata.httpStatusCode, code: err.name }).toEqual({ conf, status: 400, code });
      }
      expect((await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: LOCKED }))).ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
      });
    });

    it('needs versioning Enabled: 409 InvalidBucketState on an unversioned or suspended bucket; a versioning bucket may enable it later', async () => {
      const conf = { ObjectLockEnabled: 'Enabled' as const, Rule: { DefaultRetention: { Mode: 'GOVERNANCE' as const, Days: 1 } } };
      await refused(
        t.s3.send(new PutObjectLockConfigurationCommand({ Bucket: PLAIN, ObjectLockConfiguration: conf })),
        409,
        'InvalidBucketState',
      );
      await refused(t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: PLAIN })), 404, 'ObjectLockConfigurationNotFoundError');

      await t.s3.send(new CreateBucketCommand({ Bucket: 'suspended' }));
      await t.s3.send(new PutBucketVersioningCommand({ Bucket: 'suspended', VersioningConfiguration: { Status: 'Suspended' } }));
      await refused(
        t.s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'suspended', ObjectLockConfiguration: conf })),
        409,
        'InvalidBucketState',
      );
      await refused(t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'suspended' })), 404, 'ObjectLockConfigurationNotFoundError');

      await t.s3.send(new CreateBucketCommand({ Bucket: 'later-lock' }));
      await t.s3.send(new PutBucketVersioningCommand({ Bucket: 'later-lock', VersioningConfiguration: { Status: 'Enabled' } }));
      await t.s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'later-lock', ObjectLockConfiguration: conf }));
      expect((await t.s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'later-lock' }))).ObjectLockConfiguration).toEqual(conf);
    });

    it('a bucket with Object Lock cannot suspend versioning (409 InvalidBucketState)', async () => {
      await refused(
        t.s3.send(new PutBucketVersioningCommand({ Bucket: LOCKED, VersioningConfiguration: { Status: 'Suspended' } })),
        409,
        'InvalidBucketState',
      );
      expect((await t.s3.send(new GetBucketVersioningCommand({ Bucket: LOCKED }))).Status).toBe('Enabled');
    });
  });

  // ---------------------------------------------------------------- writes that ask for protection

  describe('writes', () => {
    it('PUT with a mode, a retain-until date and a legal hold: HEAD and GET show them', async () => {
      const until = fromNow(DAY);
      const id = await put(LOCKED, 'worm', { mode: 'GOVERNANCE', until, hold: 'ON' });
      const want = { mode: 'GOVERNANCE', until: until.getTime(), hold: 'ON' };
      expect(lockOf(await head(LOCKED, 'worm'))).toEqual(want);
      expect(lockOf(await head(LOCKED, 'worm', id))).toEqual(want);
      const got = await t.s3.send(new GetObjectCommand({ Bucket: LOCKED, Key: 'worm', VersionId: id }));
      expect(lockOf(got)).toEqual(want);
      expect(await got.Body!.transformToString()).toBe('body of worm');
      expect((await t.s3.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key: 'worm', VersionId: id }))).Retention).toEqual({
        Mode: 'GOVERNANCE',
        RetainUntilDate: until,
      });
      expect((await t.s3.send(new GetObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'worm', VersionId: id }))).LegalHold).toEqual({
        Status: 'ON',
      });
      // (Lifted so the suite leaves nothing it cannot explain; the retention still protects it.)
      await t.s3.send(new PutObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'worm', VersionId: id, LegalHold: { Status: 'OFF' } }));
      expect(lockOf(await head(LOCKED, 'worm', id))).toEqual({ ...want, hold: undefined });
    });

    it('refuses a mode without a date, a date without a mode, a date in the past and an unknown mode (400), writing nothing', async () => {
      const attempts: Array<{ mode?: 'GOVERNANCE' | 'COMPLIANCE'; until?: Date; hold?: 'ON' | 'OFF' }> = [
        { mode: 'COMPLIANCE' },
        { until: fromNow(DAY) },
        { mode: 'GOVERNANCE', until: new Date(Date.now() - 60_000) },
        { mode: 'FOREVER' as 'GOVERNANCE', until: fromNow(DAY) },
        { hold: 'MAYBE' as 'ON' },
      ];
      for (const lock of attempts) {
        const err = await s3Error(put(LOCKED, 'refused', lock));
        expect({ lock, status: err.$metadata.httpStatusCode }).toEqual({ lock, status: 400 });
      }
      await refused(head(LOCKED, 'refused'), 404);
      const versions = await t.s3.send(new ListObjectVersionsCommand({ Bucket: LOCKED, Prefix: 'refused' }));
      expect([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]).toEqual([]);
    });

    it('refuses lock headers on a bucket without Object Lock (400 InvalidRequest), writing nothing', async () => {
      const attempts: Array<{ mode?: 'GOVERNANCE' | 'COMPLIANCE'; until?: Date; hold?: 'ON' | 'OFF' }> = [
        { mode: 'COMPLIANCE', until: fromNow(DAY) },
        { mode: 'GOVERNANCE', until: fromNow(DAY) },
        { hold: 'ON' },
      ];
      for (const lock of attempts) {
        const err = await s3Error(
          t.s3.send(
            new PutObjectCommand({
              Bucket: PLAIN,
              Key: 'no-lock',
              Body: 'x',
              ObjectLockMode: lock.mode,
              ObjectLockRetainUntilDate: lock.until,
              ObjectLockLegalHoldStatus: lock.hold,
            }),
          ),
        );
        expect({ lock, status: err.$metadata.httpStatusCode, name: err.name }).toEqual({ lock, status: 400, name: 'InvalidRequest' });
      }
      await refused(head(PLAIN, 'no-lock'), 404);
      // Retention and legal hold of a version of such a bucket: 400 InvalidRequest too.
      await t.s3.send(new PutObjectCommand({ Bucket: PLAIN, Key: 'plain-object', Body: 'x' }));
      await refused(
        t.s3.send(
          new PutObjectRetentionCommand({
            Bucket: PLAIN,
            Key: 'plain-object',
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: fromNow(DAY) },
          }),
        ),
        400,
        'InvalidRequest',
      );
      await refused(
        t.s3.send(new PutObjectLegalHoldCommand({ Bucket: PLAIN, Key: 'plain-object', LegalHold: { Status: 'ON' } })),
        400,
        'InvalidRequest',
      );
      await refused(t.s3.send(new GetObjectRetentionCommand({ Bucket: PLAIN, Key: 'plain-object' })), 400, 'InvalidRequest');
      await refused(t.s3.send(new GetObjectLegalHoldCommand({ Bucket: PLAIN, Key: 'plain-object' })), 400, 'InvalidRequest');
      await refused(t.s3.send(new GetObjectRetentionCommand({ Bucket: PLAIN, Key: 'absent' })), 400, 'InvalidRequest');
      expect(lockOf(await head(PLAIN, 'plain-object'))).toEqual({ mode: undefined, until: undefined, hold: undefined });
    });

    it('a PUT with lock headers needs Content-MD5 or a checksum', async () => {
      const until = fromNow(DAY).toISOString();
      const lockHeaders = { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': until };
      const without = await raw('PUT', objectPath(LOCKED, 'raw-put'), {}, lockHeaders, 'raw');
      expect(wire(without)).toEqual({ status: 400, code: 'InvalidRequest' });
      await refused(head(LOCKED, 'raw-put'), 404);
      // A date without its zone (it would be read in the server's local time) or not ISO 8601: 400 InvalidArgument.
      for (const date of [until.replace(/\.\d+Z$/, ''), new Date(Date.parse(until)).toUTCString(), 'tomorrow']) {
        const res = await raw(
          'PUT',
          objectPath(LOCKED, 'raw-put'),
          {},
          { ...lockHeaders, 'x-amz-object-lock-retain-until-date': date, 'content-md5': md5('raw') },
          'raw',
        );
        expect({ date, ...wire(res) }).toEqual({ date, status: 400, code: 'InvalidArgument' });
      }
      await refused(head(LOCKED, 'raw-put'), 404);
      const withMd5 = await raw('PUT', objectPath(LOCKED, 'raw-put'), {}, { ...lockHeaders, 'content-md5': md5('raw') }, 'raw');
      expect(wire(withMd5)).toEqual({ status: 200, code: undefined });
      expect(lockOf(await head(LOCKED, 'raw-put'))).toEqual({ mode: 'GOVERNANCE', until: Date.parse(until), hold: undefined });
      // A date with an offset is the same instant in UTC.
      const offset = new Date(Date.parse(until) + 2 * 3_600_000).toISOString().replace(/\.\d+Z$/, '+02:00');
      const withOffset = await raw(
        'PUT',
        objectPath(LOCKED, 'raw-put-offset'),
        {},
        { ...lockHeaders, 'x-amz-object-lock-retain-until-date': offset, 'content-md5': md5('raw') },
        'raw',
      );
      expect(wire(withOffset)).toEqual({ status: 200, code: undefined });
      expect(lockOf(await head(LOCKED, 'raw-put-offset'))).toEqual({ mode: 'GOVERNANCE', until: Date.parse(until), hold: undefined });
    });

    it('CopyObject takes the lock the request asks for, not the source’s', async () => {
      const until = fromNow(DAY);
      await put(LOCKED, 'copy-src', { mode: 'COMPLIANCE', until, hold: 'ON' });
      const plain = await t.s3.send(new CopyObjectCommand({ Bucket: LOCKED, Key: 'copy-plain', CopySource: `${LOCKED}/copy-src` }));
      expect(lockOf(await head(LOCKED, 'copy-plain', plain.VersionId))).toEqual({ mode: undefined, until: undefined, hold: undefined });
      const later = fromNow(3 * DAY);
      const locked = await t.s3.send(
        new CopyObjectCommand({
          Bucket: LOCKED,
          Key: 'copy-locked',
          CopySource: `${LOCKED}/copy-src`,
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: later,
          ObjectLockLegalHoldStatus: 'ON',
        }),
      );
      expect(lockOf(await head(LOCKED, 'copy-locked', locked.VersionId))).toEqual({
        mode: 'GOVERNANCE',
        until: later.getTime(),
        hold: 'ON',
      });
      expect(await bodyOf(LOCKED, 'copy-locked', locked.VersionId)).toBe('body of copy-src');
      // Into a bucket without lock: 400 InvalidRequest, nothing written.
      await refused(
        t.s3.send(
          new CopyObjectCommand({
            Bucket: PLAIN,
            Key: 'copy-refused',
            CopySource: `${LOCKED}/copy-src`,
            ObjectLockMode: 'GOVERNANCE',
            ObjectLockRetainUntilDate: later,
          }),
        ),
        400,
        'InvalidRequest',
      );
      await refused(head(PLAIN, 'copy-refused'), 404);
    });

    it('CreateMultipartUpload with lock headers: the completed version carries them', async () => {
      const until = fromNow(2 * DAY);
      const { UploadId } = await t.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: LOCKED,
          Key: 'mpu',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: until,
          ObjectLockLegalHoldStatus: 'ON',
        }),
      );
      const part = await t.s3.send(new UploadPartCommand({ Bucket: LOCKED, Key: 'mpu', UploadId, PartNumber: 1, Body: 'one part' }));
      const done = await t.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: LOCKED,
          Key: 'mpu',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      expect(done.VersionId).toMatch(/^[0-9a-f]{20}$/);
      expect(lockOf(await head(LOCKED, 'mpu', done.VersionId))).toEqual({ mode: 'COMPLIANCE', until: until.getTime(), hold: 'ON' });
      await refused(deleteVersion('mpu', done.VersionId!, { bypass: true }), 403, 'AccessDenied');
      expect(await bodyOf(LOCKED, 'mpu', done.VersionId)).toBe('one part');
      // On a bucket without lock the upload is refused before it starts.
      await refused(
        t.s3.send(new CreateMultipartUploadCommand({ Bucket: PLAIN, Key: 'mpu', ObjectLockLegalHoldStatus: 'ON' })),
        400,
        'InvalidRequest',
      );
    });
  });

  // ---------------------------------------------------------------- what the protection refuses

  describe('deletes', () => {
    it('a COMPLIANCE version cannot be deleted by id, by root, with or without the bypass', async () => {
      const id = await put(LOCKED, 'compliance', { mode: 'COMPLIANCE', until: fromNow(DAY) });
      await refused(deleteVersion('compliance', id), 403, 'AccessDenied');
      await refused(deleteVersion('compliance', id, { bypass: true }), 403, 'AccessDenied');
      await refused(deleteVersion('compliance', id, { client: scoped }), 403, 'AccessDenied');
      expect(await bodyOf(LOCKED, 'compliance', id)).toBe('body of compliance');
    });

    it('a GOVERNANCE version: 403 without the bypass, 403 for a key without the admin right, deleted by root with it', async () => {
      const id = await put(LOCKED, 'governance', { mode: 'GOVERNANCE', until: fromNow(DAY) });
      await refused(deleteVersion('governance', id), 403, 'AccessDenied');
      await refused(deleteVersion('governance', id, { client: scoped }), 403, 'AccessDenied');
      await refused(deleteVersion('governance', id, { client: scoped, bypass: true }), 403, 'AccessDenied');
      expect(await bodyOf(LOCKED, 'governance', id)).toBe('body of governance');
      const res = await deleteVersion('governance', id, { bypass: true });
      expect(res.$metadata.httpStatusCode).toBe(204);
      expect(res.VersionId).toBe(id);
      await refused(head(LOCKED, 'governance', id), 404);
      // The scoped key does delete what nothing protects, even asking for a bypass it may not use
      // (so its refusals above were the lock's).
      const free = await put(LOCKED, 'governance-free');
      expect((await deleteVersion('governance-free', free, { client: scoped, bypass: true })).$metadata.httpStatusCode).toBe(204);
      await refused(head(LOCKED, 'governance-free', free), 404);
    });

    it('a legal hold blocks the delete even with the bypass; lifted, a version without retention deletes', async () => {
      const id = await put(LOCKED, 'hold', { hold: 'ON' });
      expect(lockOf(await head(LOCKED, 'hold', id))).toEqual({ mode: undefined, until: undefined, hold: 'ON' });
      await refused(deleteVersion('hold', id), 403, 'AccessDenied');
      await refused(deleteVersion('hold', id, { bypass: true }), 403, 'AccessDenied');
      const govHeld = await put(LOCKED, 'hold', { mode: 'GOVERNANCE', until: fromNow(DAY), hold: 'ON' });
      await refused(deleteVersion('hold', govHeld, { bypass: true }), 403, 'AccessDenied');

      await t.s3.send(new PutObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'hold', VersionId: id, LegalHold: { Status: 'OFF' } }));
      expect((await t.s3.send(new GetObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'hold', VersionId: id }))).LegalHold).toEqual({
        Status: 'OFF',
      });
      expect((await deleteVersion('hold', id)).$metadata.httpStatusCode).toBe(204);
      await refused(head(LOCKED, 'hold', id), 404);
      // The held GOVERNANCE version is still there, and with its hold lifted yields to the bypass.
      expect(await bodyOf(LOCKED, 'hold', govHeld)).toBe('body of hold');
      await t.s3.send(new PutObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'hold', VersionId: govHeld, LegalHold: { Status: 'OFF' } }));
      await refused(deleteVersion('hold', govHeld), 403, 'AccessDenied');
      await deleteVersion('hold', govHeld, { bypass: true });
      await refused(head(LOCKED, 'hold', govHeld), 404);
    });

    it('a DELETE without a version id makes a delete marker; the locked version stays readable by id', async () => {
      const id = await put(LOCKED, 'marked', { mode: 'COMPLIANCE', until: fromNow(DAY), hold: 'ON' });
      const del = await t.s3.send(new DeleteObjectCommand({ Bucket: LOCKED, Key: 'marked' }));
      expect(del.DeleteMarker).toBe(true);
      expect(del.VersionId).toMatch(/^[0-9a-f]{20}$/);
      expect(del.VersionId).not.toBe(id);
      await refused(t.s3.send(new GetObjectCommand({ Bucket: LOCKED, Key: 'marked' })), 404, 'NoSuchKey');
      expect(await bodyOf(LOCKED, 'marked', id)).toBe('body of marked');
      // The marker itself protects nothing: deleting it by id brings the version back.
      await deleteVersion('marked', del.VersionId!);
      expect(await bodyOf(LOCKED, 'marked')).toBe('body of marked');
    });

    it('DeleteObjects: locked versions answer AccessDenied per key while the others are deleted', async () => {
      const compliance = await put(LOCKED, 'batch/compliance', { mode: 'COMPLIANCE', until: fromNow(DAY) });
      const governance = await put(LOCKED, 'batch/governance', { mode: 'GOVERNANCE', until: fromNow(DAY) });
      const held = await put(LOCKED, 'batch/held', { hold: 'ON' });
      const free = await put(LOCKED, 'batch/free');
      const alsoFree = await put(LOCKED, 'batch/compliance');
      const res = await t.s3.send(
        new DeleteObjectsCommand({
          Bucket: LOCKED,
          Delete: {
            Objects: [
              { Key: 'batch/compliance', VersionId: compliance },
              { Key: 'batch/governance', VersionId: governance },
              { Key: 'batch/held', VersionId: held },
              { Key: 'batch/free', VersionId: free },
              { Key: 'batch/compliance', VersionId: alsoFree },
            ],
          },
        }),
      );
      const errs = (res.Errors ?? []).map((e) => [e.Key, e.VersionId, e.Code]).sort();
      expect(errs).toEqual(
        [
          ['batch/compliance', compliance, 'AccessDenied'],
          ['batch/governance', governance, 'AccessDenied'],
          ['batch/held', held, 'AccessDenied'],
        ].sort(),
      );
      expect((res.Deleted ?? []).map((d) => [d.Key, d.VersionId]).sort()).toEqual(
        [
          ['batch/free', free],
          ['batch/compliance', alsoFree],
        ].sort(),
      );
      const left = await t.s3.send(new ListObjectVersionsCommand({ Bucket: LOCKED, Prefix: 'batch/' }));
      expect((left.Versions ?? []).map((v) => [v.Key, v.VersionId]).sort()).toEqual(
        [
          ['batch/compliance', compliance],
          ['batch/governance', governance],
          ['batch/held', held],
        ].sort(),
      );
      expect(left.DeleteMarkers ?? []).toEqual([]);

      // With the bypass, root deletes the GOVERNANCE version; the COMPLIANCE one and the held one stay.
      const bypassed = await t.s3.send(
        new DeleteObjectsCommand({
          Bucket: LOCKED,
          BypassGovernanceRetention: true,
          Delete: {
            Objects: [
              { Key: 'batch/compliance', VersionId: compliance },
              { Key: 'batch/governance', VersionId: governance },
              { Key: 'batch/held', VersionId: held },
            ],
          },
        }),
      );
      expect((bypassed.Errors ?? []).map((e) => [e.Key, e.Code]).sort()).toEqual([
        ['batch/compliance', 'AccessDenied'],
        ['batch/held', 'AccessDenied'],
      ]);
      expect((bypassed.Deleted ?? []).map((d) => [d.Key, d.VersionId])).toEqual([['batch/governance', governance]]);
    });

    it('a version whose retain-until date has passed can be deleted', async () => {
      const until = fromNow(2500);
      const id = await put(LOCKED, 'expiring', { mode: 'COMPLIANCE', until });
      // (Refused while the date is ahead, unless the machine was too slow to ask in time.)
      const early = await deleteVersion('expiring', id).then(
        () => 'deleted',
        (err: { name?: string }) => err.name,
      );
      if (Date.now() < until.getTime() - 200) expect(early).toBe('AccessDenied');
      while (Date.now() <= until.getTime() + 50) await new Promise((r) => setTimeout(r, 100));
      if (early !== 'deleted') expect((await deleteVersion('expiring', id)).$metadata.httpStatusCode).toBe(204);
      await refused(head(LOCKED, 'expiring', id), 404);
    });
  });

  // ---------------------------------------------------------------- retention and legal hold afterwards

  describe('PutObjectRetention and PutObjectLegalHold', () => {
    const retain = (
      Key: string,
      VersionId: string,
      Retention: { Mode?: 'GOVERNANCE' | 'COMPLIANCE'; RetainUntilDate?: Date },
      bypass?: boolean,
    ) => t.s3.send(new PutObjectRetentionCommand({ Bucket: LOCKED, Key, VersionId, Retention, BypassGovernanceRetention: bypass }));
    const retentionOf = async (Key: string, VersionId: string) =>
      (await t.s3.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key, VersionId }))).Retention;

    it('COMPLIANCE can be lengthened, never shortened, weakened to GOVERNANCE or removed, by anyone', async () => {
      const first = fromNow(DAY);
      const id = await put(LOCKED, 'ret-c', { mode: 'COMPLIANCE', until: first });
      const longer = fromNow(2 * DAY);
      await retain('ret-c', id, { Mode: 'COMPLIANCE', RetainUntilDate: longer });
      expect(await retentionOf('ret-c', id)).toEqual({ Mode: 'COMPLIANCE', RetainUntilDate: longer });

      const shorter = new Date(longer.getTime() - 3_600_000);
      await refused(retain('ret-c', id, { Mode: 'COMPLIANCE', RetainUntilDate: shorter }), 403, 'AccessDenied');
      await refused(retain('ret-c', id, { Mode: 'COMPLIANCE', RetainUntilDate: shorter }, true), 403, 'AccessDenied');
      await refused(retain('ret-c', id, { Mode: 'GOVERNANCE', RetainUntilDate: longer }), 403, 'AccessDenied');
      await refused(retain('ret-c', id, { Mode: 'GOVERNANCE', RetainUntilDate: fromNow(3 * DAY) }, true), 403, 'AccessDenied');
      await refused(retain('ret-c', id, {}, true), 403, 'AccessDenied');
      expect(await retentionOf('ret-c', id)).toEqual({ Mode: 'COMPLIANCE', RetainUntilDate: longer });
      expect(lockOf(await head(LOCKED, 'ret-c', id))).toEqual({ mode: 'COMPLIANCE', until: longer.getTime(), hold: undefined });
    });

    it('GOVERNANCE is lengthened freely, shortened, removed or made COMPLIANCE only with the bypass (and its right)', async () => {
      const until = fromNow(2 * DAY);
      const id = await put(LOCKED, 'ret-g', { mode: 'GOVERNANCE', until });
      const longer = fromNow(3 * DAY);
      await retain('ret-g', id, { Mode: 'GOVERNANCE', RetainUntilDate: longer });
      expect(await retentionOf('ret-g', id)).toEqual({ Mode: 'GOVERNANCE', RetainUntilDate: longer });

      const shorter = fromNow(DAY);
      const shorten = (client: S3Client, bypass?: boolean) =>
        client.send(
          new PutObjectRetentionCommand({
            Bucket: LOCKED,
            Key: 'ret-g',
            VersionId: id,
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: shorter },
            BypassGovernanceRetention: bypass,
          }),
        );
      await refused(shorten(t.s3), 403, 'AccessDenied');
      await refused(shorten(scoped, true), 403, 'AccessDenied');
      await refused(retain('ret-g', id, {}), 403, 'AccessDenied');
      expect(await retentionOf('ret-g', id)).toEqual({ Mode: 'GOVERNANCE', RetainUntilDate: longer });

      await shorten(t.s3, true);
      expect(await retentionOf('ret-g', id)).toEqual({ Mode: 'GOVERNANCE', RetainUntilDate: shorter });
      await retain('ret-g', id, {}, true);
      await refused(retentionOf('ret-g', id), 404, 'NoSuchObjectLockConfiguration');
      expect(lockOf(await head(LOCKED, 'ret-g', id))).toEqual({ mode: undefined, until: undefined, hold: undefined });

      // Protected again, then made COMPLIANCE: a change of mode needs the bypass too (as on RGW and MinIO);
      // from then on nothing shortens it.
      await retain('ret-g', id, { Mode: 'GOVERNANCE', RetainUntilDate: until });
      await refused(retain('ret-g', id, { Mode: 'COMPLIANCE', RetainUntilDate: until }), 403, 'AccessDenied');
      await retain('ret-g', id, { Mode: 'COMPLIANCE', RetainUntilDate: until }, true);
      expect(await retentionOf('ret-g', id)).toEqual({ Mode: 'COMPLIANCE', RetainUntilDate: until });
      await refused(retain('ret-g', id, {}, true), 403, 'AccessDenied');
      await refused(deleteVersion('ret-g', id, { bypass: true }), 403, 'AccessDenied');
    });

    it('a version without retention: GetObjectRetention 404, legal hold OFF; a retention date in the past is refused', async () => {
      const id = await put(LOCKED, 'ret-none');
      await refused(retentionOf('ret-none', id), 404, 'NoSuchObjectLockConfiguration');
      expect((await t.s3.send(new GetObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'ret-none', VersionId: id }))).LegalHold).toEqual({
        Status: 'OFF',
      });
      await refused(retain('ret-none', id, { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() - 60_000) }), 400);
      await refused(retentionOf('ret-none', id), 404, 'NoSuchObjectLockConfiguration');
      // Without a version id the latest version is meant.
      const until = fromNow(DAY);
      const res = await t.s3.send(
        new PutObjectRetentionCommand({ Bucket: LOCKED, Key: 'ret-none', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until } }),
      );
      expect(res.$metadata.httpStatusCode).toBe(200);
      expect(await retentionOf('ret-none', id)).toEqual({ Mode: 'GOVERNANCE', RetainUntilDate: until });
      // A version that does not exist: 404.
      await refused(retentionOf('ret-none', '00000000000000000000'), 404, 'NoSuchVersion');
      await refused(t.s3.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key: 'ret-absent' })), 404, 'NoSuchKey');
    });

    it('a key with write but no admin right may put a legal hold on, not lift it', async () => {
      const id = await put(LOCKED, 'hold-scoped');
      const hold = (client: S3Client, Status: 'ON' | 'OFF') =>
        client.send(new PutObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'hold-scoped', VersionId: id, LegalHold: { Status } }));
      await hold(scoped, 'ON');
      expect(lockOf(await head(LOCKED, 'hold-scoped', id)).hold).toBe('ON');
      await refused(hold(scoped, 'OFF'), 403, 'AccessDenied');
      expect(lockOf(await head(LOCKED, 'hold-scoped', id)).hold).toBe('ON');
      await refused(deleteVersion('hold-scoped', id, { client: scoped }), 403, 'AccessDenied');
      await hold(t.s3, 'OFF');
      expect(lockOf(await head(LOCKED, 'hold-scoped', id)).hold).toBeUndefined();
      await deleteVersion('hold-scoped', id, { client: scoped });
      await refused(head(LOCKED, 'hold-scoped', id), 404);
    });

    it('on a delete marker: 405 for retention and legal hold, read or written, when named; 404 when it is the latest', async () => {
      await put(LOCKED, 'ret-marker');
      const marker = (await t.s3.send(new DeleteObjectCommand({ Bucket: LOCKED, Key: 'ret-marker' }))).VersionId!;
      const attempts = [
        () => t.s3.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key: 'ret-marker', VersionId: marker })),
        () => t.s3.send(new GetObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'ret-marker', VersionId: marker })),
        () => retain('ret-marker', marker, { Mode: 'GOVERNANCE', RetainUntilDate: fromNow(DAY) }),
        () =>
          t.s3.send(new PutObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'ret-marker', VersionId: marker, LegalHold: { Status: 'ON' } })),
      ];
      for (const attempt of attempts) await refused(attempt(), 405, 'MethodNotAllowed');
      // Without a version id the latest is meant, and a key whose latest is a marker has none: 404.
      const unnamed = [
        () => t.s3.send(new GetObjectRetentionCommand({ Bucket: LOCKED, Key: 'ret-marker' })),
        () => t.s3.send(new GetObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'ret-marker' })),
        () =>
          t.s3.send(
            new PutObjectRetentionCommand({
              Bucket: LOCKED,
              Key: 'ret-marker',
              Retention: { Mode: 'GOVERNANCE', RetainUntilDate: fromNow(DAY) },
            }),
          ),
        () => t.s3.send(new PutObjectLegalHoldCommand({ Bucket: LOCKED, Key: 'ret-marker', LegalHold: { Status: 'ON' } })),
      ];
      for (const attempt of unnamed) await refused(attempt(), 404, 'NoSuchKey');
      // The marker is unchanged and still deletes.
      expect((await deleteVersion('ret-marker', marker)).DeleteMarker).toBe(true);
    });

    it('PutObjectRetention and PutObjectLegalHold need Content-MD5 or a checksum', async () => {
      const id = await put(LOCKED, 'ret-raw');
      const path = objectPath(LOCKED, 'ret-raw');
      const until = fromNow(DAY).toISOString();
      const retention = `<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>GOVERNANCE</Mode><RetainUntilDate>${until}</RetainUntilDate></Retention>`;
      const hold = '<LegalHold xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>ON</Status></LegalHold>';
      expect(wire(await raw('PUT', path, { retention: '', versionId: id }, {}, retention))).toEqual({
        status: 400,
        code: 'InvalidRequest',
      });
      expect(wire(await raw('PUT', path, { 'legal-hold': '', versionId: id }, {}, hold))).toEqual({ status: 400, code: 'InvalidRequest' });
      expect(lockOf(await head(LOCKED, 'ret-raw', id))).toEqual({ mode: undefined, until: undefined, hold: undefined });
      const ok1 = await raw('PUT', path, { retention: '', versionId: id }, { 'content-md5': md5(retention) }, retention);
      const ok2 = await raw('PUT', path, { 'legal-hold': '', versionId: id }, { 'content-md5': md5(hold) }, hold);
      expect([wire(ok1), wire(ok2)]).toEqual([
        { status: 200, code: undefined },
        { status: 200, code: undefined },
      ]);
      expect(ok1.headers['x-amz-version-id']).toBe(id);
      expect(lockOf(await head(LOCKED, 'ret-raw', id))).toEqual({ mode: 'GOVERNANCE', until: Date.parse(until), hold: 'ON' });
    });
  });

  // ---------------------------------------------------------------- the operator's forced delete

  describe('anvil admin bucket delete --force', () => {
    it('the delete-bucket task refuses a bucket holding locked versions before deleting anything', async () => {
      const doomed = 'doomed';
      await t.s3.send(new CreateBucketCommand({ Bucket: doomed, ObjectLockEnabledForBucket: true }));
      const putIn = async (Key: string, lock: { mode?: 'GOVERNANCE' | 'COMPLIANCE'; until?: Date; hold?: 'ON' } = {}) =>
        (
          await t.s3.send(
            new PutObjectCommand({
              Bucket: doomed,
              Key,
              Body: Key,
              ObjectLockMode: lock.mode,
              ObjectLockRetainUntilDate: lock.until,
              ObjectLockLegalHoldStatus: lock.hold,
            }),
          )
        ).VersionId!;
      const compliance = await putIn('compliance', { mode: 'COMPLIANCE', until: fromNow(DAY) });
      const governance = await putIn('governance', { mode: 'GOVERNANCE', until: fromNow(DAY) });
      const held = await putIn('held', { hold: 'ON' });
      await putIn('free');
      await putIn('free');
      await t.s3.send(new DeleteObjectCommand({ Bucket: doomed, Key: 'compliance' })); // a marker over the locked version

      const res = await signedFetch(t, 'DELETE', `${t.endpoint}/admin/v1/buckets/${doomed}?force=true`);
      expect(res.status).toBe(202);
      const { task } = (await res.json()) as { task: number };
      expect(task).toBeGreaterThan(0);

      // Wait for the task's first attempt to end (it fails: the bucket holds locked versions).
      const deadline = Date.now() + 30_000;
      let row = (await t.anvil.tasks.list()).find((x) => x.id === task);
      while (!row || row.attempts < 1 || row.status === 'running' || row.last_error === null) {
        if (Date.now() > deadline) throw new Error(`the delete-bucket task did not run: ${JSON.stringify(row)}`);
        await new Promise((r) => setTimeout(r, 100));
        row = (await t.anvil.tasks.list()).find((x) => x.id === task);
      }
      await t.anvil.tasks.cancel(task);
      expect(row.last_error).toMatch(/Object Lock/);

      await t.s3.send(new HeadBucketCommand({ Bucket: doomed }));
      const left = await t.s3.send(new ListObjectVersionsCommand({ Bucket: doomed }));
      // Nothing went: the unprotected versions, and the marker still hiding the locked version.
      expect((left.Versions ?? []).map((v) => v.Key).sort()).toEqual(['compliance', 'free', 'free', 'governance', 'held']);
      expect((left.DeleteMarkers ?? []).map((m) => m.Key)).toEqual(['compliance']);
      expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: doomed, Key: 'compliance' })))).name).toBe('NoSuchKey');
      for (const [key, id] of [
        ['compliance', compliance],
        ['governance', governance],
        ['held', held],
      ]) {
        const got = await t.s3.send(new GetObjectCommand({ Bucket: doomed, Key: key, VersionId: id }));
        expect(await got.Body!.transformToString()).toBe(key);
      }

      // The core purge behind the task refuses the same way when called directly.
      const bucket = (await t.anvil.services.buckets.get(doomed))!;
      await expect(t.anvil.services.buckets.purge(bucket, t.anvil.services.objects)).rejects.toMatchObject({ reason: 'ObjectLocked' });
      await t.s3.send(new HeadBucketCommand({ Bucket: doomed }));
    });
  });
});
