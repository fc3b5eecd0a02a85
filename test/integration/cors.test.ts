import { DeleteBucketCorsCommand, GetBucketCorsCommand, PutBucketCorsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
describeEachEngine('CORS', (engine) => {
  const t = useAnvil(engine, { buckets: ['web'] });

  const preflight = (origin: string, method: string, headers?: string) =>
    fetch(`${t.endpoint}/web/upload.txt`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': method,
        ...(headers ? { 'Access-Control-Request-Headers': headers } : {}),
      },
    });

  it('refuses preflights until a configuration exists, then answers them from the rules', async () => {
    expect((await preflight('https://app.example', 'PUT')).status).toBe(403);
    expect((await s3Error(t.s3.send(new GetBucketCorsCommand({ Bucket: 'web' })))).name).toBe('NoSuchCORSConfiguration');
    await t.s3.send(
      new PutBucketCorsCommand({
        Bucket: 'web',
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedOrigins: ['https://*.example'],
              AllowedMethods: ['PUT', 'GET'],
              AllowedHeaders: ['content-type', 'x-amz-*'],
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: 600,
            },
            { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
          ],
        },
      }),
    );
    const got = await t.s3.send(new GetBucketCorsCommand({ Bucket: 'web' }));
    expect(got.CORSRules?.[0].AllowedOrigins).toEqual(['https://*.example']);
    expect(got.CORSRules?.[0].MaxAgeSeconds).toBe(600);

    const ok = await preflight('https://app.example', 'PUT', 'Content-Type, X-Amz-Date');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(ok.headers.get('access-control-allow-methods')).toBe('PUT, GET');
    expect(ok.headers.get('access-control-allow-headers')).toBe('content-type, x-amz-date');
    expect(ok.headers.get('access-control-max-age')).toBe('600');
    expect(ok.headers.get('access-control-expose-headers')).toBe('ETag');
    expect((await preflight('https://evil.test', 'PUT')).status).toBe(403);
    expect((await preflight('https://app.example', 'DELETE')).status).toBe(403);
    expect((await preflight('https://app.example', 'PUT', 'authorization-x')).status).toBe(403);
    const anyGet = await preflight('https://anyone.test', 'GET');
    expect(anyGet.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('adds CORS headers to real cross-origin requests (a browser upload through a presigned URL)', async () => {
    const url = await getSignedUrl(t.s3, new PutObjectCommand({ Bucket: 'web', Key: 'upload.txt' }), { expiresIn: 60 });
    const res = await fetch(url, { method: 'PUT', body: 'from the browser', headers: { Origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag');
    const denied = await fetch(url, { method: 'PUT', body: 'x', headers: { Origin: 'https://evil.test' } });
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('validates and deletes the configuration', async () => {
    const bad = await s3Error(
      t.s3.send(
        new PutBucketCorsCommand({
          Bucket: 'web',
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] },
        }),
      ),
    );
    expect(bad.$metadata.httpStatusCode).toBe(400);
    await t.s3.send(new DeleteBucketCorsCommand({ Bucket: 'web' }));
    expect((await preflight('https://app.example', 'PUT')).status).toBe(403);
  });
});
