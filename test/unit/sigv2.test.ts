/**
 * SigV2 verification against the worked examples of AWS's "Signing and
 * authenticating REST requests" page (their keys, dates and signatures), run
 * through the S3 front's dispatcher; and the admin API's verifier, which
 * stays SigV4 only.
 */
import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { authenticateS3 } from '../../src/s3/auth/authenticate.js';
import { authenticate } from '../../src/s3/auth/sigv4.js';
import { S3Error } from '../../src/s3/errors.js';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const HOST = 'awsexamplebucket1.s3.us-west-1.amazonaws.com';

function ctx(now: string, enabled = true) {
  return {
    region: 'us-east-1',
    now: () => new Date(now),
    maxSkewMs: 15 * 60 * 1000,
    lookupSecret: async (id: string) => (id === AKID ? SECRET : null),
    sigv2: { enabled, virtualHostBucket: 'awsexamplebucket1' },
  };
}

async function s3Error(p: Promise<unknown>): Promise<S3Error> {
  const err = await p.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S3Error);
  return err as S3Error;
}

describe('SigV2 against the AWS documentation examples', () => {
  const get = {
    method: 'GET',
    url: '/photos/puppy.jpg',
    headers: { host: HOST, date: 'Tue, 27 Mar 2007 19:36:42 +0000', authorization: `AWS ${AKID}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=` },
  };

  it('accepts the GET object, PUT object and list examples (virtual-host style, unsigned list parameters)', async () => {
    expect(await authenticateS3(get, ctx('2007-03-27T19:40:00Z'))).toEqual({
      kind: 'signed',
      accessKeyId: AKID,
      payload: { type: 'unsigned' },
    });
    const put = {
      method: 'PUT',
      url: '/photos/puppy.jpg',
      headers: {
        host: HOST,
        'content-type': 'image/jpeg',
        'content-length': '94328',
        date: 'Tue, 27 Mar 2007 21:15:45 +0000',
        authorization: `AWS ${AKID}:iqRzw+ileNPu1fhspnRs8nOjjIA=`,
      },
    };
    expect((await authenticateS3(put, ctx('2007-03-27T21:16:00Z'))).kind).toBe('signed');
    const list = {
      method: 'GET',
      url: '/?prefix=photos&max-keys=50&marker=puppy',
      headers: { host: HOST, date: 'Tue, 27 Mar 2007 19:42:41 +0000', authorization: `AWS ${AKID}:m0WP8eCtspQl5Ahe6L1SozdX9YA=` },
    };
    expect((await authenticateS3(list, ctx('2007-03-27T19:43:00Z'))).kind).toBe('signed');
  });

  it('refuses the same request changed, late, unknown, or with SigV2 turned off', async () => {
    const now = '2007-03-27T19:40:00Z';
    expect((await s3Error(authenticateS3({ ...get, method: 'HEAD' }, ctx(now)))).code).toBe('SignatureDoesNotMatch');
    expect((await s3Error(authenticateS3({ ...get, url: '/photos/puppy.jpg?acl' }, ctx(now)))).code).toBe('SignatureDoesNotMatch');
    const withAmz = { ...get, headers: { ...get.headers, 'x-amz-meta-x': '1' } };
    expect((await s3Error(authenticateS3(withAmz, ctx(now)))).code).toBe('SignatureDoesNotMatch');
    const skewed = await s3Error(authenticateS3(get, ctx('2007-03-27T20:00:00Z')));
    expect([skewed.code, skewed.status]).toEqual(['RequestTimeTooSkewed', 403]);
    const unknown = { ...get, headers: { ...get.headers, authorization: 'AWS AKIANOSUCHKEY:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=' } };
    expect((await s3Error(authenticateS3(unknown, ctx(now)))).code).toBe('InvalidAccessKeyId');
    const off = await s3Error(authenticateS3(get, ctx(now, false)));
    expect([off.code, off.status]).toEqual(['AccessDenied', 403]);
    expect(off.message).toMatch(/turned off on this server \(option sigv2\)/);
  });

  it("takes Debian botocore's doubled fixed query (`?tagging?tagging`), and only for its fixed queries", async () => {
    const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
    const signed = (text: string) => `AWS ${AKID}:${createHmac('sha1', SECRET).update(`GET\n\n\n${date}\n${text}`).digest('base64')}`;
    const request = (url: string, resource: string) => ({
      method: 'GET',
      url,
      headers: { host: HOST, date, authorization: signed(resource) },
    });
    const now = ctx('2007-03-27T19:40:00Z');
    const resource = '/awsexamplebucket1/photos/puppy.jpg';
    expect((await authenticateS3(request('/photos/puppy.jpg?tagging', `${resource}?tagging?tagging`), now)).kind).toBe('signed');
    expect((await authenticateS3(request('/?list-type=2&prefix=p', '/awsexamplebucket1?list-type=2'), now)).kind).toBe('signed');
    // Not a fixed query of botocore's: no such reading.
    const prefix = await s3Error(authenticateS3(request('/photos/puppy.jpg?prefix=x&tagging', `${resource}?prefix=x?tagging`), now));
    expect(prefix.code).toBe('SignatureDoesNotMatch');
    // The reading never drops a signed sub-resource.
    const dropped = await s3Error(authenticateS3(request('/photos/puppy.jpg?tagging&versionId=1', `${resource}?tagging?tagging`), now));
    expect(dropped.code).toBe('SignatureDoesNotMatch');
  });

  it('is not accepted by the SigV4-only verifier the admin API uses', async () => {
    const err = await s3Error(authenticate(get, ctx('2007-03-27T19:40:00Z')));
    expect([err.code, err.message]).toEqual(['InvalidRequest', expect.stringMatching(/Please use AWS4-HMAC-SHA256/)]);
  });
});
