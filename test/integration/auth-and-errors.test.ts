import crypto from 'node:crypto';

import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { beforeAll, expect, it } from 'vitest';

import { blobFiles, describeEachEngine, s3Error, stagedFiles, startTestAnvil, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

function sha256hex(b: Buffer | string): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

describeEachEngine('authentication and bad input', (engine) => {
  const t = useAnvil(engine, { buckets: ['guarded'] });
  let baseline: number;
  beforeAll(async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'present', Body: 'here' }));
    baseline = blobFiles(t.dataDir).length;
  });

  /** Bad input changes nothing: the key is absent and no blob or staged file is left. */
  async function expectNothingStored(key: string) {
    const err = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: 'guarded', Key: key })));
    expect(err.name).toBe('NoSuchKey');
    expect(blobFiles(t.dataDir).length).toBe(baseline);
    expect(stagedFiles(t.dataDir)).toEqual([]);
  }

  it('rejects a wrong secret with SignatureDoesNotMatch', async () => {
    const bad = t.client({ accessKeyId: t.accessKeyId, secretAccessKey: 'not-the-secret-at-all' });
    const err = await s3Error(bad.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'wrong-secret', Body: 'x' })));
    expect(err.name).toBe('SignatureDoesNotMatch');
    expect(err.$metadata.httpStatusCode).toBe(403);
    await expectNothingStored('wrong-secret');
  });

  it('rejects an unknown key with InvalidAccessKeyId', async () => {
    const bad = t.client({ accessKeyId: 'AKIDOESNOTEXIST00000', secretAccessKey: 'whatever-secret' });
    const err = await s3Error(bad.send(new ListObjectsV2Command({ Bucket: 'guarded' })));
    expect(err.name).toBe('InvalidAccessKeyId');
    expect(err.$metadata.httpStatusCode).toBe(403);
  });

  it('rejects a request signed for another region', async () => {
    const res = await signedFetch(t, 'GET', `${t.endpoint}/guarded?list-type=2`, { region: 'eu-central-1', payloadHash: sha256hex('') });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>AuthorizationHeaderMalformed</Code>');
  });

  it('rejects a skewed clock with RequestTimeTooSkewed', async () => {
    const skewed = t.client(undefined, { systemClockOffset: -20 * 60 * 1000 });
    const err = await s3Error(skewed.send(new ListObjectsV2Command({ Bucket: 'guarded' })));
    expect(err.name).toBe('RequestTimeTooSkewed');
    expect(err.$metadata.httpStatusCode).toBe(403);
  });

  it('refuses anonymous requests with AccessDenied', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/guarded'],
      ['GET', '/guarded/present'],
      ['PUT', '/guarded/anon'],
    ] as const) {
      const res = await fetch(`${t.endpoint}${path}`, { method, body: method === 'PUT' ? 'x' : undefined });
      expect(res.status).toBe(403);
      const text = await res.text();
      expect(text).toContain('<Code>AccessDenied</Code>');
      expect(text).not.toContain('here');
      expect(res.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
    }
    await expectNothingStored('anon');
  });

  it('serves a presigned GET and refuses it once expired or tampered', async () => {
    const url = await getSignedUrl(t.s3, new GetObjectCommand({ Bucket: 'guarded', Key: 'present' }), { expiresIn: 60 });
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('here');
    const tampered = await fetch(url.replace('present', 'presenT'));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const expired = await getSignedUrl(t.s3, new GetObjectCommand({ Bucket: 'guarded', Key: 'present' }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 2 * 60 * 60 * 1000),
    });
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/<Code>AccessDenied<\/Code>[\s\S]*expired/);
  });

  it('accepts a presigned PUT', async () => {
    const url = await getSignedUrl(t.s3, new PutObjectCommand({ Bucket: 'guarded', Key: 'presigned-put' }), { expiresIn: 60 });
    const res = await fetch(url, { method: 'PUT', body: 'uploaded by url' });
    expect(res.status).toBe(200);
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'guarded', Key: 'presigned-put' }));
    expect(await get.Body!.transformToString()).toBe('uploaded by url');
    baseline = blobFiles(t.dataDir).length;
  });

  it('verifies a signed payload hash (XAmzContentSHA256Mismatch)', async () => {
    const res = await signedFetch(t, 'PUT', `${t.endpoint}/guarded/sha-mismatch`, {
      body: 'actual body',
      payloadHash: sha256hex('another body'),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    await expectNothingStored('sha-mismatch');
    const good = await signedFetch(t, 'PUT', `${t.endpoint}/guarded/sha-ok`, {
      body: 'actual body',
      payloadHash: sha256hex('actual body'),
    });
    expect(good.status).toBe(200);
    baseline = blobFiles(t.dataDir).length;
  });

  it('rejects a wrong Content-MD5 with BadDigest and an invalid one with InvalidDigest', async () => {
    const wrongMd5 = crypto.createHash('md5').update('something else').digest('base64');
    const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'md5', Body: 'payload', ContentMD5: wrongMd5 })));
    expect(err.name).toBe('BadDigest');
    expect(err.$metadata.httpStatusCode).toBe(400);
    await expectNothingStored('md5');
    const invalid = await s3Error(
      t.s3.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'md5', Body: 'payload', ContentMD5: 'bm90LW1kNQ==' })),
    );
    expect(invalid.name).toBe('InvalidDigest');
    await expectNothingStored('md5');
  });

  it('rejects a wrong x-amz-checksum header with BadDigest', async () => {
    for (const alg of ['crc32', 'crc32c', 'sha1', 'sha256']) {
      const res = await signedFetch(t, 'PUT', `${t.endpoint}/guarded/checksum-${alg}`, {
        body: 'checked body',
        payloadHash: 'UNSIGNED-PAYLOAD',
        headers: {
          [`x-amz-checksum-${alg}`]:
            alg === 'sha256'
              ? crypto.createHash('sha256').update('x').digest('base64')
              : alg === 'sha1'
                ? crypto.createHash('sha1').update('x').digest('base64')
                : 'AAAAAA==',
        },
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('<Code>BadDigest</Code>');
      await expectNothingStored(`checksum-${alg}`);
    }
  });

  it('stores and returns SHA-256 and CRC32C checksums the client sends', async () => {
    const body = crypto.randomBytes(10_000);
    const put = await t.s3.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'sha256-sum', Body: body, ChecksumAlgorithm: 'SHA256' }));
    expect(put.ChecksumSHA256).toBe(crypto.createHash('sha256').update(body).digest('base64'));
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'guarded', Key: 'sha256-sum', ChecksumMode: 'ENABLED' }));
    expect(get.ChecksumSHA256).toBe(put.ChecksumSHA256);
    expect(Buffer.from(await get.Body!.transformToByteArray()).equals(body)).toBe(true);
    const put2 = await t.s3.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'crc32c-sum', Body: body, ChecksumAlgorithm: 'CRC32C' }));
    const head = await t.s3.send(new GetObjectCommand({ Bucket: 'guarded', Key: 'crc32c-sum', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumCRC32C).toBe(put2.ChecksumCRC32C);
    await head.Body!.transformToByteArray();
    baseline = blobFiles(t.dataDir).length;
  });

  it('rejects malformed XML with MalformedXML', async () => {
    const body = '<CreateBucketConfiguration><LocationConstraint>us-east-1</Loc';
    const res = await signedFetch(t, 'PUT', `${t.endpoint}/xml-bucket`, { body, payloadHash: sha256hex(body) });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>MalformedXML</Code>');
    const list = await signedFetch(t, 'GET', `${t.endpoint}/`, { payloadHash: sha256hex('') });
    expect(await list.text()).not.toContain('xml-bucket');
  });

  it('rejects bodies over the size limit with EntityTooLarge', async () => {
    const small = await startTestAnvil(engine, { maxObjectSize: 1000 });
    try {
      await small.s3.send(new CreateBucketCommand({ Bucket: 'tiny' }));
      const err = await s3Error(small.s3.send(new PutObjectCommand({ Bucket: 'tiny', Key: 'big', Body: Buffer.alloc(5000) })));
      expect(err.name).toBe('EntityTooLarge');
      expect(blobFiles(small.dataDir)).toEqual([]);
      expect(stagedFiles(small.dataDir)).toEqual([]);
    } finally {
      await small.stop();
    }
  });

  it('answers NotImplemented for operations Anvil does not support yet', async () => {
    const res = await signedFetch(t, 'GET', `${t.endpoint}/guarded?lifecycle`, { payloadHash: sha256hex('') });
    expect(res.status).toBe(501);
    expect(await res.text()).toContain('<Code>NotImplemented</Code>');
  });

  it('serves virtual-host-style requests', async () => {
    const http = await import('node:http');
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    // Resolve every host name to loopback so bucket.localhost reaches the test server.
    const lookup = (_host: string, opts: any, cb: any) => {
      if (opts && opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    };
    const agent = new http.Agent({ lookup } as any);
    const vhost = t.client(undefined, {
      endpoint: `http://localhost:${t.anvil.port}`,
      forcePathStyle: false,
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
    });
    await vhost.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'vhost/key', Body: 'virtual' }));
    const get = await t.s3.send(new GetObjectCommand({ Bucket: 'guarded', Key: 'vhost/key' }));
    expect(await get.Body!.transformToString()).toBe('virtual');
    const list = await vhost.send(new ListObjectsV2Command({ Bucket: 'guarded', Prefix: 'vhost/' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual(['vhost/key']);
    baseline = blobFiles(t.dataDir).length;
  });
});
