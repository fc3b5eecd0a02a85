/**
 * Real boto3 (Debian's python3-boto3 under /usr/bin/python3) against a real
 * Anvil. Each case of boto3_suite.py runs as its own process, checks what it
 * can itself and prints what it observed as JSON; the assertions here are on
 * those observations (sha256 of bytes, listings, headers, statuses).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { cleanEnv, pythonCan, requireTools, run } from './tools.js';

const PYTHON = '/usr/bin/python3';
const SUITE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'boto3_suite.py');
const haveTools = requireTools(
  'boto3',
  [{ what: `${PYTHON} with boto3`, ok: pythonCan(PYTHON, 'import boto3') }],
  'apt-get install python3-boto3',
);

const MiB = 1024 * 1024;
const BUCKET = 'boto3-interop';

describeEachEngine('interop: boto3', (engine) => {
  const t = useAnvil(engine, { enabled: haveTools });
  let work: string;

  beforeAll(async () => {
    if (!haveTools) return;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-boto3-'));
  });
  afterAll(async () => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function boto3(name: string): Promise<any> {
    const env = cleanEnv(work, {
      ANVIL_ENDPOINT: t.endpoint,
      ANVIL_ACCESS_KEY: t.accessKeyId,
      ANVIL_SECRET_KEY: t.secretAccessKey,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    });
    const { stdout } = await run(PYTHON, [SUITE, name, BUCKET, work], { env });
    return JSON.parse(stdout);
  }

  it.skipIf(!haveTools)('transfer manager: 30 MiB upload_file (multipart) and download_file (threaded ranged GETs)', async () => {
    const r = await boto3('transfer');
    expect(r.downSize).toBe(30 * MiB);
    expect(r.downSha256).toBe(r.srcSha256);
    expect(r.contentLength).toBe(30 * MiB);
    expect(r.uploadParts).toBe(4);
    expect(r.etag).toMatch(/^"[0-9a-f]{32}-4"$/);
    expect(r.unrangedGets).toBe(0);
    expect(r.ranges).toEqual(['bytes=0-8388607', 'bytes=16777216-25165823', 'bytes=25165824-', 'bytes=8388608-16777215']);
  });

  it.skipIf(!haveTools)('list_objects_v2 paginator: 25 keys in pages of 10, plus delimiter and the v1 paginator', async () => {
    const r = await boto3('paginate');
    expect(r.pages.map((p: { keyCount: number }) => p.keyCount)).toEqual([10, 10, 5]);
    expect(r.pages.map((p: { isTruncated: boolean }) => p.isTruncated)).toEqual([true, true, false]);
    expect(r.pages.flatMap((p: { keys: string[] }) => p.keys)).toEqual(r.expected);
    expect(r.pages.flatMap((p: { sizes: number[] }) => p.sizes)).toEqual(r.expected.map((k: string) => k.length));
    expect(r.delimitedPrefixes).toEqual(['page/sub/']);
    expect(r.delimitedKeyCount).toBe(25);
    expect(r.v1Pages.map((p: string[]) => p.length)).toEqual([7, 7, 7, 4]);
    expect(r.v1Pages.flat()).toEqual(r.expected);
  });

  it.skipIf(!haveTools)('copy_object with COPY and REPLACE metadata directives, and the managed copy', async () => {
    const r = await boto3('copy');
    for (const name of ['src', 'dst-copy', 'dst-replace']) expect(r[name].sha256).toBe(r.srcSha256);
    expect(r.managedSha256).toBe(r.srcSha256);
    expect(r['dst-copy'].etag).toBe(r.src.etag);
    expect(r.copyResultETags).toEqual([r.src.etag, r.src.etag]);
    expect(r['dst-copy'].contentType).toBe('application/x-src');
    expect(r['dst-copy'].metadata).toEqual({ origin: 'src' });
    expect(r['dst-replace'].contentType).toBe('text/x-replaced');
    expect(r['dst-replace'].metadata).toEqual({ origin: 'replaced' });
  });

  it.skipIf(!haveTools)('delete_objects: present and absent keys, verbose and quiet', async () => {
    const r = await boto3('delete_objects');
    // S3 reports a key that did not exist as deleted too.
    expect(r.deleted).toEqual(['del/0', 'del/1', 'del/2', 'del/absent']);
    expect(r.errors).toEqual([]);
    expect(r.quietDeleted).toEqual([]);
    expect(r.quietErrors).toEqual([]);
    expect(r.remaining).toEqual(['del/5']);
  });

  it.skipIf(!haveTools)('head_object returns user metadata and the standard headers given to put_object', async () => {
    const r = await boto3('head_metadata');
    expect(r.contentLength).toBe(14);
    expect(r.etag).toBe(`"${r.md5}"`);
    expect(r.contentType).toBe('text/plain; charset=utf-8');
    expect(r.cacheControl).toBe('max-age=60');
    expect(r.contentDisposition).toBe('attachment; filename="obj.txt"');
    expect(r.contentEncoding).toBe('identity');
    expect(r.contentLanguage).toBe('en');
    // S3 lower-cases user metadata names.
    expect(r.metadata).toEqual({ color: 'blue', 'multi-word': 'two words', camelcase: 'v' });
    expect(r.missingCode).toBe('404');
  });

  it.skipIf(!haveTools)('generate_presigned_url (GET) fetched with urllib; a tampered URL is refused', async () => {
    const r = await boto3('presigned_get');
    expect(r.url).toContain('X-Amz-Signature=');
    expect(r.status).toBe(200);
    expect(r.gotSha256).toBe(r.srcSha256);
    expect(r.overrideStatus).toBe(200);
    expect(r.overrideContentType).toBe('application/x-override');
    expect(r.tamperedStatus).toBe(403);
    expect(r.tamperedBody).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it.skipIf(!haveTools)('generate_presigned_post used by a plain multipart/form-data POST (POST Object)', async () => {
    const r = await boto3('presigned_post');
    expect(r.url).toBe(`${t.endpoint}/${BUCKET}`);
    expect(r.fieldNames).toEqual(
      expect.arrayContaining(['key', 'policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature']),
    );
    // Default success_action_status: 204 No Content with the ETag.
    expect({ status: r.status, response: r.response }).toEqual({ status: 204, response: '' });
    expect(r.etag).toBe(`"${r.md5}"`);
    // ${filename} in the key is replaced by the uploaded file's name; the form's fields become object headers.
    expect(r.stored).toEqual({ sha256: r.srcSha256, contentType: 'image/png', metadata: { uploader: 'boto3' } });
    // success_action_status=201: a PostResponse document.
    expect(r.created.status).toBe(201);
    expect(r.created.response).toContain('<PostResponse');
    expect(r.created.response).toContain(`<Bucket>${BUCKET}</Bucket>`);
    expect(r.created.response).toContain('<Key>post/created.bin</Key>');
    expect(r.created.response).toMatch(/<ETag>("|&quot;)[0-9a-f]{32}("|&quot;)<\/ETag>/);
    const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'post/created.bin' }));
    expect(await got.Body!.transformToString()).toBe('created!');
  });

  it.skipIf(!haveTools)('POST Object enforces the policy: content-length-range, starts-with, signature', async () => {
    const r = await boto3('presigned_post_policy');
    expect(r.tooBig.status).toBe(400);
    expect(r.tooBig.response).toContain('<Code>EntityTooLarge</Code>');
    expect(r.wrongKey.status).toBe(403);
    expect(r.wrongKey.response).toContain('<Code>AccessDenied</Code>');
    expect(r.badSignature.status).toBe(403);
    expect(r.badSignature.response).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(r.objectsCreated).toBe(0);
  });

  it.skipIf(!haveTools)(
    'versioning: put_bucket_versioning, versions, list_object_versions paginator, reads and deletes by version id, delete_objects',
    async () => {
      const r = await boto3('versioning');
      expect([r.statusBefore, r.statusAfter]).toEqual([null, 'Enabled']);
      const [d0, d1, d2] = r.doc as string[];
      const [o0, o1] = r.other as string[];
      const ids = [d0, d1, d2, o0, o1];
      expect(new Set(ids).size).toBe(5);
      for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._-]+$/); // URL-safe
      const version = (key: string, id: string, isLatest: boolean) => ({
        key,
        versionId: id,
        isLatest,
        etag: `"${r.md5[id]}"`,
        size: r.size[id],
      });

      // Pages of two: keys in order, each key's versions newest first, the newest the latest.
      expect(r.listed.map((p: { versions: unknown[] }) => p.versions.length)).toEqual([2, 2, 1]);
      expect(r.listed.map((p: { isTruncated: boolean }) => p.isTruncated)).toEqual([true, true, false]);
      expect(r.listed.flatMap((p: { versions: unknown[] }) => p.versions)).toEqual([
        version('doc.txt', d2, true),
        version('doc.txt', d1, false),
        version('doc.txt', d0, false),
        version('other.bin', o1, true),
        version('other.bin', o0, false),
      ]);
      expect(r.listed.flatMap((p: { markers: unknown[] }) => p.markers)).toEqual([]);
      for (const id of ids) expect(r.byId[id], `get_object VersionId=${id}`).toEqual({ versionId: id, sha256: r.sha256[id] });
      expect(r.latest).toEqual({ versionId: d2, sha256: r.sha256[d2] });

      // A plain delete: a delete marker, the key reads as absent (404), the marker by id as 405.
      const marker = r.markerDelete.versionId as string;
      expect(r.markerDelete.deleteMarker).toBe(true);
      expect(ids).not.toContain(marker);
      expect(r.afterMarker.get).toEqual({ code: 'NoSuchKey', status: 404, deleteMarker: 'true', versionId: marker });
      expect(r.afterMarker.getMarker).toEqual({ code: 'MethodNotAllowed', status: 405, deleteMarker: 'true', versionId: marker });
      expect(r.afterMarker.oldById).toEqual({ versionId: d0, sha256: r.sha256[d0] });
      expect(r.listedWithMarker).toHaveLength(1);
      expect(r.listedWithMarker[0].markers).toEqual([{ key: 'doc.txt', versionId: marker, isLatest: true }]);
      expect(r.listedWithMarker[0].versions).toEqual([
        version('doc.txt', d2, false),
        version('doc.txt', d1, false),
        version('doc.txt', d0, false),
        version('other.bin', o1, true),
        version('other.bin', o0, false),
      ]);

      // Deleting the marker by id brings the previous version back; deleting the latest by id, the one before.
      expect(r.markerRemoved).toEqual({ deleteMarker: true, versionId: marker });
      expect(r.afterMarkerRemoved).toEqual({ versionId: d2, sha256: r.sha256[d2] });
      expect(r.latestRemoved.versionId).toBe(d2);
      expect(r.latestRemoved.deleteMarker ?? false).toBe(false);
      expect(r.afterLatestRemoved).toEqual({ versionId: d1, sha256: r.sha256[d1] });
      expect(r.removedById).toMatchObject({ code: 'NoSuchVersion', status: 404 });

      // delete_objects: a version by id and a new delete marker.
      expect(r.deleteObjects.errors).toEqual([]);
      const [docDeleted, otherDeleted] = r.deleteObjects.deleted;
      expect(otherDeleted).toEqual({ Key: 'other.bin', VersionId: o0 });
      expect(docDeleted).toEqual({ Key: 'doc.txt', DeleteMarker: true, DeleteMarkerVersionId: expect.any(String) });
      const marker2 = docDeleted.DeleteMarkerVersionId as string;
      expect([...ids, marker]).not.toContain(marker2);
      expect(r.final).toHaveLength(1);
      expect(r.final[0].versions).toEqual([version('doc.txt', d1, false), version('doc.txt', d0, false), version('other.bin', o1, true)]);
      expect(r.final[0].markers).toEqual([{ key: 'doc.txt', versionId: marker2, isLatest: true }]);
      expect(r.finalOther).toEqual({ versionId: o1, sha256: r.sha256[o1] });
    },
  );

  it.skipIf(!haveTools)(
    'versioning Suspended: the null version, replaced by a put and by a delete marker; MFA Delete refused',
    async () => {
      const r = await boto3('versioning_suspended');
      // A bucket that never had versioning sends no version id; its object becomes the "null" version.
      expect(r.unversionedPutVersionId).toBeNull();
      const v1 = r.v1 as string;
      expect(v1).not.toBe('null');
      expect(r.afterEnable).toEqual({
        versions: [
          { versionId: v1, isLatest: true, size: 11 },
          { versionId: 'null', isLatest: false, size: 17 },
        ],
        markers: [],
      });
      expect(r.oldNull).toBe(crypto.createHash('sha256').update('before versioning').digest('hex'));

      // Suspended: a put replaces the null version (wherever it was in the history) and becomes the latest.
      expect(r.statusSuspended).toBe('Suspended');
      // As on S3, a Suspended bucket's write answers without a version id (it made the null version).
      expect(r.suspendedPutVersionId).toBeNull();
      expect(r.afterSuspendedPut).toEqual({
        versions: [
          { versionId: 'null', isLatest: true, size: 15 },
          { versionId: v1, isLatest: false, size: 11 },
        ],
        markers: [],
      });
      expect(r.nullNow).toEqual({ versionId: 'null', body: 'suspended write' });
      // A plain delete replaces it again, with a delete marker whose id is "null".
      expect(r.suspendedDelete).toEqual({ deleteMarker: true, versionId: 'null' });
      expect(r.afterSuspendedDelete).toEqual({
        versions: [{ versionId: v1, isLatest: false, size: 11 }],
        markers: [{ versionId: 'null', isLatest: true }],
      });

      // Enabled again: new versions on top, the null marker stays in the history.
      const v2 = r.v2 as string;
      expect([v1, 'null']).not.toContain(v2);
      expect(r.statusEnabled).toBe('Enabled');
      expect(r.afterReenable).toEqual({
        versions: [
          { versionId: v2, isLatest: true, size: 11 },
          { versionId: v1, isLatest: false, size: 11 },
        ],
        markers: [{ versionId: 'null', isLatest: false }],
      });
      expect(r.mfaDelete).toMatchObject({ code: 'NotImplemented', status: 501 });
    },
  );
});
