/**
 * Computes every digest a body needs in one pass over its chunks: BLAKE3
 * (the blob's address), MD5 (the ETag), and the optional SHA-256 (signed
 * payloads) and S3 checksums the client asked for. Each chunk is hashed
 * exactly once per algorithm (hashing is on the hot path of every upload).
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';

import { Crc32c } from '@aws-crypto/crc32c';
import { Blake3Hasher } from '@napi-rs/blake-hash';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha1' | 'sha256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'sha1', 'sha256'];

export interface Digests {
  size: number;
  blake3: string;
  md5: Buffer;
  sha256?: Buffer;
  /** base64 values, as S3 transmits them */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

function u32be(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

/** One S3 checksum of a whole buffer, base64 (used for composite multipart checksums). */
export function checksumOf(alg: ChecksumAlgorithm, data: Buffer): string {
  const d = new BodyDigester({ checksums: [alg] });
  d.update(data);
  return d.digest().checksums[alg]!;
}

export class BodyDigester {
  private size = 0;
  private readonly blake3 = new Blake3Hasher();
  private readonly md5 = crypto.createHash('md5');
  private readonly sha256?: crypto.Hash;
  private readonly sha1?: crypto.Hash;
  private crc32?: number;
  private readonly crc32c?: Crc32c;

  constructor(private readonly wanted: { sha256?: boolean; checksums?: Iterable<ChecksumAlgorithm> } = {}) {
    const sums = new Set(wanted.checksums ?? []);
    if (wanted.sha256 || sums.has('sha256')) this.sha256 = crypto.createHash('sha256');
    if (sums.has('sha1')) this.sha1 = crypto.createHash('sha1');
    if (sums.has('crc32')) this.crc32 = 0;
    if (sums.has('crc32c')) this.crc32c = new Crc32c();
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.blake3.update(chunk);
    this.md5.update(chunk);
    this.sha256?.update(chunk);
    this.sha1?.update(chunk);
    if (this.crc32 !== undefined) this.crc32 = zlib.crc32(chunk, this.crc32);
    this.crc32c?.update(chunk);
  }

  digest(): Digests {
    const sha256 = this.sha256?.digest();
    const checksums: Digests['checksums'] = {};
    const sums = new Set(this.wanted.checksums ?? []);
    if (sums.has('sha256') && sha256) checksums.sha256 = sha256.toString('base64');
    if (this.sha1) checksums.sha1 = this.sha1.digest('base64');
    if (this.crc32 !== undefined) checksums.crc32 = u32be(this.crc32);
    if (this.crc32c) checksums.crc32c = u32be(this.crc32c.digest());
    return { size: this.size, blake3: this.blake3.digest('hex'), md5: this.md5.digest(), sha256, checksums };
  }
}
