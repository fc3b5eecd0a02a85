/**
 * Policies and branch aliases (issue 15), on both engines: a scoped key's
 * policy names the alias it may use (`photos--dev/*`), so a key scoped to a
 * branch cannot reach main (`photos`, `photos--main`) and a key scoped to
 * main cannot reach the branch; an explicit deny keeps its meaning whatever
 * name addresses the same data; a public-read bucket's branches are public
 * the way the bucket is (its settings are shared by every branch); the
 * branch admin API needs the admin action on the bucket.
 */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}
type Statement = { effect: 'allow' | 'deny'; actions: string[]; resources: string[] };

const RWLD = ['read', 'write', 'list', 'delete'];

describeEachEngine('branches and policies', (engine) => {
  const t = useAnvil(engine);

  async function api(method: string, pathAndQuery: string, body?: unknown, creds?: Creds): Promise<{ status: number; json: any }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${pathAndQuery}`, {
      creds,
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
    });
    const out = await res.text();
    return { status: res.status, json: out ? JSON.parse(out) : undefined };
  }

  /** A key of the root tenant with these policies, and an SDK client for it. */
  async function scopedKey(name: string, policies: Statement[]): Promise<{ creds: Creds; s3: S3Client }> {
    const res = await api('POST', '/tenants/root/keys', { name, policies });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const creds = { accessKeyId: res.json.accessKeyId, secretAccessKey: res.json.secretAccessKey };
    return { creds, s3: t.client(creds) };
  }

  async function text(s3: S3Client, bucket: string, key: string): Promise<string> {
    return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  }

  async function keys(s3: S3Client, bucket: string, prefix?: string): Promise<string[]> {
    return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((c) => c.Key!);
  }

  /** The S3 error code of a request that must fail (AccessDenied, NoSuchKey…), with its status. */
  async function refusal(p: Promise<unknown>): Promise<string> {
    const err = await s3Error(p);
    return `${err.$metadata.httpStatusCode} ${err.name}`;
  }
  const DENIED = '403 AccessDenied';

  async function branchedBucket(bucket: string, opts: { acl?: 'public-read' } = {}): Promise<void> {
    await t.s3.send(new CreateBucketCommand({ Bucket: bucket, ACL: opts.acl }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }

  describe('keys scoped to a branch or to main', () => {
    let devKey: S3Client;
    let mainKey: S3Client;

    beforeAll(async () => {
      await branchedBucket('photos');
      await t.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'a.txt', Body: 'a on main' }));
      await t.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'dir/b.txt', Body: 'b on main' }));
      expect((await api('POST', '/buckets/photos/branches', { name: 'dev' })).status).toBe(201);
      expect((await api('POST', '/buckets/photos/tags', { name: 'v1', at: 'main' })).status).toBe(201);
      devKey = (await scopedKey('dev only', [{ effect: 'allow', actions: RWLD, resources: ['photos--dev/*'] }])).s3;
      mainKey = (await scopedKey('main only', [{ effect: 'allow', actions: RWLD, resources: ['photos/*'] }])).s3;
    });

    it('a key allowed on photos--dev/* puts, gets, lists and deletes on the branch (reading through to main)', async () => {
      await devKey.send(new PutObjectCommand({ Bucket: 'photos--dev', Key: 'new.txt', Body: 'new on dev' }));
      await devKey.send(new PutObjectCommand({ Bucket: 'photos--dev', Key: 'a.txt', Body: 'a on dev' }));
      expect(await text(devKey, 'photos--dev', 'new.txt')).toBe('new on dev');
      expect(await text(devKey, 'photos--dev', 'a.txt')).toBe('a on dev');
      // What dev reads through from main is readable with the branch's name.
      expect(await text(devKey, 'photos--dev', 'dir/b.txt')).toBe('b on main');
      expect((await devKey.send(new HeadObjectCommand({ Bucket: 'photos--dev', Key: 'dir/b.txt' }))).ContentLength).toBe(9);
      expect(await keys(devKey, 'photos--dev')).toEqual(['a.txt', 'dir/b.txt', 'new.txt']);
      expect(await keys(devKey, 'photos--dev', 'dir/')).toEqual(['dir/b.txt']);
      // A missing key: listing is allowed, so it may say so.
      expect(await refusal(devKey.send(new GetObjectCommand({ Bucket: 'photos--dev', Key: 'nope' })))).toBe('404 NoSuchKey');

      await devKey.send(new DeleteObjectCommand({ Bucket: 'photos--dev', Key: 'dir/b.txt' }));
      const batch = await devKey.send(
        new DeleteObjectsCommand({ Bucket: 'photos--dev', Delete: { Objects: [{ Key: 'new.txt' }, { Key: 'absent.txt' }] } }),
      );
      expect(batch.Errors ?? []).toEqual([]);
      expect(await keys(devKey, 'photos--dev')).toEqual(['a.txt']);
      // Copy within the branch.
      await devKey.send(new CopyObjectCommand({ Bucket: 'photos--dev', Key: 'copy.txt', CopySource: 'photos--dev/a.txt' }));
      expect(await text(devKey, 'photos--dev', 'copy.txt')).toBe('a on dev');

      // Main saw none of it.
      expect(await keys(t.s3, 'photos')).toEqual(['a.txt', 'dir/b.txt']);
      expect(await text(t.s3, 'photos', 'a.txt')).toBe('a on main');
    });

    it('the same key gets AccessDenied on photos, photos--main and the tag photos--v1', async () => {
      for (const bucket of ['photos', 'photos--main', 'photos--v1']) {
        expect(await refusal(devKey.send(new GetObjectCommand({ Bucket: bucket, Key: 'a.txt' }))), bucket).toBe(DENIED);
        expect(await refusal(devKey.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a.txt' }))), bucket).toMatch(/^403 /);
        expect(await refusal(devKey.send(new ListObjectsV2Command({ Bucket: bucket }))), bucket).toBe(DENIED);
        expect(await refusal(devKey.send(new GetObjectCommand({ Bucket: bucket, Key: 'nope' }))), bucket).toBe(DENIED);
      }
      for (const bucket of ['photos', 'photos--main']) {
        expect(await refusal(devKey.send(new PutObjectCommand({ Bucket: bucket, Key: 'x.txt', Body: 'x' }))), bucket).toBe(DENIED);
        expect(await refusal(devKey.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a.txt' }))), bucket).toBe(DENIED);
        const batch = await devKey.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'a.txt' }] } }));
        expect(batch.Errors?.map((e) => e.Code)).toEqual(['AccessDenied']);
      }
      // Nor can it copy main's data into the branch it may write.
      expect(
        await refusal(devKey.send(new CopyObjectCommand({ Bucket: 'photos--dev', Key: 'stolen.txt', CopySource: 'photos/a.txt' }))),
      ).toBe(DENIED);
      expect(await keys(t.s3, 'photos')).toEqual(['a.txt', 'dir/b.txt']);
      expect(await text(t.s3, 'photos', 'a.txt')).toBe('a on main');
    });

    it('a key allowed on photos/* works on main and cannot touch photos--dev (nor main through photos--main)', async () => {
      await mainKey.send(new PutObjectCommand({ Bucket: 'photos', Key: 'main-key.txt', Body: 'by the main key' }));
      expect(await text(mainKey, 'photos', 'main-key.txt')).toBe('by the main key');
      expect(await keys(mainKey, 'photos')).toEqual(['a.txt', 'dir/b.txt', 'main-key.txt']);
      await mainKey.send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'main-key.txt' }));

      const before = await keys(t.s3, 'photos--dev');
      for (const bucket of ['photos--dev', 'photos--main', 'photos--v1']) {
        expect(await refusal(mainKey.send(new GetObjectCommand({ Bucket: bucket, Key: 'a.txt' }))), bucket).toBe(DENIED);
        expect(await refusal(mainKey.send(new ListObjectsV2Command({ Bucket: bucket }))), bucket).toBe(DENIED);
        expect(await refusal(mainKey.send(new PutObjectCommand({ Bucket: bucket, Key: 'x.txt', Body: 'x' }))), bucket).toBe(DENIED);
        expect(await refusal(mainKey.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a.txt' }))), bucket).toBe(DENIED);
      }
      expect(
        await refusal(mainKey.send(new CopyObjectCommand({ Bucket: 'photos', Key: 'from-dev.txt', CopySource: 'photos--dev/a.txt' }))),
      ).toBe(DENIED);
      expect(await keys(t.s3, 'photos--dev')).toEqual(before);
      expect(await text(t.s3, 'photos--dev', 'a.txt')).toBe('a on dev');
    });

    it('a key allowed on both names copies from main into the branch', async () => {
      const both = (
        await scopedKey('both', [
          { effect: 'allow', actions: ['read', 'list'], resources: ['photos/*'] },
          { effect: 'allow', actions: RWLD, resources: ['photos--dev/*'] },
        ])
      ).s3;
      await both.send(new CopyObjectCommand({ Bucket: 'photos--dev', Key: 'from-main.txt', CopySource: 'photos/a.txt' }));
      expect(await text(both, 'photos--dev', 'from-main.txt')).toBe('a on main');
      expect(await refusal(both.send(new PutObjectCommand({ Bucket: 'photos', Key: 'x.txt', Body: 'x' })))).toBe(DENIED);
    });

    it('an explicit deny on photos/secret/* holds whatever name addresses main: photos--main, a tag of main', async () => {
      await t.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'secret/plan.txt', Body: 'the secret plan' }));
      expect((await api('POST', '/buckets/photos/tags', { name: 'with-secret', at: 'main' })).status).toBe(201);
      const almostAll = (
        await scopedKey('all but secrets', [
          { effect: 'allow', actions: RWLD, resources: ['*'] },
          { effect: 'deny', actions: RWLD, resources: ['photos/secret/*'] },
        ])
      ).s3;
      expect(await text(almostAll, 'photos', 'a.txt')).toBe('a on main');
      expect(await text(almostAll, 'photos--main', 'a.txt')).toBe('a on main');
      const outcome = (p: Promise<unknown>) =>
        p.then(
          () => 'allowed',
          (e: any) => `${e.$metadata?.httpStatusCode} ${e.name}`,
        );
      // photos--main *is* main (the same timeline, the same rows) and a tag of main shows main's bytes:
      // a deny written for photos must hold there too, or any key can step around it by renaming the bucket.
      const observed = {
        getMain: await outcome(almostAll.send(new GetObjectCommand({ Bucket: 'photos', Key: 'secret/plan.txt' }))),
        putMain: await outcome(almostAll.send(new PutObjectCommand({ Bucket: 'photos', Key: 'secret/x', Body: 'x' }))),
        getMainAlias: await outcome(almostAll.send(new GetObjectCommand({ Bucket: 'photos--main', Key: 'secret/plan.txt' }))),
        listMainAlias: await outcome(almostAll.send(new ListObjectsV2Command({ Bucket: 'photos--main', Prefix: 'secret/' }))),
        putMainAlias: await outcome(almostAll.send(new PutObjectCommand({ Bucket: 'photos--main', Key: 'secret/x', Body: 'x' }))),
        deleteMainAlias: await outcome(almostAll.send(new DeleteObjectCommand({ Bucket: 'photos--main', Key: 'secret/plan.txt' }))),
        getTag: await outcome(almostAll.send(new GetObjectCommand({ Bucket: 'photos--with-secret', Key: 'secret/plan.txt' }))),
      };
      expect(observed).toEqual({
        getMain: DENIED,
        putMain: DENIED,
        getMainAlias: DENIED,
        listMainAlias: DENIED,
        putMainAlias: DENIED,
        deleteMainAlias: DENIED,
        getTag: DENIED,
      });
      expect(await keys(t.s3, 'photos', 'secret/')).toEqual(['secret/plan.txt']);
      expect(await text(t.s3, 'photos', 'secret/plan.txt')).toBe('the secret plan');
    });
  });

  describe('anonymous callers and public buckets', () => {
    /** An anonymous caller: plain HTTP, no signature. */
    const anon = (path: string, init: RequestInit = {}) => fetch(`${t.endpoint}${path}`, init);

    beforeAll(async () => {
      await branchedBucket('pubphotos', { acl: 'public-read' });
      await t.s3.send(new PutObjectCommand({ Bucket: 'pubphotos', Key: 'open.txt', Body: 'open on main', ACL: 'public-read' }));
      await t.s3.send(new PutObjectCommand({ Bucket: 'pubphotos', Key: 'closed.txt', Body: 'closed on main' }));
      expect((await api('POST', '/buckets/pubphotos/branches', { name: 'dev' })).status).toBe(201);
      await t.s3.send(new PutObjectCommand({ Bucket: 'pubphotos--dev', Key: 'dev-open.txt', Body: 'open on dev', ACL: 'public-read' }));
      await t.s3.send(new PutObjectCommand({ Bucket: 'pubphotos--dev', Key: 'dev-closed.txt', Body: 'closed on dev' }));
      expect((await api('POST', '/buckets/pubphotos/tags', { name: 'v1', at: 'dev' })).status).toBe(201);

      await branchedBucket('polphotos');
      await t.s3.send(
        new PutBucketPolicyCommand({
          Bucket: 'polphotos',
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::polphotos/public/*' }],
          }),
        }),
      );
      await t.s3.send(new PutObjectCommand({ Bucket: 'polphotos', Key: 'public/a.txt', Body: 'public a' }));
      await t.s3.send(new PutObjectCommand({ Bucket: 'polphotos', Key: 'private/b.txt', Body: 'private b' }));
      expect((await api('POST', '/buckets/polphotos/branches', { name: 'dev' })).status).toBe(201);
    });

    it("a public-read bucket's branch and tag are public the way the bucket is: listing and public-read objects, never writes", async () => {
      // The bucket's ACL is shared by its branches: anyone may list them.
      for (const alias of ['pubphotos--dev', 'pubphotos--v1']) {
        const list = await anon(`/${alias}?list-type=2`);
        expect(list.status, alias).toBe(200);
        const xml = await list.text();
        for (const k of ['closed.txt', 'dev-closed.txt', 'dev-open.txt', 'open.txt']) expect(xml, alias).toContain(`<Key>${k}</Key>`);
      }
      // Objects: public-read ones (written on the branch, or read through from main) are readable; private ones are not.
      const open = await anon('/pubphotos--dev/open.txt');
      expect([open.status, await open.text()]).toEqual([200, 'open on main']);
      const devOpen = await anon('/pubphotos--dev/dev-open.txt');
      expect([devOpen.status, await devOpen.text()]).toEqual([200, 'open on dev']);
      expect((await anon('/pubphotos--v1/dev-open.txt')).status).toBe(200);
      for (const path of ['/pubphotos--dev/closed.txt', '/pubphotos--dev/dev-closed.txt', '/pubphotos--v1/closed.txt']) {
        const res = await anon(path);
        expect(res.status, path).toBe(403);
        expect(await res.text()).toContain('<Code>AccessDenied</Code>');
      }
      expect((await anon('/pubphotos--dev/nope.txt')).status).toBe(404);
      // Main does not see what the branch wrote.
      expect((await anon('/pubphotos/dev-open.txt')).status).toBe(404);
      // Public means read: never write, delete, versions or settings, on any alias.
      for (const alias of ['pubphotos--dev', 'pubphotos--main', 'pubphotos--v1']) {
        expect((await anon(`/${alias}/new.txt`, { method: 'PUT', body: 'x' })).status, alias).toBe(403);
        expect((await anon(`/${alias}/open.txt`, { method: 'DELETE' })).status, alias).toBe(403);
        expect((await anon(`/${alias}?versions`)).status, alias).toBe(403);
        expect((await anon(`/${alias}?acl`)).status, alias).toBe(403);
      }
      expect(await keys(t.s3, 'pubphotos--dev')).toEqual(['closed.txt', 'dev-closed.txt', 'dev-open.txt', 'open.txt']);
      expect(await keys(t.s3, 'pubphotos')).toEqual(['closed.txt', 'open.txt']);
    });

    it("a bucket policy's public read reaches its branches as the bucket ACL does, and never breaks a request", async () => {
      expect((await anon('/polphotos/public/a.txt')).status).toBe(200);
      expect((await anon('/polphotos/private/b.txt')).status).toBe(403);
      // Through the branch: the bucket's policy is the bucket's settings, shared by every branch (as its ACL is).
      const pub = await anon('/polphotos--dev/public/a.txt');
      expect([pub.status, await pub.text()]).toEqual([200, 'public a']);
      const priv = await anon('/polphotos--dev/private/b.txt');
      expect(priv.status).toBe(403);
      expect(await priv.text()).toContain('<Code>AccessDenied</Code>');
      // Not listable: the policy grants no s3:ListBucket.
      expect((await anon('/polphotos--dev?list-type=2')).status).toBe(403);
    });

    it('a key allowed to read (not list) on a branch of a bucket with a policy reads it; a missing key looks refused', async () => {
      const reader = (await scopedKey('dev reader', [{ effect: 'allow', actions: ['read'], resources: ['polphotos--dev/*'] }])).s3;
      expect(await text(reader, 'polphotos--dev', 'private/b.txt')).toBe('private b');
      expect(await refusal(reader.send(new GetObjectCommand({ Bucket: 'polphotos--dev', Key: 'private/none.txt' })))).toBe(DENIED);
      expect(await refusal(reader.send(new ListObjectsV2Command({ Bucket: 'polphotos--dev' })))).toBe(DENIED);
    });
  });

  describe('the branch admin API', () => {
    beforeAll(async () => {
      await branchedBucket('adminphotos');
      await t.s3.send(new PutObjectCommand({ Bucket: 'adminphotos', Key: 'a.txt', Body: 'a' }));
    });

    it('refuses a member without the admin action; a member with it creates, tags and deletes branches', async () => {
      const writer = (await scopedKey('writer', [{ effect: 'allow', actions: RWLD, resources: ['adminphotos/*'] }])).creds;
      const branchOnly = (await scopedKey('branch writer', [{ effect: 'allow', actions: RWLD, resources: ['adminphotos--dev/*'] }])).creds;
      const owner = (
        await scopedKey('owner', [{ effect: 'allow', actions: [...RWLD, 'admin'], resources: ['adminphotos', 'adminphotos/*'] }])
      ).creds;

      for (const [who, creds] of [
        ['writer', writer],
        ['branch writer', branchOnly],
      ] as const) {
        const create = await api('POST', '/buckets/adminphotos/branches', { name: 'dev' }, creds);
        expect(create.status, who).toBe(403);
        expect(create.json.error.code, who).toBe('Forbidden');
        expect((await api('POST', '/buckets/adminphotos/tags', { name: 'v0', at: 'main' }, creds)).status, who).toBe(403);
      }
      expect((await api('GET', '/buckets/adminphotos/branches')).json.branches.map((b: any) => b.name)).toEqual(['main']);

      const created = await api('POST', '/buckets/adminphotos/branches', { name: 'dev' }, owner);
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      expect(created.json.createdBy).toBe(`key:${owner.accessKeyId}`);
      // Once it exists, the writer still may not change it, only read the list (list action on the bucket).
      expect((await api('GET', '/buckets/adminphotos/branches', undefined, writer)).status).toBe(200);
      expect((await api('DELETE', '/buckets/adminphotos/branches/dev', undefined, writer)).status).toBe(403);
      expect((await api('POST', '/buckets/adminphotos/branches/main/merges', { source: 'dev' }, writer)).status).toBe(403);
      // The branch-scoped key reaches no part of the bucket named adminphotos in the admin API.
      expect((await api('GET', '/buckets/adminphotos/branches', undefined, branchOnly)).status).toBe(403);
      // But it writes the branch through S3.
      await t.client(branchOnly).send(new PutObjectCommand({ Bucket: 'adminphotos--dev', Key: 'b.txt', Body: 'b' }));
      // And commits the branch it may write, not main (nor any other branch).
      const committed = await api('POST', '/buckets/adminphotos/branches/dev/commits', { message: 'by the branch key' }, branchOnly);
      expect(committed.status, JSON.stringify(committed.json)).toBe(201);
      expect(committed.json.message).toBe('by the branch key');
      expect((await api('POST', '/buckets/adminphotos/branches/main/commits', { message: 'no' }, branchOnly)).status).toBe(403);
      // The bucket-wide writer commits any branch.
      expect((await api('POST', '/buckets/adminphotos/branches/main/commits', { message: 'main' }, writer)).status).toBe(201);

      expect((await api('POST', '/buckets/adminphotos/tags', { name: 'v1', at: 'dev' }, owner)).status).toBe(201);
      expect((await api('DELETE', '/buckets/adminphotos/tags/v1', undefined, owner)).status).toBe(204);
      expect((await api('DELETE', '/buckets/adminphotos/branches/dev', undefined, owner)).status).toBe(204);
      expect((await api('GET', '/buckets/adminphotos/branches')).json.branches.map((b: any) => b.name)).toEqual(['main']);
    });

    it('lists main first, as the route documents ("main first"), whatever the other branches are called', async () => {
      for (const name of ['alpha', 'zeta']) expect((await api('POST', '/buckets/adminphotos/branches', { name })).status).toBe(201);
      const list = await api('GET', '/buckets/adminphotos/branches');
      expect(list.json.branches.map((b: any) => b.name)).toEqual(['main', 'alpha', 'zeta']);
    });
  });
});
