/**
 * Diff, merge and revert between branches (issue 15), on both engines:
 * one-sided and identical changes apply, change/change and change/delete
 * conflict (all listed, nothing applied) unless a strategy resolves them,
 * a repeated merge finds nothing new, criss-cross merges get a
 * deterministic base, and writes racing a merge are never overwritten.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

describeEachEngine('branches: diff, merge, revert', (engine) => {
  const t = useAnvil(engine);
  let n = 0;

  async function api(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: any }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${pathAndQuery}`, {
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
    });
    const out = await res.text();
    return { status: res.status, json: out ? JSON.parse(out) : undefined };
  }

  async function bucket(): Promise<string> {
    const name = `merge-${engine}-${++n}`;
    await t.s3.send(new CreateBucketCommand({ Bucket: name }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    return name;
  }

  const put = (b: string, key: string, body: string) => t.s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
  const del = (b: string, key: string) => t.s3.send(new DeleteObjectCommand({ Bucket: b, Key: key }));
  async function get(b: string, key: string): Promise<string | null> {
    try {
      return await (await t.s3.send(new GetObjectCommand({ Bucket: b, Key: key }))).Body!.transformToString();
    } catch (err) {
      if ((err as Error).name === 'NoSuchKey') return null;
      throw err;
    }
  }
  async function contents(b: string): Promise<Record<string, string>> {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: b }));
    const out: Record<string, string> = {};
    for (const c of res.Contents ?? []) out[c.Key!] = (await get(b, c.Key!))!;
    return out;
  }
  const branch = (b: string, name: string, from?: string) => api('POST', `/buckets/${b}/branches`, { name, from });
  const merge = (b: string, source: string, into: string, strategy?: string) =>
    api('POST', `/buckets/${b}/branches/${into}/merges`, { source, strategy });

  it('diffs two refs: added, changed and removed keys, paginated', async () => {
    const b = await bucket();
    await put(b, 'same', 's');
    await put(b, 'change', 'c1');
    await put(b, 'gone', 'g');
    expect((await branch(b, 'dev')).status).toBe(201);
    await put(`${b}--dev`, 'change', 'c2');
    await put(`${b}--dev`, 'new', 'n');
    await del(`${b}--dev`, 'gone');
    // Rewriting identical content is no difference.
    await put(`${b}--dev`, 'same', 's');
    const d = await api('GET', `/buckets/${b}/diff?from=main&to=dev`);
    expect(d.status).toBe(200);
    expect(d.json.entries.map((e: any) => [e.key, e.change])).toEqual([
      ['change', 'changed'],
      ['gone', 'removed'],
      ['new', 'added'],
    ]);
    const p1 = await api('GET', `/buckets/${b}/diff?from=main&to=dev&limit=2`);
    expect(p1.json.entries).toHaveLength(2);
    const p2 = await api('GET', `/buckets/${b}/diff?from=main&to=dev&limit=2&after=${encodeURIComponent(p1.json.nextAfter)}`);
    expect(p2.json.entries.map((e: any) => e.key)).toEqual(['new']);
    expect(p2.json.nextAfter).toBeUndefined();
    // Changes on main after the fork show too, the other way round.
    await put(b, 'main-later', 'm');
    const back = await api('GET', `/buckets/${b}/diff?from=dev&to=main`);
    expect(back.json.entries.map((e: any) => [e.key, e.change])).toEqual([
      ['change', 'changed'],
      ['gone', 'added'],
      ['main-later', 'added'],
      ['new', 'removed'],
    ]);
  });

  it('merges one-sided and identical changes, and a repeat merge is up to date', async () => {
    const b = await bucket();
    await put(b, 'a', 'a1');
    await put(b, 'b', 'b1');
    await put(b, 'c', 'c1');
    await branch(b, 'dev');
    await put(`${b}--dev`, 'a', 'a2');
    await del(`${b}--dev`, 'b');
    await put(`${b}--dev`, 'both', 'same');
    await put(b, 'both', 'same');
    await put(b, 'c', 'c2-main');
    const m = await merge(b, 'dev', 'main');
    expect(m.status).toBe(200);
    expect(m.json).toMatchObject({ status: 'merged', applied: 2 });
    expect(m.json.commit.parents).toHaveLength(2);
    expect(await contents(b)).toEqual({ a: 'a2', both: 'same', c: 'c2-main' });
    // The dev branch is untouched by the merge.
    expect(await contents(`${b}--dev`)).toEqual({ a: 'a2', both: 'same', c: 'c1' });
    const again = await merge(b, 'dev', 'main');
    expect(again.json.status).toBe('up-to-date');
    // New work on dev after the merge: only it applies (no spurious conflict on a, b).
    await put(`${b}--dev`, 'later', 'l');
    const third = await merge(b, 'dev', 'main');
    expect(third.json).toMatchObject({ status: 'merged', applied: 1 });
    expect(await get(b, 'later')).toBe('l');
    const log = await api('GET', `/buckets/${b}/commits?ref=main`);
    expect(log.json.commits[0].message).toBe('Merge dev into main');
  });

  it('lists every conflict and applies nothing; strategies resolve them', async () => {
    const b = await bucket();
    await put(b, 'x', 'base');
    await put(b, 'y', 'base');
    await put(b, 'ok', 'base');
    await branch(b, 'dev');
    await put(`${b}--dev`, 'x', 'dev');
    await put(b, 'x', 'main');
    await del(`${b}--dev`, 'y');
    await put(b, 'y', 'main');
    await put(`${b}--dev`, 'ok', 'dev');
    const m = await merge(b, 'dev', 'main');
    expect(m.status).toBe(409);
    expect(m.json.error.conflicts.map((c: any) => c.key)).toEqual(['x', 'y']);
    const y = m.json.error.conflicts[1];
    expect(y.source).toBeUndefined();
    expect(y.dest.etag).toBeTruthy();
    expect(y.base.etag).toBeTruthy();
    // Nothing applied, not even the one-sided change.
    expect(await contents(b)).toEqual({ ok: 'base', x: 'main', y: 'main' });

    const dw = await merge(b, 'dev', 'main', 'dest-wins');
    expect(dw.json).toMatchObject({ status: 'merged', applied: 1 });
    expect(await contents(b)).toEqual({ ok: 'dev', x: 'main', y: 'main' });

    const b2 = await bucket();
    await put(b2, 'x', 'base');
    await branch(b2, 'dev');
    await put(`${b2}--dev`, 'x', 'dev');
    await put(b2, 'x', 'main');
    const sw = await merge(b2, 'dev', 'main', 'source-wins');
    expect(sw.json.status).toBe('merged');
    expect(await get(b2, 'x')).toBe('dev');
  });

  it('merges main into a branch and a tag into a branch', async () => {
    const b = await bucket();
    await put(b, 'a', '1');
    await branch(b, 'dev');
    await put(b, 'a', '2');
    await put(b, 'm', 'main');
    expect((await merge(b, 'main', 'dev')).json.status).toBe('merged');
    expect(await contents(`${b}--dev`)).toEqual({ a: '2', m: 'main' });
    await api('POST', `/buckets/${b}/tags`, { name: 'rel', at: 'main' });
    await put(b, 'after-tag', 'x');
    await branch(b, 'hotfix', 'rel');
    await put(`${b}--hotfix`, 'fix', 'f');
    expect((await merge(b, 'hotfix', 'main')).json.status).toBe('merged');
    expect(await contents(b)).toEqual({ a: '2', 'after-tag': 'x', fix: 'f', m: 'main' });
  });

  it('reverts a commit, and a change made since conflicts', async () => {
    const b = await bucket();
    await put(b, 'a', '1');
    await put(b, 'b', '1');
    await api('POST', `/buckets/${b}/branches/main/commits`, { message: 'one' });
    await put(b, 'a', '2');
    await put(b, 'c', 'new');
    await del(b, 'b');
    const two = await api('POST', `/buckets/${b}/branches/main/commits`, { message: 'two' });
    const r = await api('POST', `/buckets/${b}/branches/main/reverts`, { commit: two.json.id });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'merged', applied: 3 });
    expect(await contents(b)).toEqual({ a: '1', b: '1' });
    const log = await api('GET', `/buckets/${b}/commits?ref=main&limit=1`);
    expect(log.json.commits[0].message).toBe(`Revert "two" (${two.json.id})`);

    // Revert "one"'s successor again after a later edit of the same key: a conflict.
    const b2 = await bucket();
    await put(b2, 'k', '1');
    await api('POST', `/buckets/${b2}/branches/main/commits`, { message: 'one' });
    await put(b2, 'k', '2');
    const c2 = await api('POST', `/buckets/${b2}/branches/main/commits`, { message: 'two' });
    await put(b2, 'k', '3');
    const conflict = await api('POST', `/buckets/${b2}/branches/main/reverts`, { commit: c2.json.id });
    expect(conflict.status).toBe(409);
    expect(await get(b2, 'k')).toBe('3');
  });

  it('picks a deterministic base in a criss-cross merge and reports it', async () => {
    const b = await bucket();
    await put(b, 'k', 'base');
    await branch(b, 'x');
    await branch(b, 'y');
    await put(`${b}--x`, 'fx', '1');
    await put(`${b}--y`, 'fy', '1');
    await api('POST', `/buckets/${b}/branches/x/commits`, { message: 'x1' });
    await api('POST', `/buckets/${b}/branches/y/commits`, { message: 'y1' });
    // Criss-cross: each merges the other's commit.
    const xLog = await api('GET', `/buckets/${b}/commits?ref=x&limit=1`);
    const yLog = await api('GET', `/buckets/${b}/commits?ref=y&limit=1`);
    const m1 = await merge(b, yLog.json.commits[0].id, 'x');
    const m2 = await merge(b, xLog.json.commits[0].id, 'y');
    expect(m1.json.status).toBe('merged');
    expect(m2.json.status).toBe('merged');
    await put(`${b}--x`, 'k', 'from-x');
    const m3 = await merge(b, 'x', 'y');
    expect(m3.status).toBe(200);
    expect(m3.json.bases).toBe(2);
    const m3again = await api('GET', `/buckets/${b}/commits?ref=y&limit=1`);
    expect(m3again.json.commits[0].parents).toHaveLength(2);
    expect(await contents(`${b}--y`)).toEqual({ fx: '1', fy: '1', k: 'from-x' });
  });

  it('never overwrites a destination write that races the merge', async () => {
    const b = await bucket();
    for (let i = 0; i < 40; i++) await put(b, `k${i}`, 'base');
    await branch(b, 'dev');
    for (let i = 0; i < 40; i++) await put(`${b}--dev`, `k${i}`, 'dev');
    // Writers on main race the merge: every key they write is theirs afterwards or a conflict.
    const racing = (async () => {
      for (let i = 0; i < 40; i += 4) await put(b, `k${i}`, 'racer');
    })();
    const m = await merge(b, 'dev', 'main');
    await racing;
    const final = await contents(b);
    if (m.status === 200) {
      // Keys the racer wrote before the merge planned are conflicts (so the merge would have failed);
      // a merge that succeeded planned before them, and the racer's later writes are newer.
      for (let i = 0; i < 40; i += 4) expect(['racer', 'dev']).toContain(final[`k${i}`]);
    } else {
      expect(m.status).toBe(409);
      expect(m.json.error.conflicts.length).toBeGreaterThan(0);
    }
    for (let i = 1; i < 40; i++) if (i % 4 !== 0) expect(final[`k${i}`]).toBe(m.status === 200 ? 'dev' : 'base');
  });
});
