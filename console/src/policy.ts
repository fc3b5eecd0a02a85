/**
 * Anvil's policy rules, as the server applies them (src/core/policy.ts), for
 * the policy editor's preview: what a key or user with these statements may
 * do on a sample path. A port, not an import: the console imports nothing
 * from src/ (ARCHITECTURE.md, console/). test/unit/console-policy.test.ts
 * checks that both answer alike on many random policies and paths.
 *
 * A resource is a glob over `<bucket>/<key>` (or a bare bucket name);
 * `*` matches any run of characters (slashes included), `?` one. Deny beats
 * allow; nothing is allowed unless a statement allows it.
 */
export const ACTIONS = ['read', 'list', 'write', 'delete', 'admin', 'grant'] as const;
export type Action = (typeof ACTIONS)[number];

export interface PolicyStatement {
  effect: 'allow' | 'deny';
  actions: Action[];
  resources: string[];
}

export type Resource =
  { kind: 'object'; bucket: string; key: string } | { kind: 'prefix'; bucket: string; prefix: string } | { kind: 'bucket'; bucket: string };

export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let starG = -1;
  let starT = 0;
  while (t < text.length) {
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

const restIsStars = (glob: string, from: number) => {
  for (let i = from; i < glob.length; i++) if (glob[i] !== '*') return false;
  return true;
};

/** Does `glob` match every string that starts with `prefix`? */
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

/** Could `glob` match some string that starts with `prefix`? */
export function globOverlapsPrefix(glob: string, prefix: string): boolean {
  let g = 0;
  for (let t = 0; t < prefix.length; t++) {
    if (g >= glob.length) return false;
    if (glob[g] === '*') return true;
    if (glob[g] !== '?' && glob[g] !== prefix[t]) return false;
    g++;
  }
  return true;
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

export type Verdict = { allowed: true; by: number } | { allowed: false; by: number | null };

/**
 * May `statements` do `action` on `r`? With the statement that decided (its index): the first deny
 * that names it, else the first allow; `by: null` when no statement allows it.
 */
export function evaluate(statements: PolicyStatement[], action: Action, r: Resource): Verdict {
  const names = (s: PolicyStatement, effect: 'allow' | 'deny') =>
    s.effect === effect && s.actions.includes(action) && s.resources.some((g) => matchesResource(g, r, effect));
  const deny = statements.findIndex((s) => names(s, 'deny'));
  if (deny >= 0) return { allowed: false, by: deny };
  const allow = statements.findIndex((s) => names(s, 'allow'));
  return allow >= 0 ? { allowed: true, by: allow } : { allowed: false, by: null };
}

/** Does some allow reach into the bucket (it is listed to the holder)? */
export function reachesBucket(statements: PolicyStatement[], bucket: string): boolean {
  return statements.some(
    (s) => s.effect === 'allow' && s.resources.some((g) => globMatches(g, bucket) || globOverlapsPrefix(g, `${bucket}/`)),
  );
}

/** The questions the preview asks about a sample path `bucket/key` (or a bare `bucket`, or `bucket/folder/`). */
export function sampleQuestions(path: string): Array<{ action: Action; resource: Resource; label: string }> {
  const slash = path.indexOf('/');
  const bucket = slash < 0 ? path : path.slice(0, slash);
  const rest = slash < 0 ? '' : path.slice(slash + 1);
  const out: Array<{ action: Action; resource: Resource; label: string }> = [];
  if (rest !== '' && !rest.endsWith('/')) {
    for (const action of ['read', 'write', 'delete'] as const) {
      out.push({ action, resource: { kind: 'object', bucket, key: rest }, label: `${action} ${bucket}/${rest}` });
    }
  }
  const prefix = rest === '' || rest.endsWith('/') ? rest : rest.slice(0, rest.lastIndexOf('/') + 1);
  out.push({ action: 'list', resource: { kind: 'prefix', bucket, prefix }, label: `list ${bucket}/${prefix}` });
  out.push({ action: 'admin', resource: { kind: 'bucket', bucket }, label: `admin bucket ${bucket}` });
  return out;
}
