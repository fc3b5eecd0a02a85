/**
 * Names of branches and tags, and the bucket-name aliases that address them
 * from unmodified S3 clients: `bucket--ref`, in path or virtual-host style.
 * Bucket names may not contain `--` (core/bucket-names.ts), so the first
 * `--` splits an alias. A ref is a branch, a tag, or a commit (`c` + its
 * 12-hex-digit id); branches and tags share one namespace per bucket.
 */
import { fail } from '../../errors.js';

export const ALIAS_SEPARATOR = '--';
export const MAIN = 'main';

const COMMIT_REF = /^c([0-9a-f]{12})$/;

/** S3 suffixes an alias must not end with: SDKs treat `--x-s3` buckets as S3 Express, `--ol-s3` are access points. */
const RESERVED_REFS = new Set(['x-s3', 'ol-s3']);

/** The commit id an alias ref names, if it is a commit ref. */
export function commitIdOfRef(ref: string): string | undefined {
  return COMMIT_REF.exec(ref)?.[1];
}

/** Splits `bucket--ref`; undefined when the name is no alias. */
export function parseAlias(name: string): { bucket: string; ref: string } | undefined {
  const i = name.indexOf(ALIAS_SEPARATOR);
  if (i <= 0) return undefined;
  const ref = name.slice(i + ALIAS_SEPARATOR.length);
  if (ref === '') return undefined;
  return { bucket: name.slice(0, i), ref };
}

/**
 * A branch or tag name: lower-case letters, digits and single hyphens (it
 * becomes part of a bucket name), not a commit ref, and short enough that
 * `bucket--name` is a valid 63-character bucket name.
 */
export function validateRefName(bucketName: string, name: string, what: 'branch' | 'tag'): void {
  const bad = (why: string) => fail.invalid('InvalidArgument', `Invalid ${what} name "${name}": ${why}`, { ArgumentName: what });
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(name)) {
    throw bad('use lower-case letters, digits and hyphens, starting and ending with a letter or digit');
  }
  if (name.includes(ALIAS_SEPARATOR)) throw bad('"--" separates a bucket from its ref');
  if (COMMIT_REF.test(name)) throw bad('names of the form c<12 hex digits> address commits');
  if (RESERVED_REFS.has(name) || name.endsWith('-s3alias')) throw bad('S3 reserves this suffix');
  const alias = bucketName + ALIAS_SEPARATOR + name;
  if (alias.length > 63) throw bad(`the alias ${alias} would be longer than a bucket name may be (63)`);
}
