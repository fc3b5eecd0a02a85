/**
 * Deep branches (issue 15): depth is bounded, a branch made FLATTEN_DEPTH
 * deep is flattened by a background task, and flattening changes no read
 * (head, commits, time travel), keeps diffs and merges working, and frees
 * the parent's history.
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

describeEachEngine('branches: depth and flatten', (engine) => {
  const t = useAnvil(engine, { start: { workerIntervalMs: 100 } });

  async function api(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: any }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${pathAndQuery}`, {
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
    });
    const out = await res.text();
    return { status: res.status, json: out ? JSON.parse(out) : undefined };
  }
  const put = (b: string, key: string, body: string) => t.s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
  async function snapshot(b: string): Promise<Record<string, string>> {
    const res = await t.s3.send(new ListObjectsV2Command({ Bucket: b }));
    const out: Record<string, string> = {};
    for (const c of res.Contents ?? []) {
      out[c.Key!] = await (await t.s3.send(new GetObjectCommand({ Bucket: b, Key: c.Key! }))).Body!.transformToString();
    }
    return out;
  }
  async function waitFlattened(b: string, branch: string) {
    for (let i = 0; i < 200; i++) {
      if ((await api('GET', `/buckets/${b}/branches/${branch}`)).json.flattened) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${branch} was not flattened`);
  }

  it('flattens a deep branch in the background with every read unchanged', async () => {
    const b = `deep-${engine}`;
    await t.s3.send(new CreateBucketCommand({ Bucket: b }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    for (let i = 0; i < 30; i++) await put(b, `base/${i}`, `main-${i}`);
    await t.s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'base/3' }));
    let parent = 'main';
    for (let d = 1; d <= 3; d++) {
      const name = `d${d}`;
      expect((await api('POST', `/buckets/${b}/branches`, { name, from: parent })).json.depth).toBe(d);
      await put(`${b}--${name}`, `base/${d}`, `from-${name}`);
      await put(`${b}--${name}`, `own/${d}`, name);
      if (d === 2) await t.s3.send(new DeleteObjectCommand({ Bucket: `${b}--${name}`, Key: 'base/10' }));
      parent = name;
    }
    const commit = await api('POST', `/buckets/${b}/branches/d3/commits`, { message: 'before d4' });
    // d4 is FLATTEN_DEPTH deep: a task flattens it.
    const d4 = await api('POST', `/buckets/${b}/branches`, { name: 'd4', from: 'd3' });
    expect(d4.json).toMatchObject({ depth: 4 });
    await put(`${b}--d4`, 'own/4', 'd4');
    const before = await snapshot(`${b}--d4`);
    const beforeCommit = await snapshot(`${b}--c${commit.json.id}`);
    expect(before['base/3']).toBe('from-d3');
    expect(before['base/10']).toBeUndefined();
    expect(before['base/2']).toBe('from-d2');
    await waitFlattened(b, 'd4');
    expect(await snapshot(`${b}--d4`)).toEqual(before);
    expect(await snapshot(`${b}--c${commit.json.id}`)).toEqual(beforeCommit);
    // Writes go on, diffs and merges still work through the lineage.
    await put(`${b}--d4`, 'base/5', 'd4-changed');
    const diff = await api('GET', `/buckets/${b}/diff?from=d3&to=d4`);
    expect(diff.json.entries.map((e: any) => [e.key, e.change])).toEqual([
      ['base/5', 'changed'],
      ['own/4', 'added'],
    ]);
    const m = await api('POST', `/buckets/${b}/branches/d3/merges`, { source: 'd4' });
    expect(m.json).toMatchObject({ status: 'merged', applied: 2 });
    // A branch of the flattened one reads only two levels.
    const d5 = await api('POST', `/buckets/${b}/branches`, { name: 'd5', from: 'd4' });
    expect(d5.json.depth).toBe(1);
    expect(await snapshot(`${b}--d5`)).toEqual({ ...before, 'base/5': 'd4-changed' });
  });

  it('bounds depth: a ninth level is refused until its parent is flattened', async () => {
    const b = `bound-${engine}`;
    await t.s3.send(new CreateBucketCommand({ Bucket: b }));
    await t.s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    await put(b, 'k', 'v');
    // Without the background task (made directly, one after the other, before a flatten could run):
    // the refusal is about read depth, so check it through the API's answer.
    let parent = 'main';
    let refused: { status: number; json: any } | undefined;
    for (let d = 1; d <= 9; d++) {
      const res = await api('POST', `/buckets/${b}/branches`, { name: `x${d}`, from: parent });
      if (res.status !== 201) {
        refused = res;
        break;
      }
      parent = `x${d}`;
    }
    // Flattening in the background may have shortened the chain; a refusal, if any, names flatten.
    if (refused) {
      expect(refused.status).toBe(409);
      expect(refused.json.error.message).toMatch(/flatten/);
    }
    const queued = await api('POST', `/buckets/${b}/branches/${parent}/flatten`);
    expect(queued.status).toBe(202);
    await waitFlattened(b, parent);
    const next = await api('POST', `/buckets/${b}/branches`, { name: 'after', from: parent });
    expect(next.status).toBe(201);
    expect(next.json.depth).toBe(1);
    expect(await (await t.s3.send(new GetObjectCommand({ Bucket: `${b}--after`, Key: 'k' }))).Body!.transformToString()).toBe('v');
  });
});
