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

const TIME_SUFFIX = '--at-';

/**
 * A point in time in a ref: `ref--at-20261205t101500z` (UTC, as a bucket
 * name allows: lower case, no colons) or `ref--at-<epoch seconds>` in an
 * alias; `ref@<ISO 8601 time>` in the admin API and CLI as well. Returns the
 * ref and the time (epoch ms), or undefined when the ref names no time.
 */
export function parseTimeRef(ref: string): { ref: string; time: number } | undefined {
  let base: string;
  let when: string;
  const at = ref.indexOf(TIME_SUFFIX);
  if (at > 0) {
    base = ref.slice(0, at);
    when = ref.slice(at + TIME_SUFFIX.length);
  } else {
    const i = ref.lastIndexOf('@');
    if (i <= 0) return undefined;
    base = ref.slice(0, i);
    when = ref.slice(i + 1);
  }
  const time = parseTime(when);
  if (time === undefined)
    throw fail.invalid('InvalidArgument', `Cannot read a time in "${ref}": use 20261205t101500z, epoch seconds or ISO 8601.`);
  return { ref: base, time };
}

function parseTime(text: string): number | undefined {
  if (/^\d{9,11}$/.test(text)) return Number(text) * 1000;
  const compact = /^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z$/i.exec(text);
  if (compact) {
    const [, y, mo, d, h, mi, s] = compact;
    return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
