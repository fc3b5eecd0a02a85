/**
 * Public access: canned ACLs (bucket public-read = anonymous listing, object
 * public-read = anonymous GET/HEAD) and bucket policies in the supported
 * subset; everything outside it is refused and changes nothing.
 */
import {
  CopyObjectCommand,
  DeleteBucketPolicyCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetObjectAclCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  PutObjectAclCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';

describeEachEngine('public access', (engine) => {
  const t = useAnvil(engine, { buckets: [{ Bucket: 'open-list', ACL: 'public-read' }, 'by-policy'] });
  /** An anonymous caller: plain HTTP, no signature. */
  const anon = (path: string, init: RequestInit = {}) => fetch(`${t.endpoint}${path}`, init);

  beforeAll(async () => {
    for (const [Bucket, Key] of [
      ['open-list', 'private.txt'],
      ['by-policy', 'public/a.txt'],
      ['by-policy', 'private/b.txt'],
    ]) {
      await t.s3.send(new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}` }));
    }
    await t.s3.send(new PutObjectCommand({ Bucket: 'open-list', Key: 'shared.txt', Body: 'shared body', ACL: 'public-read' }));
  });

  it('a public-read bucket is listable anonymously; only public-read objects are readable', async () => {
    const list = await anon('/open-list?list-type=2');
    expect(list.status).toBe(200);
    const xml = await list.text();
    expect(xml).toContain('<Key>private.txt</Key>');
    expect(xml).toContain('<Key>shared.txt</Key>');
    const shared = await anon('/open-list/shared.txt');
    expect(shared.status).toBe(200);
    expect(await shared.text()).toBe('shared body');
    expect((await anon('/open-list/shared.txt', { method: 'HEAD' })).status).toBe(200);
    const priv = await anon('/open-list/private.txt');
    expect(priv.status).toBe(403);
    expect(await priv.text()).toContain('<Code>AccessDenied</Code>');
    // Listing is allowed, so a missing key may say so (as S3 does).
    const missing = await anon('/open-list/nope.txt');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('<Code>NoSuchKey</Code>');
    // Public means read: never write, delete or settings.
    expect((await anon('/open-list/new.txt', { method: 'PUT', body: 'x' })).status).toBe(403);
    expect((await anon('/open-list/shared.txt', { method: 'DELETE' })).status).toBe(403);
    expect((await anon('/open-list?acl')).status).toBe(403);
    expect((await anon('/open-list?uploads')).status).toBe(403);
    expect((await anon('/open-list?versions')).status).toBe(403);
    expect((await t.s3.send(new GetObjectAclCommand({ Bucket: 'open-list', Key: 'shared.txt' }))).Grants).toHaveLength(2);
  });

  it('GetBucketAcl and GetObjectAcl report the AllUsers READ grant truthfully', async () => {
    const bucketAcl = await t.s3.send(new GetBucketAclCommand({ Bucket: 'open-list' }));
    expect(bucketAcl.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.URI ?? g.Grantee?.ID, g.Permission])).toEqual([
      ['CanonicalUser', bucketAcl.Owner?.ID, 'FULL_CONTROL'],
      ['Group', ALL_USERS, 'READ'],
    ]);
    const privAcl = await t.s3.send(new GetObjectAclCommand({ Bucket: 'open-list', Key: 'private.txt' }));
    expect(privAcl.Grants).toHaveLength(1);
  });

  it('PutObjectAcl with an AccessControlPolicy body (what s3cmd setacl sends) makes an object public and private again', async () => {
    const owner = (await t.s3.send(new GetBucketAclCommand({ Bucket: 'by-policy' }))).Owner!;
    const grants = (pub: boolean) => ({
      Owner: owner,
      Grants: [
        { Grantee: { Type: 'CanonicalUser' as const, ID: owner.ID }, Permission: 'FULL_CONTROL' as const },
        ...(pub ? [{ Grantee: { Type: 'Group' as const, URI: ALL_USERS }, Permission: 'READ' as const }] : []),
      ],
    });
    expect((await anon('/by-policy/private/b.txt')).status).toBe(403);
    await t.s3.send(new PutObjectAclCommand({ Bucket: 'by-policy', Key: 'private/b.txt', AccessControlPolicy: grants(true) }));
    expect(await (await anon('/by-policy/private/b.txt')).text()).toBe('body of private/b.txt');
    await t.s3.send(new PutObjectAclCommand({ Bucket: 'by-policy', Key: 'private/b.txt', AccessControlPolicy: grants(false) }));
    expect((await anon('/by-policy/private/b.txt')).status).toBe(403);
    // A grant Anvil cannot enforce is refused whole.
    const err = await s3Error(
      t.s3.send(
        new PutObjectAclCommand({
          Bucket: 'by-policy',
          Key: 'private/b.txt',
          AccessControlPolicy: {
            Owner: owner,
            Grants: [...grants(true).Grants, { Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'WRITE' }],
          },
        }),
      ),
    );
    expect(err.$metadata.httpStatusCode).toBe(501);
    expect((await anon('/by-policy/private/b.txt')).status).toBe(403);
  });

  it('a copy does not inherit the source ACL', async () => {
    await t.s3.send(new CopyObjectCommand({ Bucket: 'open-list', Key: 'copy.txt', CopySource: 'open-list/shared.txt' }));
    expect((await anon('/open-list/copy.txt')).status).toBe(403);
    await t.s3.send(
      new CopyObjectCommand({ Bucket: 'open-list', Key: 'copy2.txt', CopySource: 'open-list/shared.txt', ACL: 'public-read' }),
    );
    expect((await anon('/open-list/copy2.txt')).status).toBe(200);
  });

  it('a bucket policy grants anonymous GetObject under a prefix and ListBucket, and nothing else', async () => {
    const readPublic = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::by-policy/public/*' },
      ],
    };
    await t.s3.send(new PutBucketPolicyCommand({ Bucket: 'by-policy', Policy: JSON.stringify(readPublic) }));
    expect(JSON.parse((await t.s3.send(new GetBucketPolicyCommand({ Bucket: 'by-policy' }))).Policy!)).toEqual(readPublic);
    expect(await (await anon('/by-policy/public/a.txt')).text()).toBe('body of public/a.txt');
    expect((await anon('/by-policy/private/b.txt')).status).toBe(403);
    // No ListBucket: a missing key is indistinguishable from a refused one.
    const missing = await anon('/by-policy/public/missing.txt');
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('<Code>AccessDenied</Code>');
    expect((await anon('/by-policy?list-type=2')).status).toBe(403);
    // Another tenant's key counts as "anyone" too.
    await t.anvil.services.tenants.createTenant('other-tenant');
    const other = await t.anvil.services.tenants.createKey('other-tenant');
    const otherClient = t.client({ accessKeyId: other.accessKeyId, secretAccessKey: other.secretAccessKey });
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const got = await otherClient.send(new GetObjectCommand({ Bucket: 'by-policy', Key: 'public/a.txt' }));
    expect(await got.Body!.transformToString()).toBe('body of public/a.txt');
    expect((await s3Error(otherClient.send(new GetObjectCommand({ Bucket: 'by-policy', Key: 'private/b.txt' })))).name).toBe(
      'AccessDenied',
    );

    const withList = {
      Version: '2012-10-17',
      Statement: [
        readPublic.Statement[0],
        { Effect: 'Allow', Principal: { AWS: '*' }, Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::by-policy'] },
      ],
    };
    await t.s3.send(new PutBucketPolicyCommand({ Bucket: 'by-policy', Policy: JSON.stringify(withList) }));
    const list = await anon('/by-policy?list-type=2');
    expect(list.status).toBe(200);
    expect(await list.text()).toContain('<Key>private/b.txt</Key>');
    expect((await anon('/by-policy/public/missing.txt')).status).toBe(404);

    await t.s3.send(new DeleteBucketPolicyCommand({ Bucket: 'by-policy' }));
    expect((await anon('/by-policy/public/a.txt')).status).toBe(403);
    expect((await s3Error(t.s3.send(new GetBucketPolicyCommand({ Bucket: 'by-policy' })))).name).toBe('NoSuchBucketPolicy');
  });

  it('refuses policies outside the supported subset with a clear error and keeps the old one', async () => {
    const good = { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::by-policy/public/*' }] };
    await t.s3.send(new PutBucketPolicyCommand({ Bucket: 'by-policy', Policy: JSON.stringify(good) }));
    const stmt = good.Statement[0];
    const cases: Array<[unknown, string, number]> = [
      ['{not json', 'MalformedPolicy', 400],
      [{ Statement: [{ ...stmt, Effect: 'Deny' }] }, 'NotImplemented', 501],
      [{ Statement: [{ ...stmt, Principal: { AWS: 'arn:aws:iam::123456789012:root' } }] }, 'NotImplemented', 501],
      [{ Statement: [{ ...stmt, Action: 's3:PutObject' }] }, 'NotImplemented', 501],
      [{ Statement: [{ ...stmt, Action: 's3:*' }] }, 'NotImplemented', 501],
      [{ Statement: [{ ...stmt, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }] }, 'NotImplemented', 501],
      [{ Statement: [{ ...stmt, Resource: 'arn:aws:s3:::some-other-bucket/*' }] }, 'MalformedPolicy', 400],
      [{ Statement: [{ ...stmt, Resource: 'arn:aws:s3:::by-policy' }] }, 'MalformedPolicy', 400],
      [{ Statement: [] }, 'MalformedPolicy', 400],
    ];
    for (const [policy, code, status] of cases) {
      const err = await s3Error(
        t.s3.send(
          new PutBucketPolicyCommand({ Bucket: 'by-policy', Policy: typeof policy === 'string' ? policy : JSON.stringify(policy) }),
        ),
      );
      expect([err.name, err.$metadata.httpStatusCode], JSON.stringify(policy)).toEqual([code, status]);
      expect(err.message.length).toBeGreaterThan(10);
    }
    expect(JSON.parse((await t.s3.send(new GetBucketPolicyCommand({ Bucket: 'by-policy' }))).Policy!)).toEqual(good);
    await t.s3.send(new DeleteBucketPolicyCommand({ Bucket: 'by-policy' }));
  });

  it('PutBucketAcl switches anonymous listing on and off', async () => {
    expect((await anon('/by-policy?list-type=2')).status).toBe(403);
    await t.s3.send(new PutBucketAclCommand({ Bucket: 'by-policy', ACL: 'public-read' }));
    expect((await anon('/by-policy?list-type=2')).status).toBe(200);
    expect((await anon('/by-policy', { method: 'HEAD' })).status).toBe(200);
    await t.s3.send(new PutBucketAclCommand({ Bucket: 'by-policy', ACL: 'private' }));
    expect((await anon('/by-policy?list-type=2')).status).toBe(403);
  });
});
