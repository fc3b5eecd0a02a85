/**
 * The versioning section (Anvil targets only): what a versioned bucket costs
 * against an unversioned one, as ratios measured in the same run on the same
 * server.
 *
 *   1. 4 KiB PUT (overwrite) and GET of the latest version, on keys that were
 *      each written `history` times first, versioned vs unversioned bucket.
 *      The two sides run A B B A (half the time box each) so that drift on a
 *      shared machine falls on both.
 *   2. ListObjectVersions page of 1000 from one key with `deepVersions`
 *      versions (a random version-id-marker) vs a ListObjectsV2 page of 1000
 *      from a bucket of `listKeys` keys × 1 version (random start-after).
 *   3. ListObjectsV2 page of 1000 (and of 1000 common prefixes, delimiter /)
 *      from a bucket of `listKeys` keys × `listVersions` versions vs the
 *      `listKeys` × 1 bucket.
 *   The list queries of 2 and 3 are sampled in rotation, one page of each in
 *   turn, so every side sees the same machine.
 */
import crypto from 'node:crypto';

import { objectPath, type S3Http } from './client.js';
import type { Plan } from './plan.js';
import { cell, tableHead, type TargetReport } from './report.js';
import { closedLoop, type Measurement, type RunResult, summarize } from './runner.js';
import type { Results, WorkloadTarget } from './workloads.js';

/** A pair of measurements: the baseline and the versioned side, by result key. */
export interface VersioningRow {
  label: string;
  base: string;
  versioned: string;
  /** Throughput rows compare ops/s and p99; list rows compare p99 (and p50). */
  kind: 'ops' | 'list' | 'seed';
  /** The target for the ratio (p99 for lists; ops/s and p99 for GET/PUT). */
  target?: number;
}

function count(n: number): string {
  return n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

export function versioningRows(plan: Plan): VersioningRow[] {
  const v = plan.versioning;
  const rows: VersioningRow[] = [];
  for (const c of plan.smallConcurrency)
    rows.push({ label: `4 KiB PUT (overwrite), c=${c}`, base: `ver-put-c${c}-base`, versioned: `ver-put-c${c}`, kind: 'ops', target: 1.1 });
  for (const c of plan.smallConcurrency)
    rows.push({
      label: `4 KiB PUT (new key), c=${c}`,
      base: `ver-put-new-c${c}-base`,
      versioned: `ver-put-new-c${c}`,
      kind: 'ops',
      target: 1.1,
    });
  for (const c of plan.smallConcurrency)
    rows.push({ label: `4 KiB GET latest, c=${c}`, base: `ver-get-c${c}-base`, versioned: `ver-get-c${c}`, kind: 'ops', target: 1.1 });
  rows.push(
    {
      label: `ListObjectVersions 1000 of one key's ${count(v.deepVersions)} versions vs ListObjectsV2 1000 keys of ${count(v.listKeys)} × 1`,
      base: 'ver-list-base',
      versioned: 'ver-list-versions',
      kind: 'list',
      target: 1.3,
    },
    {
      label: `(diagnostic) ListObjectVersions 1000 keys of ${count(v.listKeys)} × 1 (unversioned) vs ListObjectsV2 the same`,
      base: 'ver-list-base',
      versioned: 'ver-list-versions-flat',
      kind: 'list',
    },
    {
      label: `ListObjectsV2 1000 keys, ${count(v.listKeys)} keys × ${v.listVersions} versions vs × 1`,
      base: 'ver-list-base',
      versioned: 'ver-list-many',
      kind: 'list',
      target: 1.3,
    },
    {
      label: `ListObjectsV2 1000 prefixes (delimiter /), ${count(v.listKeys)} × ${v.listVersions} vs × 1`,
      base: 'ver-list-delim-base',
      versioned: 'ver-list-delim-many',
      kind: 'list',
    },
    {
      label: `(seeding the list buckets, 1-byte PUTs c=64: × ${v.listVersions} versioned vs × 1 unversioned)`,
      base: 'ver-seed-one',
      versioned: 'ver-seed-many',
      kind: 'seed',
    },
    {
      label: `(seeding one key's ${count(v.deepVersions)} versions, c=64, vs the × 1 bucket)`,
      base: 'ver-seed-one',
      versioned: 'ver-seed-deep',
      kind: 'seed',
    },
  );
  return rows;
}

const VERSIONING_ON = Buffer.from(
  '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>',
);

async function makeBucket(http: S3Http, bucket: string, versioned: boolean): Promise<void> {
  await http.request('PUT', objectPath(bucket), { okStatuses: [409] });
  if (!versioned) return;
  await http.request('PUT', objectPath(bucket), {
    query: { versioning: '' },
    body: VERSIONING_ON,
    headers: { 'content-type': 'application/xml', 'content-md5': crypto.createHash('md5').update(VERSIONING_ON).digest('base64') },
  });
  const got = await http.request('GET', objectPath(bucket), { query: { versioning: '' }, wantText: true });
  if (!/<Status>Enabled<\/Status>/.test(got.text ?? '')) throw new Error(`GetBucketVersioning ${bucket}: ${got.text}`);
}

function body(size: number): Buffer {
  return crypto.randomBytes(size);
}

/** Every body unique: a nonce and a sequence number in its first 16 bytes. */
function stamped(buf: Buffer, nonce: bigint, seq: number): Buffer {
  buf.writeBigUInt64LE(nonce, 0);
  buf.writeBigUInt64LE(BigInt(seq), 8);
  return buf;
}

function merge(a: RunResult, b: RunResult): RunResult {
  const lat = new Float64Array(a.lat.length + b.lat.length);
  lat.set(a.lat);
  lat.set(b.lat, a.lat.length);
  return {
    ops: a.ops + b.ops,
    bytes: a.bytes + b.bytes,
    seconds: a.seconds + b.seconds,
    lat,
    clientCpuS: a.clientCpuS + b.clientCpuS,
    serverCpuS: a.serverCpuS === null || b.serverCpuS === null ? null : a.serverCpuS + b.serverCpuS,
  };
}

function rate(r: RunResult): string {
  return `${(r.ops / r.seconds).toFixed(0)}/s`;
}

/** Runs base and versioned A B B A, each half of durationS, and returns the two merged runs. */
async function abba(durationS: number, run: (side: 'base' | 'ver', s: number) => Promise<RunResult>): Promise<[RunResult, RunResult]> {
  const half = durationS / 2;
  const b1 = await run('base', half);
  const v1 = await run('ver', half);
  const v2 = await run('ver', half);
  const b2 = await run('base', half);
  return [merge(b1, b2), merge(v1, v2)];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** parts: 'rw' (GET / PUT), 'list' (the list buckets), or both. */
export async function versioning(t: WorkloadTarget, plan: Plan, out: Results, parts: { rw: boolean; list: boolean }): Promise<void> {
  if (parts.rw) await getPut(t, plan, out);
  if (parts.list) await lists(t, plan, out);
}

async function getPut(t: WorkloadTarget, plan: Plan, out: Results): Promise<void> {
  const v = plan.versioning;
  const { http } = t;
  const size = plan.smallSize;
  const nonce = crypto.randomBytes(8).readBigUInt64LE(0);
  const maxC = Math.max(64, ...plan.smallConcurrency);
  const bufs = Array.from({ length: maxC }, () => body(size));

  // 1. GET / PUT of the latest version, keys with history.
  const buckets = { base: 'bench-ver-off', ver: 'bench-ver-on' } as const;
  await makeBucket(http, buckets.base, false);
  await makeBucket(http, buckets.ver, true);
  const keyOf = (i: number): string => `k${pad(i % v.keys, 6)}`;
  let stampSeq = 0;
  for (const side of ['base', 'ver'] as const) {
    const seed = await closedLoop({
      concurrency: 64,
      count: v.keys * v.history,
      serverPids: t.serverPids,
      op: async (w, seq) => {
        const res = await http.request('PUT', objectPath(buckets[side], keyOf(seq)), { body: stamped(bufs[w], nonce, stampSeq++) });
        if (side === 'ver' && seq === 0 && !res.headers['x-amz-version-id']) throw new Error('versioned PUT answered no x-amz-version-id');
        return size;
      },
    });
    t.log(`  seeded ${v.keys} keys × ${v.history} writes (${side === 'ver' ? 'versioned' : 'unversioned'}): ${rate(seed)}`);
  }
  for (const c of plan.smallConcurrency) {
    const [putBase, putVer] = await abba(plan.smallPutS, (side, s) =>
      closedLoop({
        concurrency: c,
        durationS: s,
        serverPids: t.serverPids,
        op: async (w, seq) => {
          await http.request('PUT', objectPath(buckets[side], keyOf(seq)), { body: stamped(bufs[w], nonce, stampSeq++) });
          return size;
        },
      }),
    );
    out[`ver-put-c${c}-base`] = summarize(putBase, 'ops/s');
    out[`ver-put-c${c}`] = summarize(putVer, 'ops/s');
    const [newBase, newVer] = await abba(plan.smallPutS, (side, s) =>
      closedLoop({
        concurrency: c,
        durationS: s,
        serverPids: t.serverPids,
        op: async (w, seq) => {
          const n = stampSeq++;
          await http.request('PUT', objectPath(buckets[side], `new/c${c}/${seq}-${n}`), { body: stamped(bufs[w], nonce, n) });
          return size;
        },
      }),
    );
    out[`ver-put-new-c${c}-base`] = summarize(newBase, 'ops/s');
    out[`ver-put-new-c${c}`] = summarize(newVer, 'ops/s');
    const [getBase, getVer] = await abba(plan.smallGetS, (side, s) =>
      closedLoop({
        concurrency: c,
        durationS: s,
        serverPids: t.serverPids,
        op: async () => {
          const k = keyOf(Math.floor(Math.random() * v.keys));
          const r = await http.request('GET', objectPath(buckets[side], k));
          if (r.bytes !== size) throw new Error(`GET ${buckets[side]}/${k}: ${r.bytes} bytes`);
          return r.bytes;
        },
      }),
    );
    out[`ver-get-c${c}-base`] = summarize(getBase, 'ops/s');
    out[`ver-get-c${c}`] = summarize(getVer, 'ops/s');
    for (const op of ['put', 'put-new', 'get']) {
      const b = out[`ver-${op}-c${c}-base`];
      const x = out[`ver-${op}-c${c}`];
      t.log(
        `  4 KiB ${op.toUpperCase()} c=${c}: unversioned ${b.value.toFixed(0)}/s p99 ${b.p99Ms.toFixed(1)} ms, versioned ${x.value.toFixed(0)}/s p99 ${x.p99Ms.toFixed(1)} ms`,
      );
    }
  }
}

async function lists(t: WorkloadTarget, plan: Plan, out: Results): Promise<void> {
  const v = plan.versioning;
  const { http } = t;
  const one = 'bench-ver-list-one';
  const many = 'bench-ver-list-many';
  const deep = 'bench-ver-list-deep';
  await makeBucket(http, one, false);
  await makeBucket(http, many, true);
  await makeBucket(http, deep, true);
  const perFolder = plan.listKeysPerFolder;
  const folders = Math.ceil(v.listKeys / perFolder);
  const listKey = (i: number): string => `f${pad(Math.floor(i / perFolder), 6)}/k${pad(i % perFolder, 3)}`;
  const tiny = Buffer.from('x');
  const seedList = async (name: string, bucket: string, n: number, key: (seq: number) => string): Promise<void> => {
    const r = await closedLoop({
      concurrency: 64,
      count: n,
      serverPids: t.serverPids,
      op: async (_w, seq) => {
        await http.request('PUT', objectPath(bucket, key(seq)), { body: tiny });
        return 1;
      },
    });
    out[name] = summarize(r, 'keys/s');
    t.log(`  seeded ${bucket}: ${n} PUTs, ${rate(r)} (${r.seconds.toFixed(0)} s)`);
  };
  await seedList('ver-seed-one', one, v.listKeys, listKey);
  // Round by round: every key's first version, then every key's second, … (in flight: distinct keys).
  await seedList('ver-seed-many', many, v.listKeys * v.listVersions, listKey);
  const deepKey = 'deep/object';
  await seedList('ver-seed-deep', deep, v.deepVersions, () => deepKey);

  // The deep key's version ids, newest first, by walking its history (and counting it).
  const ids: string[] = [];
  let marker: { key: string; id: string } | undefined;
  for (;;) {
    const res = await http.request('GET', objectPath(deep), {
      query: { versions: '', 'max-keys': '1000', ...(marker ? { 'key-marker': marker.key, 'version-id-marker': marker.id } : {}) },
      wantText: true,
    });
    const text = res.text ?? '';
    for (const m of text.matchAll(/<VersionId>([^<]+)<\/VersionId>/g)) ids.push(m[1]);
    if (!/<IsTruncated>true<\/IsTruncated>/.test(text)) break;
    const nk = /<NextKeyMarker>([^<]*)<\/NextKeyMarker>/.exec(text)?.[1];
    const nv = /<NextVersionIdMarker>([^<]*)<\/NextVersionIdMarker>/.exec(text)?.[1];
    if (!nk || !nv) throw new Error(`ListObjectVersions: truncated page without next markers: ${text.slice(0, 300)}`);
    marker = { key: nk, id: nv };
  }
  if (ids.length !== v.deepVersions || new Set(ids).size !== ids.length)
    throw new Error(
      `ListObjectVersions walked ${ids.length} versions (${new Set(ids).size} distinct) of ${deepKey}, expected ${v.deepVersions}`,
    );
  t.log(`  walked ${deepKey}: ${ids.length} versions`);

  const start = (): string => listKey(Math.floor(Math.random() * (v.listKeys - 1001)));
  const folderStart = (): string => `f${pad(Math.floor(Math.random() * (folders - 1001)), 6)}`;
  const queries: Array<{ name: string; bucket: string; query: () => Record<string, string>; tag: RegExp }> = [
    {
      name: 'ver-list-base',
      bucket: one,
      query: () => ({ 'list-type': '2', 'max-keys': '1000', 'start-after': start() }),
      tag: /<Key>/g,
    },
    {
      name: 'ver-list-many',
      bucket: many,
      query: () => ({ 'list-type': '2', 'max-keys': '1000', 'start-after': start() }),
      tag: /<Key>/g,
    },
    {
      name: 'ver-list-versions',
      bucket: deep,
      query: () => ({
        versions: '',
        'max-keys': '1000',
        'key-marker': deepKey,
        'version-id-marker': ids[Math.floor(Math.random() * (ids.length - 1001))],
      }),
      tag: /<Version>/g,
    },
    {
      name: 'ver-list-versions-flat',
      bucket: one,
      query: () => ({ versions: '', 'max-keys': '1000', 'key-marker': start() }),
      tag: /<Version>/g,
    },
    {
      name: 'ver-list-delim-base',
      bucket: one,
      query: () => ({ 'list-type': '2', 'max-keys': '1000', delimiter: '/', 'start-after': folderStart() }),
      tag: /<CommonPrefixes>/g,
    },
    {
      name: 'ver-list-delim-many',
      bucket: many,
      query: () => ({ 'list-type': '2', 'max-keys': '1000', delimiter: '/', 'start-after': folderStart() }),
      tag: /<CommonPrefixes>/g,
    },
  ];
  await rotation(t, queries, v.listSamples, v.listMaxS, out);
}

/**
 * Samples the queries in rotation (one page of each per round, the starting
 * query rotating), until `samples` rounds or `maxS` seconds per query. Client
 * and server CPU over the whole rotation are shared out by time spent.
 */
async function rotation(
  t: WorkloadTarget,
  queries: Array<{ name: string; bucket: string; query: () => Record<string, string>; tag: RegExp }>,
  samples: number,
  maxS: number,
  out: Results,
): Promise<void> {
  const lats = queries.map(() => [] as number[]);
  const bytes = queries.map(() => 0);
  // Not measured: one page of each, so first-touch costs fall on no side.
  for (const q of queries) await t.http.request('GET', objectPath(q.bucket), { query: q.query(), wantText: true });
  const whole = await closedLoop({
    concurrency: 1,
    count: samples,
    durationS: maxS * queries.length,
    serverPids: t.serverPids,
    op: async (_w, round) => {
      for (let j = 0; j < queries.length; j++) {
        const i = (round + j) % queries.length;
        const q = queries[i];
        const s = performance.now();
        const res = await t.http.request('GET', objectPath(q.bucket), { query: q.query(), wantText: true });
        lats[i].push(performance.now() - s);
        const n = res.text!.match(q.tag)?.length ?? 0;
        if (n !== 1000) throw new Error(`${q.name}: page had ${n} entries, expected 1000`);
        bytes[i] += res.bytes;
      }
      return 0;
    },
  });
  const total = lats.reduce((a, l) => a + l.reduce((x, y) => x + y, 0), 0);
  queries.forEach((q, i) => {
    const spent = lats[i].reduce((x, y) => x + y, 0);
    const share = total ? spent / total : 0;
    const r: RunResult = {
      ops: lats[i].length,
      bytes: bytes[i],
      seconds: spent / 1000,
      lat: Float64Array.from(lats[i]),
      clientCpuS: whole.clientCpuS * share,
      serverCpuS: whole.serverCpuS === null ? null : whole.serverCpuS * share,
    };
    out[q.name] = summarize(r, 'ms', r.ops < samples ? `${r.ops} samples (time cap)` : undefined);
    t.log(`  ${q.name}: p50 ${out[q.name].p50Ms.toFixed(2)} ms p99 ${out[q.name].p99Ms.toFixed(2)} ms over ${r.ops} pages`);
  });
}

export interface VersioningRatio {
  /** versioned / baseline ops/s (GET/PUT rows and seeding rows). */
  throughput?: number | null;
  p50?: number | null;
  p99: number | null;
  target?: number;
}

function div(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || !b || !Number.isFinite(a) || !Number.isFinite(b) ? null : a / b;
}

export function versioningRatios(targets: TargetReport[], plan: Plan): Record<string, Record<string, VersioningRatio>> {
  const out: Record<string, Record<string, VersioningRatio>> = {};
  for (const t of targets.filter((x) => x.role === 'anvil')) {
    for (const row of versioningRows(plan)) {
      const b: Measurement | undefined = t.results[row.base];
      const x: Measurement | undefined = t.results[row.versioned];
      if (!b && !x) continue;
      out[t.name] ??= {};
      out[t.name][row.versioned] = {
        ...(row.kind !== 'list' ? { throughput: div(x?.value, b?.value) } : { p50: div(x?.p50Ms, b?.p50Ms) }),
        p99: div(x?.p99Ms, b?.p99Ms),
        ...(row.target ? { target: row.target } : {}),
      };
    }
  }
  return out;
}

function x(r: number | null | undefined): string {
  return r === null || r === undefined ? '—' : `${r.toFixed(2)}×`;
}

/** Per Anvil target: the baseline, the versioned side, and versioned / baseline. */
export function versioningTable(targets: TargetReport[], plan: Plan): string {
  const anvils = targets.filter((t) => t.role === 'anvil');
  const ratios = versioningRatios(targets, plan);
  const head = [
    'Workload',
    ...anvils.flatMap((t) => [`${t.name} baseline`, `${t.name} versioned`, `${t.name} versioned / baseline`]),
    'target',
  ];
  const lines = tableHead(head);
  for (const row of versioningRows(plan)) {
    if (!anvils.some((t) => t.results[row.base] || t.results[row.versioned])) continue;
    const cells = [row.label];
    for (const t of anvils) {
      const r = ratios[t.name]?.[row.versioned];
      cells.push(cell(t.results[row.base]), cell(t.results[row.versioned]));
      if (!r) cells.push('—');
      else if (row.kind === 'ops') cells.push(`ops/s ${x(r.throughput)} · p99 ${x(r.p99)}`);
      else if (row.kind === 'seed') cells.push(`PUT/s ${x(r.throughput)}`);
      else cells.push(`p99 ${x(r.p99)} (p50 ${x(r.p50)})`);
    }
    cells.push(row.kind === 'ops' ? `ops/s ≥ ${(1 / 1.1).toFixed(2)}×, p99 ≤ 1.1×` : row.target ? `p99 ≤ ${row.target}×` : '');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
