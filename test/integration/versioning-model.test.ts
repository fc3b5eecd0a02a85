/**
 * Model-based property test of versioning: random sequences of writes,
 * deletes, deletes by version id and versioning state changes on a few
 * keys, run against a real server and against a small model of S3's rules.
 * After every sequence the server's ListObjectVersions (paged in small
 * pages), its GETs of each key and of each version, and its ListObjectsV2
 * must be exactly what the model says.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { fuzzParams } from '../support/fuzz.js';

type State = 'Unversioned' | 'Enabled' | 'Suspended';
interface ModelVersion {
  id: string;
  marker: boolean;
  body: string;
}

const KEYS = ['a', 'b/c', 'b/d', 'é'];

type Op =
  | { kind: 'put'; key: string; body: string }
  | { kind: 'delete'; key: string }
  | { kind: 'deleteVersion'; key: string; pick: number }
  | { kind: 'state'; to: 'Enabled' | 'Suspended' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom(...KEYS), body: fc.string({ maxLength: 12 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('deleteVersion' as const), key: fc.constantFrom(...KEYS), pick: fc.nat(6) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('state' as const), to: fc.constantFrom('Enabled' as const, 'Suspended' as const) }),
  },
);

describeEachEngine('versioning model', (engine) => {
  const t = useAnvil(engine);
  let run = 0;

  it('every sequence of writes, deletes and state changes leaves exactly the versions S3 would keep', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const Bucket = `model-${run++}`;
        await t.s3.send(new CreateBucketCommand({ Bucket }));
        let state: State = 'Unversioned';
        const model = new Map<string, ModelVersion[]>(KEYS.map((k) => [k, []]));
        for (const op of ops) {
          const history = op.kind === 'state' ? [] : model.get(op.key)!;
          if (op.kind === 'state') {
            await t.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: op.to } }));
            state = op.to;
          } else if (op.kind === 'put') {
            const res = await t.s3.send(new PutObjectCommand({ Bucket, Key: op.key, Body: op.body }));
            if (state === 'Unversioned') history.splice(0, history.length, { id: 'null', marker: false, body: op.body });
            else {
              if (state === 'Suspended') removeNull(history);
              // A Suspended bucket's write answers without a version id (it made the "null" version).
              if (state === 'Enabled') expect(res.VersionId).toMatch(/^[0-9a-f]{20}$/);
              else expect(res.VersionId).toBeUndefined();
              history.unshift({ id: res.VersionId ?? 'null', marker: false, body: op.body });
            }
          } else if (op.kind === 'delete') {
            const res = await t.s3.send(new DeleteObjectCommand({ Bucket, Key: op.key }));
            if (state === 'Unversioned') history.splice(0);
            else {
              if (state === 'Suspended') removeNull(history);
              expect(res.DeleteMarker).toBe(true);
              const id = state === 'Enabled' ? res.VersionId! : 'null';
              expect(res.VersionId).toBe(id);
              history.unshift({ id, marker: true, body: '' });
            }
          } else {
            // A version that exists (by position), or one that never did: both succeed.
            const target = history[op.pick % (history.length + 1)];
            await t.s3.send(new DeleteObjectCommand({ Bucket, Key: op.key, VersionId: target?.id ?? '0000000000000000abcd' }));
            if (target) history.splice(history.indexOf(target), 1);
          }
        }
        await expectMatches(Bucket, model);
      }),
      fuzzParams(12),
    );
  });

  function removeNull(history: ModelVersion[]): void {
    const i = history.findIndex((v) => v.id === 'null');
    if (i >= 0) history.splice(i, 1);
  }

  async function expectMatches(Bucket: string, model: Map<string, ModelVersion[]>): Promise<void> {
    // The model's listing: keys in UTF-8 byte order, each key's versions newest first.
    const keys = [...model.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const expected = keys.flatMap((key) => model.get(key)!.map((v, i) => `${key}|${v.id}|${v.marker}|${i === 0}`));
    const listed: string[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (;;) {
      const page = await t.s3.send(new ListObjectVersionsCommand({ Bucket, MaxKeys: 3, KeyMarker, VersionIdMarker }));
      const entries = [
        ...(page.Versions ?? []).map((v) => ({ key: v.Key!, id: v.VersionId!, marker: false, latest: v.IsLatest!, at: v.LastModified })),
        ...(page.DeleteMarkers ?? []).map((m) => ({
          key: m.Key!,
          id: m.VersionId!,
          marker: true,
          latest: m.IsLatest!,
          at: m.LastModified,
        })),
      ];
      listed.push(...entries.map((e) => `${e.key}|${e.id}|${e.marker}|${e.latest}`));
      if (!page.IsTruncated) break;
      KeyMarker = page.NextKeyMarker;
      VersionIdMarker = page.NextVersionIdMarker;
    }
    // The SDK splits versions and markers into two lists: each must come in the model's order.
    const versionsOnly = (xs: string[]) => xs.filter((x) => x.includes('|false|'));
    const markersOnly = (xs: string[]) => xs.filter((x) => x.includes('|true|'));
    expect([...listed].sort()).toEqual([...expected].sort());
    expect(versionsOnly(listed)).toEqual(versionsOnly(expected));
    expect(markersOnly(listed)).toEqual(markersOnly(expected));
    for (const key of keys) {
      const history = model.get(key)!;
      const latest = history[0];
      if (!latest || latest.marker) {
        expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket, Key: key })))).$metadata.httpStatusCode).toBe(404);
      } else {
        expect(await (await t.s3.send(new GetObjectCommand({ Bucket, Key: key }))).Body!.transformToString()).toBe(latest.body);
      }
      for (const v of history) {
        if (v.marker) continue;
        const got = await t.s3.send(new GetObjectCommand({ Bucket, Key: key, VersionId: v.id }));
        expect(await got.Body!.transformToString()).toBe(v.body);
      }
    }
    const live = await t.s3.send(new ListObjectsV2Command({ Bucket }));
    expect((live.Contents ?? []).map((c) => c.Key)).toEqual(keys.filter((k) => model.get(k)![0] && !model.get(k)![0].marker));
  }
});
