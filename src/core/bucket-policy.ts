/**
 * S3 bucket policies, in the subset Anvil enforces: statements that let
 * anyone (Principal "*") read objects (s3:GetObject on
 * `arn:aws:s3:::bucket/<glob>`) or list the bucket (s3:ListBucket on
 * `arn:aws:s3:::bucket`). A policy using anything else (Deny, conditions,
 * other principals or actions, NotAction...) is refused when it is put, with
 * a message naming what is unsupported, so no statement is ever stored and
 * then silently ignored.
 */
import { type AnvilError, fail } from '../errors.js';
import { globMatches } from './policy.js';

export interface PublicGrants {
  /** Globs over `bucket/key` that anyone may GET/HEAD. */
  readGlobs: string[];
  /** Anyone may list the bucket. */
  list: boolean;
}

const SUPPORTED_ACTIONS = new Set(['s3:GetObject', 's3:ListBucket']);
const ARN = 'arn:aws:s3:::';
/** S3's limit on a bucket policy's size. */
export const MAX_POLICY_BYTES = 20 * 1024;

function malformed(message: string): AnvilError {
  return fail.invalid('MalformedPolicy', message);
}
function unsupported(what: string): AnvilError {
  return fail.notImplemented(
    `${what} is not supported in bucket policies; Anvil supports Allow statements with Principal "*" and the actions s3:GetObject and s3:ListBucket`,
  );
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function isEveryone(principal: unknown): boolean {
  if (principal === '*') return true;
  if (principal && typeof principal === 'object' && !Array.isArray(principal)) {
    const entries = Object.entries(principal);
    return entries.length === 1 && entries[0][0] === 'AWS' && asList(entries[0][1]).every((p) => p === '*');
  }
  return false;
}

/** Validates a policy document for `bucket`; returns the grants it makes. Throws MalformedPolicy or NotImplemented. */
export function parseBucketPolicy(text: string, bucket: string): PublicGrants {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw malformed('Policies must be no larger than 20 KB');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed("Policies must be valid JSON and the first byte must be '{'");
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw malformed("Policies must be valid JSON and the first byte must be '{'");
  const { Version, Statement, Id, ...rest } = doc as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw malformed(`Unknown field ${Object.keys(rest)[0]}`);
  if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') throw malformed('Invalid policy version');
  if (Id !== undefined && typeof Id !== 'string') throw malformed('Id must be a string');
  if (Statement === undefined) throw malformed('Missing required field Statement');
  const statements = asList(Statement);
  if (statements.length === 0) throw malformed('Missing required field Statement');
  const grants: PublicGrants = { readGlobs: [], list: false };
  for (const st of statements) {
    if (!st || typeof st !== 'object' || Array.isArray(st)) throw malformed('Statement must be an object');
    const { Sid, Effect, Principal, Action, Resource, ...other } = st as Record<string, unknown>;
    const extra = Object.keys(other);
    if (extra.length > 0) {
      if (['Condition', 'NotPrincipal', 'NotAction', 'NotResource'].includes(extra[0])) throw unsupported(extra[0]);
      throw malformed(`Unknown field ${extra[0]}`);
    }
    if (Sid !== undefined && typeof Sid !== 'string') throw malformed('Sid must be a string');
    if (Effect === 'Deny') throw unsupported('Effect "Deny"');
    if (Effect !== 'Allow') throw malformed('Missing or invalid Effect');
    if (Principal === undefined) throw malformed('Missing required field Principal');
    if (!isEveryone(Principal)) throw unsupported(`Principal ${JSON.stringify(Principal)}`);
    if (Action === undefined) throw malformed('Missing required field Action');
    if (Resource === undefined) throw malformed('Missing required field Resource');
    const actions = asList(Action);
    for (const a of actions) {
      if (typeof a !== 'string') throw malformed('Action must be a string');
      if (!SUPPORTED_ACTIONS.has(a)) throw unsupported(`Action ${a}`);
    }
    const objectGlobs: string[] = [];
    let bucketResource = false;
    for (const res of asList(Resource)) {
      if (typeof res !== 'string' || !res.startsWith(ARN)) throw malformed('Policy has invalid resource');
      const path = res.slice(ARN.length);
      if (path === bucket) bucketResource = true;
      else if (path.startsWith(bucket + '/')) objectGlobs.push(path);
      else throw malformed('Policy has invalid resource');
    }
    for (const a of actions) {
      if (a === 's3:GetObject') {
        if (objectGlobs.length === 0) throw malformed('Action does not apply to any resource(s) in statement');
        grants.readGlobs.push(...objectGlobs);
      } else {
        if (!bucketResource) throw malformed('Action does not apply to any resource(s) in statement');
        grants.list = true;
      }
    }
  }
  return grants;
}

/** The grants of a stored policy (validated when it was put). */
/** Grants of stored policies by bucket and text: an anonymous request asks up to three times, every request re-parsed them. */
const grantsCache = new Map<string, PublicGrants>();
const GRANTS_CACHE_LIMIT = 1000;
const NO_GRANTS: PublicGrants = Object.freeze({ readGlobs: [], list: false }) as PublicGrants;

export function storedPolicyGrants(policy: string | null, bucket: string): PublicGrants {
  if (policy === null) return NO_GRANTS;
  const cacheKey = `${bucket}\n${policy}`;
  let grants = grantsCache.get(cacheKey);
  if (!grants) {
    grants = parseBucketPolicy(policy, bucket);
    if (grantsCache.size >= GRANTS_CACHE_LIMIT) grantsCache.delete(grantsCache.keys().next().value!);
    grantsCache.set(cacheKey, grants);
  }
  return grants;
}

export function grantsRead(grants: PublicGrants, bucket: string, key: string): boolean {
  return grants.readGlobs.some((g) => globMatches(g, `${bucket}/${key}`));
}
