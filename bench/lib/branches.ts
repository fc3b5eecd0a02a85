/**
 * The branches section (Anvil targets only): issue 15's targets, as ratios
 * measured in the same run on the same server.
 *
 *   1. Branch creation (POST …/branches from main, whose head changed since
 *      its last commit, so each creation commits main first) on a bucket of
 *      `keys` objects vs an empty versioned bucket, alternating.
 *   2. GET (c=1) and ListObjectsV2 (1000-key pages, random start-after) on
 *      main vs through a branch of depth 1 and through the deepest chain
 *      the server allows (reads consult 8 levels: the branch and 7
 *      ancestors), sampled in rotation.
 *   3. Reading a key as of a commit `deepVersions` versions back (GET
 *      through the bucket--c<id> alias) vs reading its latest version.
 *   4. Diff (every page, limit 1000) and merge (source-wins) of a branch
 *      that changed `changes` keys, on the `keys` bucket vs a bucket of
 *      `changes` keys.
 *
 * Seeding: a million objects through S3 PUTs take hours on the bench
 * machine, so the server is stopped once and rows are inserted into its
 * database (lib/seed.ts): copies of template rows that real PUTs wrote (so
 * GETs read real blobs; reference counts and usage counters move). The
 * deep chain and the feature branches are made there too, as the branch
 * service makes them but without queueing a flatten (a chain of 8 levels
 * would otherwise be flattened in the background during the measurement).
 * Branches measured in 1 are made through the admin API.
 */
import crypto from 'node:crypto';

import { objectPath, type S3Http } from './client.js';
import type { Plan } from './plan.js';
import { cell, tableHead, type TargetReport } from './report.js';
import { closedLoop, type Measurement, type RunResult, summarize } from './runner.js';
import { bucketIdOf, forkOffline, insertCopies, keyOf, keySql, type SeedDb, templateRow } from './seed.js';
import type { Results, WorkloadTarget } from './workloads.js';

export interface BranchesHost {
  /** The running server (its client and PIDs change across offline()). */
  target(): WorkloadTarget;
  /** Stops the server, runs fn on its database, starts it again. */
  offline(fn: (db: SeedDb) => Promise<void>): Promise<void>;
}

const VERSIONING_ON = Buffer.from(
  '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>',
);

const B = { tpl: 'bb-tpl', empty: 'bb-empty', big: 'bb-big', small: 'bb-small', deep: 'bb-deep' } as const;
const DEEP_KEY = 'deep/object';
/** Levels a read may consult (core/branches/types.ts MAX_DEPTH): the chain's last branch reads them all. */
const CHAIN = 7;

function sha256Hex(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** A SigV4-signed admin API call (the body signed, as the admin API requires); its JSON answer. */
async function admin(http: S3Http, method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<any> {
  const buf = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const res = await http.request(method, `/admin/v1${path}`, {
    body: buf,
    query,
    wantText: true,
    headers: buf ? { 'content-type': 'application/json', 'x-amz-content-sha256': sha256Hex(buf) } : {},
  });
  return res.text ? JSON.parse(res.text) : undefined;
}

async function versionedBucket(http: S3Http, bucket: string): Promise<void> {
  await http.request('PUT', objectPath(bucket), { okStatuses: [409] });
  await http.request('PUT', objectPath(bucket), {
    query: { versioning: '' },
    body: VERSIONING_ON,
    headers: { 'content-type': 'application/xml', 'content-md5': crypto.createHash('md5').update(VERSIONING_ON).digest('base64') },
  });
}

/** One sample per call of `fn`, as a RunResult (CPU not attributed). */
function fromLatencies(lat: number[]): RunResult {
  return {
    ops: lat.length,
    bytes: 0,
    seconds: lat.reduce((a, b) => a + b, 0) / 1000,
    lat: Float64Array.from(lat),
    clientCpuS: 0,
    serverCpuS: null,
  };
}

interface Query {
  name: string;
  run: (http: S3Http) => Promise<void>;
}

/**
 * Runs the queries in rotation (one of each per round, the first rotating)
 * for `rounds` rounds or `maxS` seconds in all; one unmeasured call of each
 * first. Client and server CPU of the whole rotation are shared out by time.
 */
async function rotation(t: WorkloadTarget, queries: Query[], rounds: number, maxS: number, out: Results): Promise<void> {
  const lats = queries.map(() => [] as number[]);
  for (const q of queries) await q.run(t.http);
  const whole = await closedLoop({
    concurrency: 1,
    count: rounds,
    durationS: maxS,
    serverPids: t.serverPids,
    op: async (_w, round) => {
      for (let j = 0; j < queries.length; j++) {
        const i = (round + j) % queries.length;
        const s = performance.now();
        await queries[i].run(t.http);
        lats[i].push(performance.now() - s);
      }
      return 0;
    },
  });
  const total = lats.reduce((a, l) => a + l.reduce((x, y) => x + y, 0), 0);
  queries.forEach((q, i) => {
    const r = fromLatencies(lats[i]);
    const share = total ? (r.seconds * 1000) / total : 0;
    r.clientCpuS = whole.clientCpuS * share;
    r.serverCpuS = whole.serverCpuS === null ? null : whole.serverCpuS * share;
    out[q.name] = summarize(r, 'ms', r.ops < rounds ? `${r.ops} samples (time cap)` : undefined);
    t.log(`  ${q.name}: p50 ${out[q.name].p50Ms.toFixed(2)} ms p99 ${out[q.name].p99Ms.toFixed(2)} ms over ${r.ops}`);
  });
}

export async function branches(host: BranchesHost, plan: Plan, out: Results): Promise<void> {
  const p = plan.branches;
  const log = (s: string): void => host.target().log(s);
  let http = host.target().http;
  const size = 4096;

  // ---- online: buckets, template objects (real PUTs), the deep key and the commit before its history ----
  for (const b of Object.values(B)) await versionedBucket(http, b);
  const templates = p.merges + 2; // t0: main's content; t1: the chain's writes; t2…: each feature branch's
  for (let i = 0; i < templates; i++) await http.request('PUT', objectPath(B.tpl, `t${i}`), { body: crypto.randomBytes(size) });
  await http.request('PUT', objectPath(B.deep, DEEP_KEY), { body: crypto.randomBytes(size) });
  const old = await admin(http, 'POST', `/buckets/${B.deep}/branches/main/commits`, { message: 'before the history (bench)' });
  const deepCommit = old.id as string;

  // ---- offline: the big, small and deep buckets, the chain, the feature branches ----
  const t0 = Date.now();
  await host.offline(async (db) => {
    const tpl = await bucketIdOf(db, B.tpl);
    const tmpl = [];
    for (let i = 0; i < templates; i++) tmpl.push(await templateRow(db, tpl.id, `t${i}`));
    const big = (await bucketIdOf(db, B.big)).id;
    const small = (await bucketIdOf(db, B.small)).id;
    const deep = (await bucketIdOf(db, B.deep)).id;
    let s = Date.now();
    await insertCopies(db, big, tmpl[0], p.keys, (i) => keySql(db, i), 'new');
    log(`  seeded ${B.big}: ${p.keys} keys in ${((Date.now() - s) / 1000).toFixed(1)} s`);
    s = Date.now();
    await insertCopies(db, small, tmpl[0], p.changes, (i) => keySql(db, i), 'new');
    await insertCopies(db, deep, tmpl[0], p.deepVersions, () => `'${DEEP_KEY}'`, 'history');
    log(
      `  seeded ${B.small} (${p.changes} keys) and ${DEEP_KEY} (${p.deepVersions} versions) in ${((Date.now() - s) / 1000).toFixed(1)} s`,
    );
    // The chain main → d1 → … → d7, each branch overwriting chainWrites keys spread over the bucket.
    let parent = big;
    for (let d = 1; d <= CHAIN; d++) {
      const timeline = await forkOffline(db, big, parent, `d${d}`);
      const stride = Math.floor(p.keys / p.chainWrites);
      await insertCopies(db, timeline, tmpl[1], p.chainWrites, (i) => keySql(db, `(${i}) * ${stride} + ${d}`), 'new');
      parent = timeline;
    }
    // Feature branches of the big and the small bucket, each changing `changes` keys spread over it.
    for (const [bucket, n] of [
      [big, p.keys],
      [small, p.changes],
    ] as const) {
      for (let r = 1; r <= p.merges; r++) {
        const timeline = await forkOffline(db, bucket, bucket, `feat${r}`);
        const stride = Math.floor(n / p.changes);
        await insertCopies(db, timeline, tmpl[1 + r], p.changes, (i) => keySql(db, `(${i}) * ${stride}`), 'new');
      }
    }
    s = Date.now();
    await db.finish();
    log(`  ${db.engine === 'sqlite' ? 'WAL checkpoint' : 'ANALYZE'}: ${((Date.now() - s) / 1000).toFixed(1)} s`);
    if (process.env.ANVIL_BENCH_EXPLAIN && db.engine === 'postgres') {
      // Diagnostics: plans of statements slower than 30 ms go to the server log (ANVIL_BENCH_PG_LOG keeps it).
      await db.run("LOAD 'auto_explain'");
      await db.run("ALTER SYSTEM SET session_preload_libraries = 'auto_explain'");
      await db.run("ALTER SYSTEM SET auto_explain.log_min_duration = '30ms'");
      await db.all('SELECT pg_reload_conf()');
    }
  });
  out['br-seed'] = summarize(fromLatencies([Date.now() - t0]), 'ms');
  log(`  offline seeding and restart: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const t = host.target();
  http = t.http;

  // Sanity: the chain's deepest branch reads through every level, and the seeded keys answer.
  const d7 = await admin(http, 'GET', `/buckets/${B.big}/branches/d${CHAIN}`);
  if (d7.depth !== CHAIN || d7.flattened) throw new Error(`d${CHAIN}: depth ${d7.depth}, flattened ${d7.flattened}`);
  for (const b of [B.big, `${B.big}--d1`, `${B.big}--d${CHAIN}`, `${B.deep}--c${deepCommit}`]) {
    const key = b.startsWith(B.deep) ? DEEP_KEY : keyOf(p.keys - 1);
    const r = await http.request('GET', objectPath(b, key));
    if (r.bytes !== size) throw new Error(`GET ${b}/${key}: ${r.bytes} bytes`);
  }

  // ---- 1. branch creation: big vs empty, alternating; main changed before each (so creating commits it) ----
  // (the small bucket's main gets the same writes, so that merges into it see as many changes on main as the big one's)
  const lat: Record<'big' | 'empty', number[]> = { big: [], empty: [] };
  for (let i = 0; i < p.creations; i++) {
    await http.request('PUT', objectPath(B.small, `zz-create/${i}`), { body: crypto.randomBytes(16) });
    for (const side of i % 2 ? (['empty', 'big'] as const) : (['big', 'empty'] as const)) {
      const bucket = side === 'big' ? B.big : B.empty;
      await http.request('PUT', objectPath(bucket, `zz-create/${i}`), { body: crypto.randomBytes(16) });
      const s = performance.now();
      const res = await admin(http, 'POST', `/buckets/${bucket}/branches`, { name: `n${i}` });
      lat[side].push(performance.now() - s);
      if (res.depth !== 1) throw new Error(`branch n${i} of ${bucket}: depth ${res.depth}`);
    }
  }
  out['br-create-empty'] = summarize(fromLatencies(lat.empty), 'ms');
  out['br-create-big'] = summarize(fromLatencies(lat.big), 'ms');
  log(
    `  branch create: empty p50 ${out['br-create-empty'].p50Ms.toFixed(2)} p99 ${out['br-create-empty'].p99Ms.toFixed(2)} ms, ${p.keys} keys p50 ${out['br-create-big'].p50Ms.toFixed(2)} p99 ${out['br-create-big'].p99Ms.toFixed(2)} ms`,
  );

  // ---- 2. GET and ListObjectsV2 on main, depth 1, depth 7 (8 levels) ----
  const randomKey = (): string => keyOf(Math.floor(Math.random() * p.keys));
  const get = (bucket: string) => async (h: S3Http) => {
    const k = randomKey();
    const r = await h.request('GET', objectPath(bucket, k));
    if (r.bytes !== size) throw new Error(`GET ${bucket}/${k}: ${r.bytes} bytes`);
  };
  const list = (bucket: string) => async (h: S3Http) => {
    const res = await h.request('GET', objectPath(bucket), {
      query: { 'list-type': '2', 'max-keys': '1000', 'start-after': keyOf(Math.floor(Math.random() * (p.keys - 1001))) },
      wantText: true,
    });
    const n = res.text!.match(/<Key>/g)?.length ?? 0;
    if (n !== 1000) throw new Error(`ListObjectsV2 ${bucket}: ${n} keys, expected 1000`);
  };
  const refs = [
    { suffix: 'main', bucket: B.big },
    { suffix: 'd1', bucket: `${B.big}--d1` },
    { suffix: `d${CHAIN}`, bucket: `${B.big}--d${CHAIN}` },
  ];
  await rotation(
    t,
    refs.map((r) => ({ name: `br-get-${r.suffix}`, run: get(r.bucket) })),
    p.getRounds,
    p.maxS,
    out,
  );
  await rotation(
    t,
    refs.map((r) => ({ name: `br-list-${r.suffix}`, run: list(r.bucket) })),
    p.listRounds,
    p.maxS,
    out,
  );

  // ---- 3. a key as of a commit deepVersions versions back vs its latest ----
  const getDeep = (bucket: string) => async (h: S3Http) => {
    const r = await h.request('GET', objectPath(bucket, DEEP_KEY));
    if (r.bytes !== size) throw new Error(`GET ${bucket}/${DEEP_KEY}: ${r.bytes} bytes`);
  };
  await rotation(
    t,
    [
      { name: 'br-asof-latest', run: getDeep(B.deep) },
      { name: 'br-asof-commit', run: getDeep(`${B.deep}--c${deepCommit}`) },
    ],
    p.getRounds,
    p.maxS,
    out,
  );

  // ---- 4. diff and merge: big vs small, the same number of changed keys ----
  // From the commit the feature branches forked at: what they changed (main moved on since).
  const forkOf = async (bucket: string): Promise<string> =>
    `c${(await admin(http, 'GET', `/buckets/${bucket}/branches/feat1`)).headCommit}`;
  const forks: Record<string, string> = { [B.small]: await forkOf(B.small), [B.big]: await forkOf(B.big) };
  const diffAll = (bucket: string, branch: string) => async (h: S3Http) => {
    let after: string | undefined;
    let n = 0;
    for (;;) {
      const page = await admin(h, 'GET', `/buckets/${bucket}/diff`, undefined, {
        from: forks[bucket],
        to: branch,
        limit: '1000',
        ...(after ? { after } : {}),
      });
      for (const e of page.entries as Array<{ change: string }>) {
        if (e.change !== 'changed') throw new Error(`diff ${bucket} ${forks[bucket]}..${branch}: a key ${e.change}`);
        n++;
      }
      after = page.nextAfter;
      if (!after) break;
    }
    if (n !== p.changes) throw new Error(`diff ${bucket} ${forks[bucket]}..${branch}: ${n} keys, expected ${p.changes}`);
  };
  await rotation(
    t,
    [
      { name: 'br-diff-small', run: diffAll(B.small, 'feat1') },
      { name: 'br-diff-big', run: diffAll(B.big, 'feat1') },
    ],
    p.diffRounds,
    p.maxS * 2,
    out,
  );
  const merges: Record<'big' | 'small', number[]> = { big: [], small: [] };
  for (let r = 1; r <= p.merges; r++) {
    for (const side of r % 2 ? (['small', 'big'] as const) : (['big', 'small'] as const)) {
      const bucket = side === 'big' ? B.big : B.small;
      const s = performance.now();
      const res = await admin(http, 'POST', `/buckets/${bucket}/branches/main/merges`, { source: `feat${r}`, strategy: 'source-wins' });
      merges[side].push(performance.now() - s);
      if (res.status !== 'merged' || res.applied !== p.changes)
        throw new Error(`merge feat${r} into ${bucket} main: ${res.status}, applied ${res.applied}`);
      log(`  merge feat${r} into ${bucket}: ${(merges[side][merges[side].length - 1] / 1000).toFixed(2)} s`);
    }
  }
  out['br-merge-small'] = summarize(fromLatencies(merges.small), 'ms');
  out['br-merge-big'] = summarize(fromLatencies(merges.big), 'ms');
}

// ---- the table ----

export interface BranchRow {
  label: string;
  base: string;
  other: string;
  target: number;
  /** What the target bounds: the ratio of p99s, or of p50s (merges: a few samples, the median). */
  stat: 'p99' | 'p50';
  /** An absolute bound on the other side's p99 as well (branch creation: 50 ms). */
  p99UnderMs?: number;
}

function count(n: number): string {
  return n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

export function branchRows(plan: Plan): BranchRow[] {
  const p = plan.branches;
  const k = count(p.keys);
  return [
    {
      label: `Branch create on ${k} objects vs empty bucket`,
      base: 'br-create-empty',
      other: 'br-create-big',
      target: 1.2,
      stat: 'p99',
      p99UnderMs: 50,
    },
    { label: `GET (c=1), depth 1 vs main (${k} keys)`, base: 'br-get-main', other: 'br-get-d1', target: 1.5, stat: 'p99' },
    { label: `GET (c=1), 8 levels (depth ${CHAIN}) vs main`, base: 'br-get-main', other: `br-get-d${CHAIN}`, target: 1.5, stat: 'p99' },
    { label: `ListObjectsV2 1000 keys, depth 1 vs main`, base: 'br-list-main', other: 'br-list-d1', target: 1.5, stat: 'p99' },
    {
      label: `ListObjectsV2 1000 keys, 8 levels (depth ${CHAIN}) vs main`,
      base: 'br-list-main',
      other: `br-list-d${CHAIN}`,
      target: 1.5,
      stat: 'p99',
    },
    {
      label: `GET as of a commit ${count(p.deepVersions)} versions back vs latest`,
      base: 'br-asof-latest',
      other: 'br-asof-commit',
      target: 2,
      stat: 'p99',
    },
    {
      label: `Diff of ${count(p.changes)} changed keys (all pages): ${k}-key vs ${count(p.changes)}-key bucket`,
      base: 'br-diff-small',
      other: 'br-diff-big',
      target: 1.3,
      stat: 'p99',
    },
    {
      label: `Merge of ${count(p.changes)} changed keys: ${k}-key vs ${count(p.changes)}-key bucket`,
      base: 'br-merge-small',
      other: 'br-merge-big',
      target: 1.3,
      stat: 'p50',
    },
  ];
}

export interface BranchRatio {
  p50: number | null;
  p99: number | null;
  target: number;
  stat: 'p99' | 'p50';
  met: boolean | null;
}

function div(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || !b || !Number.isFinite(a) || !Number.isFinite(b) ? null : a / b;
}

export function branchRatios(targets: TargetReport[], plan: Plan): Record<string, Record<string, BranchRatio>> {
  const out: Record<string, Record<string, BranchRatio>> = {};
  for (const t of targets.filter((x) => x.role === 'anvil')) {
    for (const row of branchRows(plan)) {
      const b: Measurement | undefined = t.results[row.base];
      const x: Measurement | undefined = t.results[row.other];
      if (!b || !x) continue;
      const p50 = div(x.p50Ms, b.p50Ms);
      const p99 = div(x.p99Ms, b.p99Ms);
      const r = row.stat === 'p99' ? p99 : p50;
      out[t.name] ??= {};
      out[t.name][row.other] = {
        p50,
        p99,
        target: row.target,
        stat: row.stat,
        met: r === null ? null : r <= row.target && (row.p99UnderMs === undefined || x.p99Ms < row.p99UnderMs),
      };
    }
  }
  return out;
}

function x(r: number | null | undefined): string {
  return r === null || r === undefined ? '—' : `${r.toFixed(2)}×`;
}

/** Per Anvil target: the baseline, the other side, their ratio, met or not. */
export function branchesTable(targets: TargetReport[], plan: Plan): string {
  const anvils = targets.filter((t) => t.role === 'anvil' && branchRows(plan).some((r) => t.results[r.other]));
  const ratios = branchRatios(targets, plan);
  const head = ['Workload', ...anvils.flatMap((t) => [`${t.name} baseline`, `${t.name} branch`, `${t.name} ratio`]), 'target'];
  const lines = tableHead(head);
  for (const row of branchRows(plan)) {
    if (!anvils.some((t) => t.results[row.base] || t.results[row.other])) continue;
    const cells = [row.label];
    for (const t of anvils) {
      const r = ratios[t.name]?.[row.other];
      cells.push(cell(t.results[row.base]), cell(t.results[row.other]));
      if (!r) cells.push('—');
      else {
        const main = row.stat === 'p99' ? `p99 ${x(r.p99)} (p50 ${x(r.p50)})` : `p50 ${x(r.p50)} (max ${x(r.p99)})`;
        cells.push(`${main} ${r.met ? 'met' : '**missed**'}`);
      }
    }
    cells.push(`${row.stat} ≤ ${row.target}×${row.p99UnderMs ? `, p99 < ${row.p99UnderMs} ms` : ''}`);
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
