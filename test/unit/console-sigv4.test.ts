/**
 * The console's own SHA-256, HMAC and SigV4 (console/src/sigv4.ts, written
 * out because WebCrypto is missing on plain-HTTP LAN origins) agree with
 * Node's crypto and with the AWS SDK's signer.
 */
import crypto from 'node:crypto';

import { HttpRequest } from '@smithy/protocol-http';
import { describe, expect, it } from 'vitest';

import { hex, hmac, presign, sha256, signHeaders, uriEncode } from '../../console/src/sigv4.js';
import { sdkSigner } from '../support/sdk-signer.js';

const creds = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const now = new Date('2026-03-04T05:06:07Z');

describe('console SigV4', () => {
  it('hashes like node:crypto at every padding boundary', () => {
    for (let n = 0; n < 300; n++) {
      const data = crypto.randomBytes(n);
      expect(hex(sha256(data))).toBe(crypto.createHash('sha256').update(data).digest('hex'));
    }
    for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
      const key = crypto.randomBytes(keyLength);
      expect(hex(hmac(key, 'message ✓'))).toBe(crypto.createHmac('sha256', key).update('message ✓').digest('hex'));
    }
  });

  it('presigns as the AWS SDK does', async () => {
    const key = 'folder/a b+c(1)*ü.txt';
    const ours = presign({
      method: 'GET',
      path: `/bucket/${uriEncode(key, true)}`,
      query: [['versionId', 'v 1']],
      host: 'localhost:9000',
      region: 'us-east-1',
      credentials: creds,
      expiresSeconds: 300,
      now,
    });
    const request = new HttpRequest({
      method: 'GET',
      protocol: 'http:',
      hostname: 'localhost',
      port: 9000,
      path: `/bucket/${uriEncode(key, true)}`,
      query: { versionId: 'v 1' },
      headers: { host: 'localhost:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    // As @aws-sdk/s3-request-presigner does: the payload is unsigned, the header only says so.
    const signed = await sdkSigner(creds).presign(request, {
      signingDate: now,
      expiresIn: 300,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(['x-amz-content-sha256']),
    });
    expect(new URLSearchParams(ours.split('?')[1]).get('X-Amz-Signature')).toBe(signed.query!['X-Amz-Signature']);
  });

  it('signs headers and body as the AWS SDK does', async () => {
    const body = JSON.stringify({ name: 'uploader' });
    const ours = signHeaders({
      method: 'POST',
      path: '/admin/v1/tenants/root/keys',
      host: 'localhost:9000',
      region: 'us-east-1',
      credentials: creds,
      body,
      now,
    });
    const request = new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: 'localhost',
      port: 9000,
      path: '/admin/v1/tenants/root/keys',
      headers: { host: 'localhost:9000', 'x-amz-content-sha256': ours['x-amz-content-sha256'] },
      body,
    });
    const signed = await sdkSigner(creds).sign(request, { signingDate: now });
    expect(ours.authorization).toBe(signed.headers.authorization);
  });

  it('signs extra headers (x-amz-acl, content-type) as the AWS SDK does', async () => {
    const body = '<Tagging><TagSet/></Tagging>';
    const ours = signHeaders({
      method: 'PUT',
      path: '/bucket',
      query: [['acl', '']],
      host: 'localhost:9000',
      region: 'us-east-1',
      credentials: creds,
      body,
      headers: { 'x-amz-acl': 'public-read', 'Content-Type': 'application/xml' },
      now,
    });
    expect(ours['x-amz-acl']).toBe('public-read');
    expect(ours['content-type']).toBe('application/xml');
    const request = new HttpRequest({
      method: 'PUT',
      protocol: 'http:',
      hostname: 'localhost',
      port: 9000,
      path: '/bucket',
      query: { acl: '' },
      headers: {
        host: 'localhost:9000',
        'x-amz-content-sha256': ours['x-amz-content-sha256'],
        'x-amz-acl': 'public-read',
        'content-type': 'application/xml',
      },
      body,
    });
    const signed = await sdkSigner(creds).sign(request, { signingDate: now });
    expect(ours.authorization).toBe(signed.headers.authorization);
  });
});
