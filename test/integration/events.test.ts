/**
 * The change sequence and the change feed (issue 16), on both engines, with
 * the real SDK: every mutation writes its event in its own transaction, a
 * refused write writes none, the feed resumes from a cursor across a
 * restart, waits (long poll, Server-Sent Events with Last-Event-ID),
 * answers 410 once a cursor is older than the retention, and shows a key's
 * events only to callers that may list it.
 */
import crypto from 'node:crypto';

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

import { describeEachEngine, s3Error, type TestAnvil, useAnvil } from '../support/anvil.js';
import { adminApi, allEvents, type Creds, feed, feedEnd, sseEvents } from '../support/events.js';

function hmac(key: Buffer | string, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** A browser form upload (POST Object) signed with a SigV4 POST policy. */
async function postForm(t: TestAnvil, bucket: string, key: string, body: string): Promise<Response> {
  const now = new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, '');
  const credential = `${t.accessKeyId}/${date}/us-east-1/s3/aws4_request`;
  const amzDate = `${date}T000000Z`;
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(now.getTime() + 600_000).toISOString(),
      conditions: [
        { bucket },
        { key },
        { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
        { 'x-amz-credential': credential },
        { 'x-amz-date': amzDate },
      ],
    }),
  ).toString('base64');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${t.secretAccessKey}`, date), 'us-east-1'), 's3'), 'aws4_request');
  const form = new FormData();
  const fields: Record<string, string> = {
    key,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-credential': credential,
    'x-amz-date': amzDate,
    policy,
    'x-amz-signature': hmac(signingKey, policy).toString('hex'),
  };
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([body]), 'f.txt');
  return fetch(`${t.endpoint}/${bucket}`, { method: 'POST', body: form, redirect: 'manual' });
}

describeEachEngine('change feed', (engine) => {
  const t = useAnvil(engine);

  async function versioned(name: string, objectLock = false) {
    await t.s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: objectLock || undefined }));
    if (!objectLock) await t.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  }

  describe('every mutation writes its event', () => {
    it('object writes: put, copy, multipart complete, POST, with key, version, size and ETag', async () => {
      await versioned('ev-writes');
      const put = await t.s3.send(new PutObjectCommand({ Bucket: 'ev-writes', Key: 'a.txt', Body: 'hello' }));
      const copy = await t.s3.send(new CopyObjectCommand({ Bucket: 'ev-writes', Key: 'b.txt', CopySource: 'ev-writes/a.txt' }));
      const up = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'ev-writes', Key: 'big.bin' }));
      const part = await t.s3.send(
        new UploadPartCommand({ Bucket: 'ev-writes', Key: 'big.bin', UploadId: up.UploadId, PartNumber: 1, Body: 'partbody' }),
      );
      const done = await t.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'ev-writes',
          Key: 'big.bin',
          UploadId: up.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      const posted = await postForm(t, 'ev-writes', 'form.txt', 'posted');
      expect(posted.status).toBe(204);

      const events = await allEvents(t, 'ev-writes');
      expect(events.map((e) => [e.name, e.key])).toEqual([
        ['s3:ObjectCreated:Put', 'a.txt'],
        ['s3:ObjectCreated:Copy', 'b.txt'],
        ['s3:ObjectCreated:CompleteMultipartUpload', 'big.bin'],
        ['s3:ObjectCreated:Post', 'form.txt'],
      ]);
      expect(events[0]).toMatchObject({
        bucket: 'ev-writes',
        branch: 'main',
        versionId: put.VersionId,
        size: 5,
        etag: put.ETag!.replace(/"/g, ''),
      });
      expect(events[1].versionId).toBe(copy.VersionId);
      expect(events[2].versionId).toBe(done.VersionId);
      expect(events[3].size).toBe(6);
      // One ordered sequence: strictly increasing seqs, cursors that name them.
      for (let i = 1; i < events.length; i++) expect(events[i].seq).toBeGreaterThan(events[i - 1].seq);
      expect(events.map((e) => e.cursor)).toEqual(events.map((e) => String(e.seq)));
    });

    it('deletes: a marker on a versioning bucket, a version by id, a key of an unversioned bucket, batches', async () => {
      await versioned('ev-deletes');
      const v1 = await t.s3.send(new PutObjectCommand({ Bucket: 'ev-deletes', Key: 'k', Body: '1' }));
      const start = await feedEnd(t, 'ev-deletes');
      const marker = await t.s3.send(new DeleteObjectCommand({ Bucket: 'ev-deletes', Key: 'k' }));
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'ev-deletes', Key: 'k', VersionId: v1.VersionId }));
      // Nothing there: no change, no event.
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'ev-deletes', Key: 'k', VersionId: v1.VersionId }));
      await t.s3.send(new CreateBucketCommand({ Bucket: 'ev-plain' }));
      await t.s3.send(new PutObjectCommand({ Bucket: 'ev-plain', Key: 'x', Body: 'x' }));
      await t.s3.send(new PutObjectCommand({ Bucket: 'ev-plain', Key: 'y', Body: 'y' }));
      const plainStart = await feedEnd(t, 'ev-plain');
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'ev-plain', Key: 'missing' }));
      await t.s3.send(new DeleteObjectsCommand({ Bucket: 'ev-plain', Delete: { Objects: [{ Key: 'x' }, { Key: 'nope' }, { Key: 'y' }] } }));

      const events = await allEvents(t, 'ev-deletes', start);
      expect(events.map((e) => [e.name, e.key, e.versionId])).toEqual([
        ['s3:ObjectRemoved:DeleteMarkerCreated', 'k', marker.VersionId],
        ['s3:ObjectRemoved:Delete', 'k', v1.VersionId],
      ]);
      const plain = await allEvents(t, 'ev-plain', plainStart);
      expect(plain.map((e) => [e.name, e.key])).toEqual([
        ['s3:ObjectRemoved:Delete', 'x'],
        ['s3:ObjectRemoved:Delete', 'y'],
      ]);
    });

    it('tags, ACL, retention and legal hold take a seq of their own', async () => {
      await versioned('ev-meta', true);
      const put = await t.s3.send(new PutObjectCommand({ Bucket: 'ev-meta', Key: 'doc', Body: 'd' }));
      const start = await feedEnd(t, 'ev-meta');
      await t.s3.send(new PutObjectTaggingCommand({ Bucket: 'ev-meta', Key: 'doc', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }));
      await t.s3.send(new DeleteObjectTaggingCommand({ Bucket: 'ev-meta', Key: 'doc' }));
      await t.s3.send(new PutObjectAclCommand({ Bucket: 'ev-meta', Key: 'doc', ACL: 'public-read' }));
      const until = new Date(Date.now() + 86400_000);
      await t.s3.send(
        new PutObjectRetentionCommand({ Bucket: 'ev-meta', Key: 'doc', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until } }),
      );
      await t.s3.send(new PutObjectLegalHoldCommand({ Bucket: 'ev-meta', Key: 'doc', LegalHold: { Status: 'ON' } }));
      await t.s3.send(new PutObjectLegalHoldCommand({ Bucket: 'ev-meta', Key: 'doc', LegalHold: { Status: 'OFF' } }));
      const events = await allEvents(t, 'ev-meta', start);
      expect(events.map((e) => e.name)).toEqual([
        's3:ObjectTagging:Put',
        's3:ObjectTagging:Delete',
        's3:ObjectAcl:Put',
        'anvil:ObjectRetention:Put',
        'anvil:ObjectLegalHold:Put',
        'anvil:ObjectLegalHold:Put',
      ]);
      for (const e of events) expect(e).toMatchObject({ key: 'doc', versionId: put.VersionId });
      expect(events[2].detail).toEqual({ acl: 'public-read' });
      expect(events[3].detail).toMatchObject({ mode: 'GOVERNANCE' });
      expect(events[5].detail).toEqual({ legalHold: 'OFF' });
      for (let i = 1; i < events.length; i++) expect(events[i].seq).toBeGreaterThan(events[i - 1].seq);
    });

    it('branches, commits, merges, tags and reverts, each on its feed', async () => {
      await versioned('ev-br');
      await t.s3.send(new PutObjectCommand({ Bucket: 'ev-br', Key: 'a', Body: 'a1' }));
      const start = await feedEnd(t, 'ev-br');
      expect((await adminApi(t, 'POST', '/buckets/ev-br/branches', { name: 'dev' })).status).toBe(201);
      await t.s3.send(new PutObjectCommand({ Bucket: 'ev-br--dev', Key: 'b', Body: 'b1' }));
      await t.s3.send(new DeleteObjectCommand({ Bucket: 'ev-br--dev', Key: 'a' }));
      const commit = await adminApi(t, 'POST', '/buckets/ev-br/branches/dev/commits', { message: 'work' });
      expect(commit.status).toBe(201);
      const merge = await adminApi(t, 'POST', '/buckets/ev-br/branches/main/merges', { source: 'dev' });
      expect(merge.status, JSON.stringify(merge.json)).toBe(200);
      expect((await adminApi(t, 'POST', '/buckets/ev-br/tags', { name: 'v1', at: 'main' })).status).toBe(201);
      expect((await adminApi(t, 'DELETE', '/buckets/ev-br/tags/v1')).status).toBe(204);
      const revert = await adminApi(t, 'POST', '/buckets/ev-br/branches/main/reverts', { commit: merge.json.commit.id, parent: 0 });
      expect(revert.status, JSON.stringify(revert.json)).toBe(200);

      const dev = await allEvents(t, 'ev-br', undefined, 'dev');
      expect(dev.map((e) => [e.name, e.key ?? null])).toEqual([
        ['anvil:Branch:Created', null],
        ['s3:ObjectCreated:Put', 'b'],
        ['s3:ObjectRemoved:DeleteMarkerCreated', 'a'],
        ['anvil:Commit:Created', null],
      ]);
      expect(dev.every((e) => e.branch === 'dev')).toBe(true);
      expect(dev[3].detail).toMatchObject({ branch: 'dev', commit: commit.json.id, message: 'work' });

      const main = await allEvents(t, 'ev-br', start);
      const names = main.map((e) => e.name);
      // Branching commits main first (its head changed since its last commit), then names the branch.
      expect(names.slice(0, 2)).toEqual(['anvil:Commit:Created', 'anvil:Branch:Created']);
      expect(main[1].cursor).toMatch(/^\d+\.\d+$/);
      expect(main[1].detail).toMatchObject({ branch: 'dev', from: 'main' });
      const mergeAt = names.indexOf('anvil:Merge:Completed');
      expect(main.slice(2, mergeAt).map((e) => [e.name, e.key])).toEqual(
        expect.arrayContaining([
          ['anvil:ObjectCreated:Merge', 'b'],
          ['anvil:ObjectRemoved:Merge', 'a'],
        ]),
      );
      expect(main[mergeAt].detail).toMatchObject({ commit: merge.json.commit.id, source: 'dev', applied: 2 });
      expect(names.slice(mergeAt + 1, mergeAt + 3)).toEqual(['anvil:Tag:Created', 'anvil:Tag:Deleted']);
      expect(names[names.length - 1]).toBe('anvil:Revert:Completed');
      // Cursors are in order and unique, sub-events included.
      expect(new Set(main.map((e) => e.cursor)).size).toBe(main.length);

      expect((await adminApi(t, 'DELETE', '/buckets/ev-br/branches/dev')).status).toBe(204);
      const after = await allEvents(t, 'ev-br', main[main.length - 1].cursor);
      expect(after.map((e) => [e.name, e.detail])).toEqual([['anvil:Branch:Deleted', { branch: 'dev' }]]);
      expect((await feed(t, 'ev-br', { branch: 'dev' })).status).toBe(404);
    });
  });

  it('a refused or failed write leaves no event', async () => {
    await versioned('ev-fail');
    await t.s3.send(new PutObjectCommand({ Bucket: 'ev-fail', Key: 'k', Body: 'v' }));
    const end = await feedEnd(t, 'ev-fail');
    // A failed precondition, a digest mismatch, a tag change on a missing key, a copy of nothing.
    expect((await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'ev-fail', Key: 'k', Body: 'w', IfNoneMatch: '*' })))).name).toBe(
      'PreconditionFailed',
    );
    const badMd5 = crypto.createHash('md5').update('other').digest('base64');
    await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'ev-fail', Key: 'k2', Body: 'w', ContentMD5: badMd5 })));
    await s3Error(t.s3.send(new PutObjectTaggingCommand({ Bucket: 'ev-fail', Key: 'none', Tagging: { TagSet: [] } })));
    await s3Error(t.s3.send(new CopyObjectCommand({ Bucket: 'ev-fail', Key: 'c', CopySource: 'ev-fail/none' })));
    const page = await feed(t, 'ev-fail', { after: end });
    expect(page.status).toBe(200);
    expect(page.events).toEqual([]);
    // The next write is the next event.
    await t.s3.send(new PutObjectCommand({ Bucket: 'ev-fail', Key: 'ok', Body: 'v' }));
    expect((await allEvents(t, 'ev-fail', end)).map((e) => e.key)).toEqual(['ok']);
  });

  it('a consumer resuming from its cursor misses nothing across a restart', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'ev-restart' }));
    for (const k of ['1', '2', '3']) await t.s3.send(new PutObjectCommand({ Bucket: 'ev-restart', Key: k, Body: k }));
    const first = await feed(t, 'ev-restart', { limit: 2 });
    expect(first.events.map((e) => e.key)).toEqual(['1', '2']);
    await t.restart();
    for (const k of ['4', '5']) await t.s3.send(new PutObjectCommand({ Bucket: 'ev-restart', Key: k, Body: k }));
    expect((await allEvents(t, 'ev-restart', first.cursor)).map((e) => e.key)).toEqual(['3', '4', '5']);
  });

  it('a long poll wakes on a write', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'ev-wait' }));
    const end = await feedEnd(t, 'ev-wait');
    const waiting = feed(t, 'ev-wait', { after: end, wait: 30 });
    await t.s3.send(new PutObjectCommand({ Bucket: 'ev-wait', Key: 'woke', Body: 'x' }));
    const page = await waiting;
    expect(page.status).toBe(200);
    expect(page.events.map((e) => e.key)).toEqual(['woke']);
    // Nothing new: a short wait answers with no events and the same cursor.
    const idle = await feed(t, 'ev-wait', { after: page.cursor, wait: 0.2 });
    expect(idle).toMatchObject({ status: 200, events: [], cursor: page.cursor });
  });

  it('streams Server-Sent Events and resumes with Last-Event-ID', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'ev-sse' }));
    for (const k of ['a', 'b', 'c']) await t.s3.send(new PutObjectCommand({ Bucket: 'ev-sse', Key: k, Body: k }));
    const first = await sseEvents(t, 'ev-sse', 2);
    expect(first.status).toBe(200);
    expect(first.events.map((e) => e.data.key)).toEqual(['a', 'b']);
    expect(first.events[1].id).toBe(first.events[1].data.cursor);
    // Reconnect after b; d arrives while the stream waits.
    const resumed = sseEvents(t, 'ev-sse', 2, { lastEventId: first.events[1].id });
    await t.s3.send(new PutObjectCommand({ Bucket: 'ev-sse', Key: 'd', Body: 'd' }));
    expect((await resumed).events.map((e) => e.data.key)).toEqual(['c', 'd']);
  });

  it('refuses bad input with clear errors', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'ev-bad' }));
    const bad = await feed(t, 'ev-bad', { after: 'yesterday' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/invalid cursor/);
    expect((await feed(t, 'ev-bad', { limit: 0 })).status).toBe(400);
    expect((await feed(t, 'ev-bad', { wait: 3600 })).status).toBe(400);
    expect((await feed(t, 'ev-bad', { branch: 'nope' })).status).toBe(404);
    expect((await feed(t, 'no-such-bucket')).status).toBe(404);
  });

  describe('access follows policies', () => {
    async function scopedKey(name: string, policies: unknown[]): Promise<Creds> {
      const res = await adminApi(t, 'POST', '/tenants/root/keys', { name, policies });
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      return { accessKeyId: res.json.accessKeyId, secretAccessKey: res.json.secretAccessKey };
    }

    it('a key sees no events about keys it may not list, and none without the list action', async () => {
      await versioned('ev-acl');
      for (const k of ['public/a', 'secret/b', 'public/c']) await t.s3.send(new PutObjectCommand({ Bucket: 'ev-acl', Key: k, Body: k }));
      await adminApi(t, 'POST', '/buckets/ev-acl/branches/main/commits', { message: 'c' });
      const denied = await scopedKey('ev-deny', [
        { effect: 'allow', actions: ['list', 'read'], resources: ['ev-acl', 'ev-acl/*'] },
        { effect: 'deny', actions: ['list'], resources: ['ev-acl/secret/*'] },
      ]);
      const page = await feed(t, 'ev-acl', {}, denied);
      expect(page.status).toBe(200);
      expect(page.events.map((e) => e.key)).toEqual(['public/a', 'public/c']);

      const prefixOnly = await scopedKey('ev-prefix', [{ effect: 'allow', actions: ['list'], resources: ['ev-acl/public/*'] }]);
      const mine = await feed(t, 'ev-acl', {}, prefixOnly);
      expect(mine.status).toBe(200);
      // Only its prefix, and no commit (an event about the whole bucket).
      expect(mine.events.map((e) => e.key ?? e.name)).toEqual(['public/a', 'public/c']);
      // The cursor moved past what it may not see: resuming shows nothing again.
      expect((await feed(t, 'ev-acl', { after: mine.cursor }, prefixOnly)).events).toEqual([]);

      const everything = await feed(t, 'ev-acl');
      expect(everything.events.map((e) => e.key ?? e.name)).toEqual(['public/a', 'secret/b', 'public/c', 'anvil:Commit:Created']);

      const readOnly = await scopedKey('ev-read', [{ effect: 'allow', actions: ['read'], resources: ['ev-acl/*'] }]);
      expect((await feed(t, 'ev-acl', {}, readOnly)).status).toBe(403);
      const sse = await sseEvents(t, 'ev-acl', 1, { creds: readOnly });
      expect(sse.status).toBe(403);
    });
  });
});

describeEachEngine('change feed retention', (engine) => {
  let offset = 0;
  const t = useAnvil(engine, {
    config: { eventsRetention: 60 },
    start: { workerIntervalMs: 50, events: { clock: () => Date.now() + offset, pollMs: 50 } },
    buckets: ['ev-old'],
  });

  it('prunes events past the retention and answers 410 with the oldest cursor for an older one', async () => {
    for (const k of ['1', '2']) await t.s3.send(new PutObjectCommand({ Bucket: 'ev-old', Key: k, Body: k }));
    const page = await feed(t, 'ev-old');
    expect(page.events.map((e) => e.key)).toEqual(['1', '2']);
    // Two minutes later (by the server's clock) both are older than the 60 s retention.
    offset = 120_000;
    let gone = await feed(t, 'ev-old', { after: '0' });
    for (let i = 0; gone.status !== 410 && i < 400; i++) {
      await new Promise((r) => setTimeout(r, 25));
      gone = await feed(t, 'ev-old', { after: '0' });
    }
    expect(gone.status).toBe(410);
    expect(gone.json.error.code).toBe('Gone');
    expect(gone.json.error.oldestCursor).toBe(page.cursor);
    // From the oldest cursor (or with none) the feed goes on, missing nothing that is kept.
    await t.s3.send(new PutObjectCommand({ Bucket: 'ev-old', Key: '3', Body: '3' }));
    expect((await allEvents(t, 'ev-old', gone.json.error.oldestCursor)).map((e) => e.key)).toEqual(['3']);
    expect((await allEvents(t, 'ev-old')).map((e) => e.key)).toEqual(['3']);
    const sse = await sseEvents(t, 'ev-old', 1, { lastEventId: '1' });
    expect(sse.status).toBe(410);
  });
});
