/**
 * Anvil's own access policies: what a scoped access key, a user or an app
 * password may do inside its tenant.
 *
 * A statement allows or denies actions on resources. A resource is a glob over
 * `<bucket>/<key>` (`photos/*`, `photos/2024/*.jpg`) or a bare bucket name for
 * bucket-level actions; `*` matches any run of characters (slashes included)
 * and `?` exactly one. Deny beats allow; nothing is allowed unless a statement
 * allows it. Policies never reach across tenants: the caller's tenant must own
 * the bucket before any policy is consulted (s3/access.ts).
 *
 * Three shapes of question are asked:
 * - on one object (`read`, `write`, `delete` of `bucket/key`): an allow glob
 *   must match the object's path and no deny glob may match it;
 * - on a listing under a prefix (`list`): an allow glob must match every key
 *   the listing could show (it covers the prefix), and no deny glob may match
 *   any of them (it does not overlap the prefix), so a listing never reveals a
 *   name the caller could not otherwise see;
 * - on a bucket itself (`admin`, and `list` for HEAD bucket): the bucket name
 *   is matched, or a glob covering the whole bucket (`photos/*`, `*`) allows it.
 */
import { z } from 'zod';

import { AnvilError, isAnvilError } from '../errors.js';

export const ACTIONS = ['read', 'list', 'write', 'delete', 'admin', 'grant'] as const;
export type Action = (typeof ACTIONS)[number];

/** Bucket names and keys are bounded; a glob longer than this cannot match anything useful. */
const MAX_GLOB = 1100;
/** Wildcards per glob: matching costs glob length x key length, and more stars buy nothing real. */
const MAX_STARS = 8;
/**
 * Size limits keep evaluation cheap (every request evaluates the caller's
 * policy on the event loop) whoever writes the policy: a scoped key's holder
 * with `grant` can store denies freely. IAM's own limit is 6 KiB per policy.
 */
export const MAX_POLICY_BYTES = 8 * 1024;

export const policyStatementSchema = z
  .object({
    effect: z.enum(['allow', 'deny']),
    actions: z.array(z.enum(ACTIONS)).min(1).max(ACTIONS.length),
    resources: z
      .array(
        z
          .string()
          .min(1)
          .max(MAX_GLOB)
          .refine((g) => g.split('*').length - 1 <= MAX_STARS, `at most ${MAX_STARS} '*' per resource`),
      )
      .min(1)
      .max(50),
  })
  .strict();
export const policySchema = z
  .array(policyStatementSchema)
  .max(50)
  .refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_POLICY_BYTES, `a policy is at most ${MAX_POLICY_BYTES} bytes`);

export type PolicyStatement = z.infer<typeof policyStatementSchema>;

export type Resource =
  { kind: 'object'; bucket: string; key: string } | { kind: 'prefix'; bucket: string; prefix: string } | { kind: 'bucket'; bucket: string };

/** Does `glob` match exactly `text`? (Iterative wildcard matching with one backtrack point: linear-ish, no regex.) */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let starG = -1;
  let starT = 0;
  while (t < text.length) {
    // The wildcard test comes first: a key may itself contain '*', which must not be taken as the glob's literal.
    if (g < glob.length && glob[g] === '*') {
      starG = g++;
      starT = t;
    } else if (g < glob.length && (glob[g] === '?' || glob[g] === text[t])) {
      g++;
      t++;
    } else if (starG >= 0) {
      g = starG + 1;
      t = ++starT;
    } else return false;
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

/** Does `glob` match every string that starts with `prefix`? (Only a glob ending in a run of `*` can.) */
export function globCoversPrefix(glob: string, prefix: string): boolean {
  let g = 0;
  for (let t = 0; t < prefix.length; t++) {
    if (g >= glob.length) return false;
    if (glob[g] === '*') return restIsStars(glob, g);
    if (glob[g] !== '?' && glob[g] !== prefix[t]) return false;
    g++;
  }
  return restIsStars(glob, g) && g < glob.length;
}

function restIsStars(glob: string, from: number): boolean {
  for (let i = from; i < glob.length; i++) if (glob[i] !== '*') return false;
  return true;
}

/** Could `glob` match some string that starts with `prefix`? */
export function globOverlapsPrefix(glob: string, prefix: string): boolean {
  // Once the glob reaches a `*`, that star can swallow the rest of the prefix.
  // Reaching the end of the prefix first is an overlap too: the rest of the glob extends it.
  let g = 0;
  for (let t = 0; t < prefix.length; t++) {
    if (g >= glob.length) return false;
    if (glob[g] === '*') return true;
    if (glob[g] !== '?' && glob[g] !== prefix[t]) return false;
    g++;
  }
  return true;
}

/** Is every string `inner` matches also matched by `outer`? Conservative: false when unsure. */
export function globContains(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  // inner as a literal string (no wildcards) is contained if outer matches it.
  if (!/[*?]/.test(inner)) return globMatches(outer, inner);
  // outer = L + '*': contains inner when inner's literal head (before its first wildcard) starts with L.
  const firstWild = inner.search(/[*?]/);
  return globCoversPrefix(outer, inner.slice(0, firstWild));
}

function matchesResource(glob: string, r: Resource, effect: 'allow' | 'deny'): boolean {
  switch (r.kind) {
    case 'object':
      return globMatches(glob, `${r.bucket}/${r.key}`);
    case 'prefix':
      return effect === 'allow' ? globCoversPrefix(glob, `${r.bucket}/${r.prefix}`) : globOverlapsPrefix(glob, `${r.bucket}/${r.prefix}`);
    case 'bucket':
      if (globMatches(glob, r.bucket)) return true;
      return effect === 'allow' ? globCoversPrefix(glob, `${r.bucket}/`) : globOverlapsPrefix(glob, `${r.bucket}/`);
  }
}

/**
 * The rights of one principal inside its tenant. `null` statements mean
 * unrestricted (a tenant-wide key, a tenant admin).
 */
export class Permissions {
  static readonly ALL = new Permissions(null);

  constructor(readonly statements: PolicyStatement[] | null) {}

  get unrestricted(): boolean {
    return this.statements === null;
  }

  /** An explicit deny names this action and resource. */
  denies(action: Action, r: Resource): boolean {
    if (!this.statements) return false;
    return this.statements.some(
      (s) => s.effect === 'deny' && s.actions.includes(action) && s.resources.some((g) => matchesResource(g, r, 'deny')),
    );
  }

  allows(action: Action, r: Resource): boolean {
    if (!this.statements) return true;
    if (this.denies(action, r)) return false;
    return this.statements.some(
      (s) => s.effect === 'allow' && s.actions.includes(action) && s.resources.some((g) => matchesResource(g, r, 'allow')),
    );
  }

  /** May this principal touch the bucket at all (for ListBuckets)? Some allow reaches into it. */
  reachesBucket(bucket: string): boolean {
    if (!this.statements) return true;
    return this.statements.some(
      (s) => s.effect === 'allow' && s.resources.some((g) => globMatches(g, bucket) || globOverlapsPrefix(g, `${bucket}/`)),
    );
  }

  /** Does some allow of `action` reach into the bucket (the whole of it, or a part: the change feed, filtered per key)? */
  allowsSomewhereIn(action: Action, bucket: string): boolean {
    if (!this.statements) return true;
    return this.statements.some(
      (s) =>
        s.effect === 'allow' &&
        s.actions.includes(action) &&
        s.resources.some((g) => globMatches(g, bucket) || globOverlapsPrefix(g, `${bucket}/`)),
    );
  }

  /** Narrows to the intersection with another set of rights (an app password under its user). */
  intersect(other: Permissions): Permissions {
    if (!other.statements) return this;
    if (!this.statements) return other;
    return new IntersectedPermissions(this, other);
  }

  /**
   * Checks that `requested` grants nothing beyond these rights (the `grant`
   * rule) and returns the statements to store: the requested ones plus every
   * deny of ours, so a key made under grant can never escape its maker's denies.
   * Throws with a reason when the request exceeds our rights.
   */
  delegate(requested: PolicyStatement[]): PolicyStatement[] {
    if (!this.statements) return requested;
    if (!this.allowsGlobally('grant')) throw policyError('this principal may not grant rights (it lacks the grant action)');
    for (const s of requested) {
      if (s.effect !== 'allow') continue;
      for (const action of s.actions) {
        for (const glob of s.resources) {
          const covered = this.statements.some(
            (own) => own.effect === 'allow' && own.actions.includes(action) && own.resources.some((g) => globContains(g, glob)),
          );
          if (!covered) throw policyError(`cannot grant ${action} on ${glob}: it exceeds the granter's own rights`);
        }
      }
    }
    return [...requested, ...this.statements.filter((s) => s.effect === 'deny')];
  }

  private allowsGlobally(action: Action): boolean {
    return (this.statements ?? []).some((s) => s.effect === 'allow' && s.actions.includes(action));
  }
}

/** Both sets must allow; either may deny. */
class IntersectedPermissions extends Permissions {
  constructor(
    private readonly a: Permissions,
    private readonly b: Permissions,
  ) {
    // Denies of both apply; allows are judged by each side (see allows()).
    super([...(a.statements ?? []), ...(b.statements ?? [])]);
  }
  override denies(action: Action, r: Resource): boolean {
    return this.a.denies(action, r) || this.b.denies(action, r);
  }
  override allows(action: Action, r: Resource): boolean {
    return this.a.allows(action, r) && this.b.allows(action, r);
  }
  override reachesBucket(bucket: string): boolean {
    return this.a.reachesBucket(bucket) && this.b.reachesBucket(bucket);
  }
  override allowsSomewhereIn(action: Action, bucket: string): boolean {
    return this.a.allowsSomewhereIn(action, bucket) && this.b.allowsSomewhereIn(action, bucket);
  }
  override delegate(requested: PolicyStatement[]): PolicyStatement[] {
    return this.b.delegate(this.a.delegate(requested));
  }
}

/** Why a policy is refused (malformed, or granting more than its granter holds): always Forbidden on the admin API. */
export const POLICY_VIOLATION = 'PolicyViolation';

export function policyError(message: string): AnvilError {
  return new AnvilError('Forbidden', POLICY_VIOLATION, message);
}

export function isPolicyError(err: unknown): err is AnvilError {
  return isAnvilError(err, 'Forbidden', POLICY_VIOLATION);
}

/** Parses stored or submitted policy JSON; throws a policy error (isPolicyError) with the first problem. */
export function parsePolicies(value: unknown): PolicyStatement[] {
  const parsed = policySchema.safeParse(typeof value === 'string' ? JSON.parse(value) : value);
  if (!parsed.success) throw policyError(`invalid policy: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Parsed policies by their stored text: every request of a scoped key needs them, parsing them each time costs. */
const parsedCache = new Map<string, Permissions>();
const PARSED_CACHE_LIMIT = 1000;

export function permissionsFromColumn(column: string | null): Permissions {
  if (column === null) return Permissions.ALL;
  let p = parsedCache.get(column);
  if (!p) {
    p = new Permissions(parsePolicies(column));
    if (parsedCache.size >= PARSED_CACHE_LIMIT) parsedCache.delete(parsedCache.keys().next().value!);
    parsedCache.set(column, p);
  }
  return p;
}

/** A user's rights: admins are unrestricted in their tenant; members have their policies (none by default). */
export function userPermissions(role: 'admin' | 'member', policies: string | null): Permissions {
  if (role === 'admin') return Permissions.ALL;
  return policies === null ? new Permissions([]) : permissionsFromColumn(policies);
}
