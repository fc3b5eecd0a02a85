/**
 * The verify step of a write: what the client promised about the body
 * (its length, signed SHA-256, Content-MD5, x-amz-checksum-* values, a
 * POST policy's size range), compared with what staging computed. The
 * protocol layer hands these over as data; a body that fails any check is
 * abandoned, never committed.
 */
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, type Digests } from '../../blobs/index.js';
import { AnvilError, fail } from '../../errors.js';

type Checksums = Partial<Record<ChecksumAlgorithm, string>>;

export interface ExpectedBody {
  /** The length the client declared (Content-Length, x-amz-decoded-content-length). */
  length?: number;
  /** Size bounds (a POST policy's content-length-range). */
  minSize?: number;
  maxSize?: number;
  /** The signed payload hash (x-amz-content-sha256), hex as the client sent it. */
  sha256?: string;
  /** Content-MD5 as the client sent it (base64). */
  contentMd5?: string;
  /** Checksums the client sent before the body (headers), by algorithm. */
  checksums?: Checksums;
  /** Checksums that arrive after the body (aws-chunked trailers): read once the body has ended. */
  trailingChecksums?: () => Checksums;
  /** Checksum algorithms to compute and store (those sent, announced or asked for). */
  algorithms?: ChecksumAlgorithm[];
}

const digestErrors = {
  incompleteBody: () =>
    fail.invalid('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.'),
  sha256Mismatch: (client: string, computed: string) =>
    fail.invalid('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
      ClientComputedContentSHA256: client,
      S3ComputedContentSHA256: computed,
    }),
  invalidDigest: () => fail.invalid('InvalidDigest', 'The Content-MD5 you specified is not valid.'),
  badDigest: (message = 'The Content-MD5 you specified did not match what we received.') => fail.invalid('BadDigest', message),
  tooSmall: (min: number) =>
    new AnvilError('Invalid', 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { MinSizeAllowed: min }),
};

/** Which digests beyond BLAKE3 and MD5 staging computes. */
export interface DigestRequest {
  sha256?: boolean;
  checksums?: ChecksumAlgorithm[];
}

/** What staging must compute to check `expect`. */
export function digestSpec(expect: ExpectedBody | undefined): DigestRequest {
  return { sha256: expect?.sha256 !== undefined, checksums: [...(expect?.algorithms ?? [])] };
}

/**
 * Throws the precise domain error if the received body is not what the
 * client promised; returns the checksums to store with it (every one
 * computed, now verified where the client sent one).
 */
export function verifyDigests(d: Digests, expect: ExpectedBody = {}): Checksums {
  if (expect.length !== undefined && d.size !== expect.length) throw digestErrors.incompleteBody();
  if (expect.maxSize !== undefined && d.size > expect.maxSize) throw fail.entityTooLarge(expect.maxSize);
  if (expect.minSize !== undefined && d.size < expect.minSize) throw digestErrors.tooSmall(expect.minSize);
  if (expect.sha256 !== undefined) {
    const computed = d.sha256!.toString('hex');
    if (computed !== expect.sha256.toLowerCase()) throw digestErrors.sha256Mismatch(expect.sha256, computed);
  }
  if (expect.contentMd5 !== undefined) {
    const given = Buffer.from(expect.contentMd5, 'base64');
    if (given.length !== 16 || given.toString('base64') !== expect.contentMd5.trim()) throw digestErrors.invalidDigest();
    if (!given.equals(d.md5)) throw digestErrors.badDigest();
  }
  const trailing = expect.trailingChecksums?.() ?? {};
  const stored: Checksums = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const computed = d.checksums[alg];
    if (computed === undefined) continue;
    const given = expect.checksums?.[alg] ?? trailing[alg];
    if (given !== undefined && given.trim() !== computed) {
      throw digestErrors.badDigest(`The ${alg.toUpperCase()} you specified did not match the calculated checksum.`);
    }
    stored[alg] = computed;
  }
  return stored;
}
