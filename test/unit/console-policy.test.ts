/**
 * The console's policy preview (console/src/policy.ts, a port) answers as
 * the server's rules do (src/core/policy.ts) on many random policies and
 * resources: every action on objects, prefixes and buckets, and whether a
 * bucket is listed at all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import * as port from '../../console/src/policy.js';
import * as server from '../../src/core/policy.js';
import { ACTIONS, Permissions, type PolicyStatement, type Resource } from '../../src/core/policy.js';

// A small alphabet so that globs and paths often meet: slashes, stars and question marks in keys too.
const char = fc.constantFrom('a', 'b', '/', '*', '?', '.');
const text = (max: number) => fc.array(char, { maxLength: max }).map((c) => c.join(''));
const bucket = fc.constantFrom('a', 'b', 'ab');
const glob = fc.oneof(
  fc.tuple(bucket, text(6)).map(([b, rest]) => `${b}/${rest}`),
  bucket,
  text(6).filter((g) => g.length > 0),
  fc.constant('*'),
);
const statement: fc.Arbitrary<PolicyStatement> = fc.record({
  effect: fc.constantFrom('allow' as const, 'deny' as const),
  actions: fc.uniqueArray(fc.constantFrom(...ACTIONS), { minLength: 1, maxLength: 3 }),
  resources: fc.array(glob, { minLength: 1, maxLength: 3 }),
});
const resource: fc.Arbitrary<Resource> = fc.oneof(
  fc.record({ kind: fc.constant('object' as const), bucket, key: text(6) }),
  fc.record({ kind: fc.constant('prefix' as const), bucket, prefix: text(5) }),
  fc.record({ kind: fc.constant('bucket' as const), bucket }),
);

describe('console policy preview', () => {
  it('allows and denies exactly as the server does', () => {
    const seen = { allowed: 0, denied: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 4 }), fc.constantFrom(...ACTIONS), resource, (statements, action, r) => {
        const server = new Permissions(statements);
        const ours = port.evaluate(statements, action, r);
        expect(ours.allowed).toBe(server.allows(action, r));
        seen[ours.allowed ? 'allowed' : ours.by === null ? 'refused' : 'denied']++;
        if (!ours.allowed && ours.by !== null) expect(server.denies(action, r)).toBe(true);
        expect(port.reachesBucket(statements, r.bucket)).toBe(server.reachesBucket(r.bucket));
      }),
      { numRuns: 10_000 },
    );
    // The random policies reach every outcome often (not just "nothing allowed").
    for (const n of Object.values(seen)) expect(n).toBeGreaterThan(500);
  });

  it('agrees on the glob primitives', () => {
    fc.assert(
      fc.property(text(8), text(8), (g, s) => {
        expect(port.globMatches(g, s)).toBe(server.globMatches(g, s));
        expect(port.globCoversPrefix(g, s)).toBe(server.globCoversPrefix(g, s));
        expect(port.globOverlapsPrefix(g, s)).toBe(server.globOverlapsPrefix(g, s));
      }),
      { numRuns: 10_000 },
    );
  });

  it('names the statement that decided, and the questions of a sample path', () => {
    const statements: PolicyStatement[] = [
      { effect: 'allow', actions: ['read', 'list', 'write'], resources: ['data/team/*'] },
      { effect: 'deny', actions: ['write'], resources: ['data/team/locked/*'] },
    ];
    expect(port.evaluate(statements, 'write', { kind: 'object', bucket: 'data', key: 'team/a.txt' })).toEqual({ allowed: true, by: 0 });
    expect(port.evaluate(statements, 'write', { kind: 'object', bucket: 'data', key: 'team/locked/a' })).toEqual({ allowed: false, by: 1 });
    expect(port.evaluate(statements, 'read', { kind: 'object', bucket: 'data', key: 'other.txt' })).toEqual({ allowed: false, by: null });
    expect(port.sampleQuestions('data/team/a.txt').map((q) => q.label)).toEqual([
      'read data/team/a.txt',
      'write data/team/a.txt',
      'delete data/team/a.txt',
      'list data/team/',
      'admin bucket data',
    ]);
    expect(port.sampleQuestions('data').map((q) => q.label)).toEqual(['list data/', 'admin bucket data']);
  });
});
