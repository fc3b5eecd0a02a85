import { describe, expect, it } from 'vitest';

import {
  globContains,
  globCoversPrefix,
  globMatches,
  globOverlapsPrefix,
  parsePolicies,
  Permissions,
  type PolicyStatement,
} from '../../src/core/policy.js';

/** What every refused policy throws: the domain error of reason PolicyViolation. */
const PolicyError = expect.objectContaining({ kind: 'Forbidden', reason: 'PolicyViolation' });

const allow = (actions: PolicyStatement['actions'], ...resources: string[]): PolicyStatement => ({ effect: 'allow', actions, resources });
const deny = (actions: PolicyStatement['actions'], ...resources: string[]): PolicyStatement => ({ effect: 'deny', actions, resources });
const obj = (path: string) => {
  const i = path.indexOf('/');
  return { kind: 'object' as const, bucket: path.slice(0, i), key: path.slice(i + 1) };
};
const prefix = (bucket: string, p: string) => ({ kind: 'prefix' as const, bucket, prefix: p });

describe('globs', () => {
  it('matches * across slashes and ? as one character', () => {
    expect(globMatches('photos/*', 'photos/2024/a.jpg')).toBe(true);
    expect(globMatches('photos/2024/*.jpg', 'photos/2024/x/y.jpg')).toBe(true);
    expect(globMatches('photos/2024/*.jpg', 'photos/2024/a.png')).toBe(false);
    expect(globMatches('photos/?.jpg', 'photos/a.jpg')).toBe(true);
    expect(globMatches('photos/?.jpg', 'photos/ab.jpg')).toBe(false);
    expect(globMatches('*', '')).toBe(true);
    expect(globMatches('photos', 'photos/')).toBe(false);
    expect(globMatches('a*b*c', 'aXbYbZc')).toBe(true);
    // A '*' inside the key is just a character: it must not use up the glob's wildcard.
    expect(globMatches('photos/private/*', 'photos/private/*payroll.csv')).toBe(true);
    expect(globMatches('a*b', 'a*xb')).toBe(true);
    expect(globMatches('a?c', 'a*c')).toBe(true);
    expect(globMatches('a*', 'b*')).toBe(false);
  });

  it('covers a prefix only when every extension matches', () => {
    expect(globCoversPrefix('photos/*', 'photos/')).toBe(true);
    expect(globCoversPrefix('photos/*', 'photos/2024/')).toBe(true);
    expect(globCoversPrefix('photos/*', 'photos')).toBe(false);
    expect(globCoversPrefix('photos/*.jpg', 'photos/')).toBe(false);
    expect(globCoversPrefix('*', '')).toBe(true);
    expect(globCoversPrefix('photos/2024/*', 'photos/')).toBe(false);
  });

  it('overlaps a prefix when some extension could match', () => {
    expect(globOverlapsPrefix('photos/secret/*', 'photos/')).toBe(true);
    expect(globOverlapsPrefix('photos/secret/*', 'photos/public/')).toBe(false);
    expect(globOverlapsPrefix('photos/*.jpg', 'photos/2024/a')).toBe(true);
    expect(globOverlapsPrefix('other/*', 'photos/')).toBe(false);
  });

  it('containment is conservative', () => {
    expect(globContains('photos/*', 'photos/2024/*')).toBe(true);
    expect(globContains('photos/*', 'photos/a.jpg')).toBe(true);
    expect(globContains('photos/2024/*', 'photos/*')).toBe(false);
    expect(globContains('photos/*.jpg', 'photos/*.jpg')).toBe(true);
    expect(globContains('photos/*.jpg', 'photos/2024/*.jpg')).toBe(false);
    expect(globContains('*', 'anything/*')).toBe(true);
  });
});

describe('Permissions', () => {
  const p = new Permissions([allow(['read', 'list'], 'photos/*'), deny(['read', 'list'], 'photos/private/*'), allow(['admin'], 'photos')]);

  it('deny beats allow; nothing is allowed by default', () => {
    expect(p.allows('read', obj('photos/a.jpg'))).toBe(true);
    expect(p.allows('read', obj('photos/private/a.jpg'))).toBe(false);
    expect(p.denies('read', obj('photos/private/a.jpg'))).toBe(true);
    expect(p.allows('write', obj('photos/a.jpg'))).toBe(false);
    expect(p.allows('read', obj('videos/a.mp4'))).toBe(false);
  });

  it('lists only where every visible name is allowed and none is denied', () => {
    expect(p.allows('list', prefix('photos', 'public/'))).toBe(true);
    expect(p.allows('list', prefix('photos', ''))).toBe(false);
    expect(p.allows('list', prefix('photos', 'private/'))).toBe(false);
    const narrow = new Permissions([allow(['list'], 'photos/2024/*')]);
    expect(narrow.allows('list', prefix('photos', '2024/'))).toBe(true);
    expect(narrow.allows('list', prefix('photos', '2024/07/'))).toBe(true);
    expect(narrow.allows('list', prefix('photos', '2'))).toBe(false);
  });

  it('bucket-level actions match the bucket name or a glob over the whole bucket', () => {
    expect(p.allows('admin', { kind: 'bucket', bucket: 'photos' })).toBe(true);
    expect(p.allows('admin', { kind: 'bucket', bucket: 'photosx' })).toBe(false);
    expect(new Permissions([allow(['admin'], '*')]).allows('admin', { kind: 'bucket', bucket: 'any' })).toBe(true);
    expect(p.reachesBucket('photos')).toBe(true);
    expect(p.reachesBucket('videos')).toBe(false);
  });

  it('unrestricted allows everything', () => {
    expect(Permissions.ALL.allows('grant', { kind: 'bucket', bucket: 'x' })).toBe(true);
    expect(Permissions.ALL.unrestricted).toBe(true);
  });

  it('intersection: both must allow, either may deny', () => {
    const user = new Permissions([allow(['read', 'list'], 'photos/*')]);
    const app = new Permissions([allow(['read'], 'photos/2024/*')]);
    const both = user.intersect(app);
    expect(both.allows('read', obj('photos/2024/a'))).toBe(true);
    expect(both.allows('read', obj('photos/2023/a'))).toBe(false);
    expect(both.allows('list', prefix('photos', '2024/'))).toBe(false);
    expect(Permissions.ALL.intersect(app)).toBe(app);
  });

  it('delegates at most its own rights, and its denies travel with the grant', () => {
    const granter = new Permissions([allow(['read', 'write', 'grant'], 'photos/*'), deny(['read'], 'photos/private/*')]);
    const granted = granter.delegate([allow(['read'], 'photos/2024/*')]);
    expect(granted).toContainEqual(deny(['read'], 'photos/private/*'));
    expect(new Permissions(granted).allows('read', obj('photos/2024/a'))).toBe(true);
    expect(() => granter.delegate([allow(['read'], 'videos/*')])).toThrow(PolicyError);
    expect(() => granter.delegate([allow(['delete'], 'photos/*')])).toThrow(/delete/);
    expect(() => granter.delegate([allow(['read'], '*')])).toThrow(PolicyError);
    expect(() => new Permissions([allow(['read'], 'photos/*')]).delegate([allow(['read'], 'photos/a')])).toThrow(/grant/);
    expect(Permissions.ALL.delegate([allow(['read'], '*')])).toEqual([allow(['read'], '*')]);
  });

  it('parses and validates stored policies', () => {
    expect(parsePolicies(JSON.stringify([allow(['read'], 'a/*')]))).toEqual([allow(['read'], 'a/*')]);
    expect(() => parsePolicies([{ effect: 'allow', actions: ['fly'], resources: ['*'] }])).toThrow(PolicyError);
    expect(() => parsePolicies([{ effect: 'allow', actions: ['read'], resources: [] }])).toThrow(PolicyError);
    expect(() => parsePolicies([{ effect: 'allow', actions: ['read'], resources: ['*'], extra: 1 }])).toThrow(PolicyError);
    // Bounded, so evaluating a policy on every request stays cheap whoever wrote it.
    expect(() => parsePolicies([{ effect: 'deny', actions: ['read'], resources: ['a/' + '*x'.repeat(9)] }])).toThrow(/at most 8/);
    expect(() => parsePolicies([{ effect: 'deny', actions: ['read'], resources: Array.from({ length: 51 }, (_, i) => `b/${i}`) }])).toThrow(
      PolicyError,
    );
    expect(() =>
      parsePolicies(Array.from({ length: 20 }, () => ({ effect: 'deny', actions: ['read'], resources: ['d/' + 'x'.repeat(500)] }))),
    ).toThrow(/bytes/);
  });
});
