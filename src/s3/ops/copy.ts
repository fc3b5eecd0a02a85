/** CopyObject: a metadata copy that shares the source's blobs. */
import type { Bucket } from '../../core/buckets.js';
import { isVersionIdSyntax, type ObjectVersion } from '../../core/objects.js';
import { checkCopyEncryption, copyEncryptionHeaders } from '../../core/objects/encryption.js';
import { header, type S3Request } from '../context.js';
import { errors, S3Error } from '../errors.js';
import { sendXml } from '../respond.js';
import { xmlDate } from '../xml.js';
import { requireBucket, requireCopySource } from './access.js';
import { attributesFromHeaders } from './object-headers.js';
import { lockForWrite } from './object-lock.js';
import { customerKeyFor, sseFromRequest, sseResponseHeaders } from './sse.js';
import { taggingDirective } from './tagging.js';
import { writtenVersionHeader } from './versions.js';

/** Parses x-amz-copy-source: "[/]bucket/key[?versionId=…]", URL-encoded. */
export function parseCopySource(value: string): { bucket: string; key: string; versionId?: string } {
  const [pathPart, query] = value.split('?', 2);
  let path: string;
  try {
    path = decodeURIComponent(pathPart.replace(/^\//, ''));
  } catch {
    throw errors.invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', value);
  }
  if (path.includes('\0')) throw errors.invalidArgument('Copy Source must not contain a NUL character', 'x-amz-copy-source', '');
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw errors.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', value);
  }
  const versionId = query ? (new URLSearchParams(query).get('versionId') ?? undefined) : undefined;
  if (versionId?.includes('\0') || versionId?.includes('\uFFFD'))
    throw errors.invalidArgument('Invalid copy source version id', 'x-amz-copy-source', '');
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1), versionId };
}

function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const s = t.trim();
    return s === '*' || s.replace(/^"|"$/g, '') === etag;
  });
}

/** x-amz-copy-source-if-* conditions, with the same precedence as conditional GETs; failures are 412. */
export function checkCopySourceConditions(r: S3Request, source: ObjectVersion): void {
  const ifMatch = header(r, 'x-amz-copy-source-if-match');
  const ifNoneMatch = header(r, 'x-amz-copy-source-if-none-match');
  const unmodifiedSince = Date.parse(header(r, 'x-amz-copy-source-if-unmodified-since') ?? '');
  const modifiedSince = Date.parse(header(r, 'x-amz-copy-source-if-modified-since') ?? '');
  const modified = Math.floor(source.lastModified.getTime() / 1000) * 1000;
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, source.etag)) throw errors.preconditionFailed('x-amz-copy-source-If-Match');
  } else if (!Number.isNaN(unmodifiedSince) && modified > unmodifiedSince) {
    throw errors.preconditionFailed('x-amz-copy-source-If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, source.etag)) throw errors.preconditionFailed('x-amz-copy-source-If-None-Match');
  } else if (!Number.isNaN(modifiedSince) && modified <= modifiedSince) {
    throw errors.preconditionFailed('x-amz-copy-source-If-Modified-Since');
  }
}

export async function copyObject(r: S3Request): Promise<void> {
  const dst = await requireBucket(r);
  const dstKey = r.addr.key!;
  const source = parseCopySource(header(r, 'x-amz-copy-source')!);
  if (source.versionId !== undefined && !isVersionIdSyntax(source.versionId)) {
    throw errors.invalidArgument('Invalid version id specified', 'x-amz-copy-source', source.versionId);
  }
  const src = await requireCopySource(r, source.bucket, source.key);
  const lock = lockForWrite(r, dst, { needsIntegrity: false });
  const directive = (header(r, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  }
  if (
    directive === 'COPY' &&
    src.id === dst.id &&
    source.key === dstKey &&
    source.versionId === undefined &&
    header(r, 'x-amz-tagging-directive') === undefined
  ) {
    throw errors.invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const replaceTags = taggingDirective(r) === 'REPLACE';
  const requested = attributesFromHeaders(r.req.headers);
  const sse = sseFromRequest(r.req.headers);
  const version = await r.services.objects.copy(src, source.key, dst, dstKey, {
    sourceVersionId: source.versionId,
    lock,
    // Metadata and tags each come from the request or the source, per their directive.
    attributes: (s) => {
      const attributes = {
        ...(directive === 'REPLACE' ? requested : s),
        headers: { ...(directive === 'REPLACE' ? requested : s).headers },
        tags: replaceTags ? requested.tags : s.tags,
        // As in S3, a copy does not inherit the source's ACL: it gets the one the request names.
        acl: requested.acl,
      };
      // The copy shares the source's blobs, so it keeps the source's encryption (core decides).
      copyEncryptionHeaders(attributes.headers, s.headers, sse);
      return attributes;
    },
    check: (s) => {
      checkCopySourceConditions(r, s);
      checkCopyEncryption(s.headers, customerKeyFor(r.req.headers, s.headers, { copySource: true }), sse);
    },
  });
  sendXml(
    r,
    200,
    'CopyObjectResult',
    { ETag: `"${version.etag}"`, LastModified: xmlDate(version.lastModified) },
    {
      ...writtenVersionHeader(version),
      ...(src.versioning ? { 'x-amz-copy-source-version-id': version.sourceVersionId } : {}),
      ...sseResponseHeaders(version.headers, sse.customer),
    },
  );
}

/**
 * The version an UploadPartCopy reads: the one named, else the latest; a
 * delete marker is no source (404 when it is the latest, 400 when named).
 */
export async function copySourceVersion(r: S3Request, src: Bucket, source: { key: string; versionId?: string }): Promise<ObjectVersion> {
  if (source.versionId !== undefined && !isVersionIdSyntax(source.versionId)) {
    throw errors.invalidArgument('Invalid version id specified', 'x-amz-copy-source', source.versionId);
  }
  const v = await r.services.objects.head(src, source.key, source.versionId);
  if (v.isDeleteMarker) {
    if (source.versionId === undefined) throw new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: source.key });
    throw errors.invalidRequest('The source of a copy request may not specifically refer to a delete marker by version id.');
  }
  return v;
}
