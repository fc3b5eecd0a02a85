/**
 * Model-based property test of branches (issue 15), on both engines: random
 * puts and deletes on main and on one or two branches (addressed as
 * `bucket`, `bucket--main` and `bucket--<branch>`), branches made from a
 * branch head or from a commit, commits, tags, merges (strategy
 * source-wins) and reads — GET and ListObjectsV2, paged and with a
 * delimiter — through branches, tags and commit aliases, checked against an
 * in-memory model where a branch is a copy of its parent's state at the
 * fork, a commit a frozen copy, and a merge a three-way merge against the
 * base the commit DAG gives. After every sequence every ref is read whole.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { expect, it } from 'vitest';

import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { fuzzParams } from '../support/fuzz.js';
import { signedFetch } from '../support/signed-fetch.js';

type State = Map<string, string>;

const KEYS = ['a', 'b/c', 'b/d', 'e', 'ü'];
const MAX_BRANCHES = 3; // main and two more
const MAX_TAGS = 3;

type Op =
  | { kind: 'put'; branch: number; key: string; alias: boolean }
  | { kind: 'delete'; branch: number; key: string }
  | { kind: 'branch'; from: number; fromCommit: boolean }
  | { kind: 'commit'; branch: number }
  | { kind: 'tag'; at: number; atCommit: boolean }
  | { kind: 'merge'; source: number; sourceCommit: boolean; into: number }
  | { kind: 'get'; ref: number; key: string }
  | { kind: 'list'; ref: number; pageSize: number; delimiter: boolean };

const key = fc.constantFrom(...KEYS);
const pick = fc.nat(20);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), branch: pick, key, alias: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), branch: pick, key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('branch' as const), from: pick, fromCommit: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const), branch: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tag' as const), at: pick, atCommit: fc.boolean() }) },
  {
    weight: 3,
    // Mostly a branch's present as the source; now and then a commit (often already in the destination's history).
    arbitrary: fc.record({ kind: fc.constant('merge' as const), source: pick, sourceCommit: fc.nat(3).map((n) => n === 0), into: pick }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), ref: pick, key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('list' as const),
      ref: pick,
      pageSize: fc.integer({ min: 1, max: 6 }),
      delimiter: fc.boolean(),
    }),
  },
);

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const same = (a: string | undefined, b: string | undefined) => a === b;

/** Three-way merge of whole objects, conflicts resolved for the source: a key the source changed since the base takes the source's side. */
function mergeSourceWins(base: State, source: State, dest: State): State {
  const out = new Map(dest);
  for (const k of new Set([...base.keys(), ...source.keys(), ...dest.keys()])) {
    if (same(source.get(k), base.get(k))) continue;
    const v = source.get(k);
    if (v === undefined) out.delete(k);
    else out.set(k, v);
  }
  return out;
}

interface Branch {
  name: string;
  state: State;
}

describeEachEngine('branches model', (engine) => {
  const t = useAnvil(engine);
  let run = 0;

  async function api(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: any }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${pathAndQuery}`, {
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
    });
    const out = await res.text();
    return { status: res.status, json: out ? JSON.parse(out) : undefined };
  }

  it('every sequence of writes, branches, commits, tags and merges reads back as the snapshot model says', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 15, maxLength: 25 }), async (ops) => {
        const bucket = `bm-${run++}`;
        await t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await t.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
        const branches: Branch[] = [{ name: 'main', state: new Map() }];
        /** Every commit the server named (explicit, fork points, tagged points, merge sources and merges): its frozen state. */
        const commits = new Map<string, State>();
        /** Parents of each commit, as the server reports them (for the merge base). */
        const parents = new Map<string, string[]>();
        const tags: Array<{ name: string; commit: string }> = [];
        let writes = 0;
        const trace: string[] = [];

        const aliasOf = (b: Branch, plain = false) => (b.name === 'main' && plain ? bucket : `${bucket}--${b.name}`);
        const learn = async (id: string | null | undefined, state: State) => {
          if (!id) return;
          if (!commits.has(id)) commits.set(id, new Map(state));
          else expect(commits.get(id), `commit ${id} named again with another state`).toEqual(state);
          await dag(id);
        };
        /** Learns the parents of a commit and of all its ancestors from the server. */
        const dag = async (id: string) => {
          const stack = [id];
          while (stack.length) {
            const c = stack.pop()!;
            if (parents.has(c)) continue;
            const res = await api('GET', `/buckets/${bucket}/commits/${c}`);
            expect(res.status, `commit ${c}`).toBe(200);
            parents.set(c, res.json.parents);
            stack.push(...res.json.parents);
          }
        };
        const commitIds = () => [...commits.keys()];
        /** Readable refs: branches (by alias; main also by the bucket's own name), tags, commits. */
        const refs = (): Array<{ name: string; state: State }> => [
          ...branches.map((b) => ({ name: aliasOf(b), state: b.state })),
          { name: bucket, state: branches[0].state },
          ...tags.map((tg) => ({ name: `${bucket}--${tg.name}`, state: commits.get(tg.commit)! })),
          ...commitIds().map((id) => ({ name: `${bucket}--c${id}`, state: commits.get(id)! })),
        ];

        async function expectGet(ref: string, k: string, want: string | undefined) {
          if (want === undefined) {
            const err = await s3Error(t.s3.send(new GetObjectCommand({ Bucket: ref, Key: k })));
            expect(`${err.$metadata.httpStatusCode} ${err.name}`, `GET ${ref}/${k}\n${trace.join('\n')}`).toBe('404 NoSuchKey');
          } else {
            const got = await (await t.s3.send(new GetObjectCommand({ Bucket: ref, Key: k }))).Body!.transformToString();
            expect(got, `GET ${ref}/${k}\n${trace.join('\n')}`).toBe(want);
          }
        }

        async function expectList(ref: string, state: State, pageSize = 1000, delimiter = false) {
          const listed: string[] = [];
          let token: string | undefined;
          do {
            const page = await t.s3.send(
              new ListObjectsV2Command({
                Bucket: ref,
                MaxKeys: pageSize,
                Delimiter: delimiter ? '/' : undefined,
                ContinuationToken: token,
              }),
            );
            listed.push(...(page.Contents ?? []).map((c) => c.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
            token = page.NextContinuationToken;
          } while (token);
          let want = [...state.keys()];
          if (delimiter) want = [...new Set(want.map((k) => (k.includes('/') ? k.slice(0, k.indexOf('/') + 1) : k)))];
          expect(
            listed.sort(byteOrder),
            `LIST ${ref} (pages of ${pageSize}${delimiter ? ', delimiter /' : ''})\n${trace.join('\n')}`,
          ).toEqual(want.sort(byteOrder));
        }

        for (const op of ops) {
          trace.push(JSON.stringify(op));
          switch (op.kind) {
            case 'put': {
              const b = branches[op.branch % branches.length];
              const body = `${b.name}:${op.key}:${++writes}`;
              await t.s3.send(new PutObjectCommand({ Bucket: aliasOf(b, !op.alias), Key: op.key, Body: body }));
              b.state.set(op.key, body);
              break;
            }
            case 'delete': {
              const b = branches[op.branch % branches.length];
              await t.s3.send(new DeleteObjectCommand({ Bucket: aliasOf(b), Key: op.key }));
              b.state.delete(op.key);
              break;
            }
            case 'branch': {
              if (branches.length >= MAX_BRANCHES) break;
              const name = `br${branches.length}`;
              const ids = commitIds();
              const fromCommit = op.fromCommit && ids.length > 0 ? ids[op.from % ids.length] : undefined;
              const parent = branches[op.from % branches.length];
              const res = await api('POST', `/buckets/${bucket}/branches`, { name, from: fromCommit ?? parent.name });
              expect(res.status, JSON.stringify(res.json)).toBe(201);
              const state = new Map(fromCommit ? commits.get(fromCommit)! : parent.state);
              if (fromCommit) expect(res.json.headCommit).toBe(fromCommit);
              else await learn(res.json.headCommit, parent.state);
              branches.push({ name, state });
              break;
            }
            case 'commit': {
              const b = branches[op.branch % branches.length];
              const res = await api('POST', `/buckets/${bucket}/branches/${b.name}/commits`, { message: `commit ${trace.length}` });
              expect(res.status, JSON.stringify(res.json)).toBe(201);
              await learn(res.json.id, b.state);
              break;
            }
            case 'tag': {
              if (tags.length >= MAX_TAGS) break;
              const name = `tag${tags.length}`;
              const ids = commitIds();
              const atCommit = op.atCommit && ids.length > 0 ? ids[op.at % ids.length] : undefined;
              const b = branches[op.at % branches.length];
              const res = await api('POST', `/buckets/${bucket}/tags`, { name, at: atCommit ?? b.name });
              expect(res.status, JSON.stringify(res.json)).toBe(201);
              if (atCommit) expect(res.json.commit).toBe(atCommit);
              else await learn(res.json.commit, b.state);
              tags.push({ name, commit: res.json.commit });
              break;
            }
            case 'merge': {
              const into = branches[op.into % branches.length];
              const ids = commitIds();
              const sourceCommit = op.sourceCommit && ids.length > 0 ? ids[op.source % ids.length] : undefined;
              const others = branches.filter((b) => b !== into);
              if (!sourceCommit && others.length === 0) break;
              const sourceBranch = others[op.source % Math.max(1, others.length)];
              const sourceState = new Map(sourceCommit ? commits.get(sourceCommit)! : sourceBranch!.state);
              const destHead = (await api('GET', `/buckets/${bucket}/branches/${into.name}`)).json.headCommit as string | null;
              const res = await api('POST', `/buckets/${bucket}/branches/${into.name}/merges`, {
                source: sourceCommit ?? sourceBranch!.name,
                strategy: 'source-wins',
              });
              expect(res.status, `${JSON.stringify(res.json)}\n${trace.join('\n')}`).toBe(200);
              await learn(res.json.source, sourceState);
              if (res.json.status === 'up-to-date') {
                // Nothing to do: the source is already in the destination's history.
                expect(res.json.applied).toBe(0);
                if (res.json.source && destHead) {
                  await dag(destHead);
                  expect(ancestorsOf(destHead, parents)).toContain(res.json.source);
                }
                break;
              }
              expect(res.json.status).toBe('merged');
              // The base: a best common ancestor of the destination's head and the source in the DAG.
              const base = res.json.base as string | null;
              if (base !== null) {
                expect(commits.has(base), `merge base ${base} is a commit the model never saw\n${trace.join('\n')}`).toBe(true);
                if (destHead) {
                  await dag(destHead);
                  expect(bestCommonAncestors(destHead, res.json.source, parents), trace.join('\n')).toContain(base);
                }
              }
              const merged = mergeSourceWins(base === null ? new Map() : commits.get(base)!, sourceState, into.state);
              into.state = merged;
              await learn(res.json.commit?.id, merged);
              break;
            }
            case 'get': {
              const all = refs();
              const r = all[op.ref % all.length];
              await expectGet(r.name, op.key, r.state.get(op.key));
              break;
            }
            case 'list': {
              const all = refs();
              const r = all[op.ref % all.length];
              await expectList(r.name, r.state, op.pageSize, op.delimiter);
              break;
            }
          }
        }

        // Every ref, whole.
        for (const r of refs()) {
          await expectList(r.name, r.state);
          for (const k of KEYS) await expectGet(r.name, k, r.state.get(k));
        }
      }),
      fuzzParams(20),
    );
  }, 240_000);
});

/** Every commit reachable from `id` (itself included). */
function ancestorsOf(id: string, parents: Map<string, string[]>): string[] {
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const c = stack.pop()!;
    if (seen.has(c)) continue;
    seen.add(c);
    stack.push(...(parents.get(c) ?? []));
  }
  return [...seen];
}

/** Common ancestors of a and b that are not ancestors of another common ancestor. */
function bestCommonAncestors(a: string, b: string, parents: Map<string, string[]>): string[] {
  const ofB = new Set(ancestorsOf(b, parents));
  const common = ancestorsOf(a, parents).filter((c) => ofB.has(c));
  return common.filter((c) => !common.some((o) => o !== c && ancestorsOf(o, parents).includes(c)));
}
