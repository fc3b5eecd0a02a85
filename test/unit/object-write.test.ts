import crypto from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { BodyDigester } from '../../src/blobs/index.js';
import { assembleParts, MIN_PART_SIZE } from '../../src/core/multipart/parts.js';
import { verifyDigests } from '../../src/core/objects/digests.js';
import { AnvilError } from '../../src/errors.js';
import { toS3Error } from '../../src/s3/errors.js';

const body = Buffer.from('hello, verify step');

function digests() {
  const d = new BodyDigester({ sha256: true, checksums: ['crc32'] });
  d.update(body);
  return d.digest();
}

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AnvilError ? err.reason : 'not a domain error';
  }
  return undefined;
}

describe('verifyDigests (the verify step of a write)', () => {
  const md5 = crypto.createHash('md5').update(body).digest('base64');
  const sha = crypto.createHash('sha256').update(body).digest('hex');

  it('returns every computed checksum once what the client promised holds', () => {
    const d = digests();
    const stored = verifyDigests(d, {
      length: body.length,
      sha256: sha.toUpperCase(),
      contentMd5: md5,
      checksums: { crc32: d.checksums.crc32 },
    });
    expect(stored).toEqual({ crc32: d.checksums.crc32 });
  });

  it('refuses with the reason S3 gives for each broken promise', () => {
    const d = digests();
    expect(reasonOf(() => verifyDigests(d, { length: body.length + 1 }))).toBe('IncompleteBody');
    expect(reasonOf(() => verifyDigests(d, { sha256: '0'.repeat(64) }))).toBe('XAmzContentSHA256Mismatch');
    expect(reasonOf(() => verifyDigests(d, { contentMd5: 'not-md5' }))).toBe('InvalidDigest');
    expect(reasonOf(() => verifyDigests(d, { contentMd5: crypto.createHash('md5').update('x').digest('base64') }))).toBe('BadDigest');
    expect(reasonOf(() => verifyDigests(d, { trailingChecksums: () => ({ crc32: 'AAAAAA==' }) }))).toBe('BadDigest');
    expect(reasonOf(() => verifyDigests(d, { maxSize: 3 }))).toBe('EntityTooLarge');
    expect(reasonOf(() => verifyDigests(d, { minSize: 1000 }))).toBe('EntityTooSmall');
  });

  it('is answered on the S3 edge with the code, status and elements S3 uses', () => {
    let err: unknown;
    try {
      verifyDigests(digests(), { sha256: '0'.repeat(64) });
    } catch (e) {
      err = e;
    }
    const s3 = toS3Error(err);
    expect([s3.code, s3.status]).toEqual(['XAmzContentSHA256Mismatch', 400]);
    expect(s3.extra).toEqual({ ClientComputedContentSHA256: '0'.repeat(64), S3ComputedContentSHA256: sha });
  });
});

describe('assembleParts (the part list of a Complete)', () => {
  const part = (n: number, size: number, etag: string) => ({
    upload_id: 'u',
    part_number: n,
    blob_hash: `h${n}`,
    size,
    etag,
    checksums: '{}',
    created_at: 0,
  });
  const md5hex = (s: string) => crypto.createHash('md5').update(s).digest('hex');
  const rows = [part(1, MIN_PART_SIZE, md5hex('a')), part(2, 10, md5hex('b')), part(3, 10, md5hex('c'))];

  it('makes the object of the listed parts and releases the others', () => {
    const { content, unused } = assembleParts(
      'u',
      undefined,
      [
        { partNumber: 1, etag: `"${md5hex('a')}"` },
        { partNumber: 2, etag: md5hex('b') },
      ],
      rows,
    );
    expect(content.size).toBe(MIN_PART_SIZE + 10);
    expect(content.manifest).toEqual([
      ['h1', MIN_PART_SIZE],
      ['h2', 10],
    ]);
    expect(content.etag).toMatch(/^[0-9a-f]{32}-2$/);
    expect(unused).toEqual([['h3', 10]]);
  });

  it('refuses lists out of order, unknown parts and small parts before the last', () => {
    expect(
      reasonOf(() =>
        assembleParts(
          'u',
          undefined,
          [
            { partNumber: 2, etag: md5hex('b') },
            { partNumber: 1, etag: md5hex('a') },
          ],
          rows,
        ),
      ),
    ).toBe('InvalidPartOrder');
    expect(reasonOf(() => assembleParts('u', undefined, [{ partNumber: 1, etag: md5hex('x') }], rows))).toBe('InvalidPart');
    expect(
      reasonOf(() =>
        assembleParts(
          'u',
          undefined,
          [
            { partNumber: 2, etag: md5hex('b') },
            { partNumber: 3, etag: md5hex('c') },
          ],
          rows,
        ),
      ),
    ).toBe('EntityTooSmall');
  });
});
