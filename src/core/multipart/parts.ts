/**
 * The part list of a Complete, checked against the parts uploaded and
 * turned into the object they make: its manifest, size, ETag (the MD5 of
 * the parts' MD5s, suffixed with their count) and composite checksum. Pure:
 * the transaction around it is in core/multipart.ts.
 */
import crypto from 'node:crypto';

import { type ChecksumAlgorithm, checksumOf } from '../../blobs/index.js';
import { fail } from '../../errors.js';
import type { ManifestEntry, VersionContent } from '../../meta/objects/types.js';
import type { PartRow } from '../../meta/objects/uploads.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MAX_PART_NUMBER = 10000;

/** One entry of the client's CompleteMultipartUpload list. */
export interface RequestedPart {
  partNumber: number;
  etag: string;
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
}

/** A part's ETag as the client may send it: quoted or not, with stray white space. */
const bareEtag = (etag: string) => etag.trim().replace(/^"|"$/g, '');

/** Identifies a part list by its part numbers and ETags (what a retry must repeat). */
export function digestOfParts(parts: ReadonlyArray<{ partNumber: number; etag: string }>): string {
  const canonical = JSON.stringify(parts.map((p) => [p.partNumber, bareEtag(p.etag)]));
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

/**
 * The object the requested parts make (ascending part numbers, matching
 * ETags and checksums, every part but the last at least 5 MiB), and the
 * blobs of the uploaded parts the list leaves out (to release).
 */
export function assembleParts(
  uploadId: string,
  checksumAlgorithm: ChecksumAlgorithm | undefined,
  requested: RequestedPart[],
  rows: PartRow[],
): { content: Omit<VersionContent, 'attributes'>; unused: ManifestEntry[] } {
  const byNumber = new Map(rows.map((p) => [p.part_number, p]));
  const manifest: ManifestEntry[] = [];
  const partSizes: number[] = [];
  const md5s: Buffer[] = [];
  const partChecksums: Buffer[] = [];
  let size = 0;
  // S3 checks the order of the whole list before looking at any part.
  requested.forEach((want, i) => {
    if (i > 0 && want.partNumber <= requested[i - 1].partNumber) {
      throw fail.invalid('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.');
    }
  });
  requested.forEach((want, i) => {
    const part = byNumber.get(want.partNumber);
    if (!part || part.etag !== bareEtag(want.etag)) {
      throw fail.invalid(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
        { UploadId: uploadId, PartNumber: want.partNumber, ETag: want.etag },
      );
    }
    const partSize = Number(part.size);
    if (i < requested.length - 1 && partSize < MIN_PART_SIZE) {
      throw fail.invalid('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
        ProposedSize: partSize,
        MinSizeAllowed: MIN_PART_SIZE,
        PartNumber: want.partNumber,
        ETag: part.etag,
      });
    }
    const partSums = JSON.parse(part.checksums) as Partial<Record<ChecksumAlgorithm, string>>;
    for (const [alg, given] of Object.entries(want.checksums ?? {})) {
      if (given && partSums[alg as ChecksumAlgorithm] !== undefined && partSums[alg as ChecksumAlgorithm] !== given) {
        throw fail.invalid('InvalidPart', `The ${alg.toUpperCase()} checksum of part ${want.partNumber} does not match the uploaded part.`);
      }
    }
    if (checksumAlgorithm) partChecksums.push(Buffer.from(partSums[checksumAlgorithm] ?? '', 'base64'));
    if (part.blob_hash) manifest.push([part.blob_hash, partSize]);
    partSizes.push(partSize);
    md5s.push(Buffer.from(part.etag, 'hex'));
    size += partSize;
  });
  const etag = `${crypto.createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${requested.length}`;
  // Parts named in the list hand their references to the object; the rest are released.
  const used = new Set(requested.map((p) => p.partNumber));
  const unused: ManifestEntry[] = rows.filter((p) => !used.has(p.part_number) && p.blob_hash).map((p) => [p.blob_hash!, Number(p.size)]);
  return {
    content: {
      size,
      etag,
      // S3's composite checksum: the checksum of the parts' checksums, suffixed with the part count.
      checksums: checksumAlgorithm
        ? { [checksumAlgorithm]: `${checksumOf(checksumAlgorithm, Buffer.concat(partChecksums))}-${requested.length}` }
        : {},
      manifest,
      partSizes,
    },
    unused,
  };
}
