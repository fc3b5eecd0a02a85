/** Markdown tables and ratio columns from the per-target results. */
import type { Measurement } from './runner.js';
import type { Results } from './workloads.js';

export interface TargetReport {
  name: string;
  role: 'anvil' | 'limit' | 'peer';
  description: string;
  results: Results;
  errors: string[];
}

export const ROWS: Array<{ key: string; label: string }> = [
  { key: 'large-put-c1', label: '64 MiB PUT, c=1' },
  { key: 'large-put-c8', label: '64 MiB PUT, c=8' },
  { key: 'large-get-c1', label: '64 MiB GET, c=1' },
  { key: 'large-get-c8', label: '64 MiB GET, c=8' },
  { key: 'small-put-c1', label: '4 KiB PUT, c=1' },
  { key: 'small-put-c16', label: '4 KiB PUT, c=16' },
  { key: 'small-put-c64', label: '4 KiB PUT, c=64' },
  { key: 'small-get-c1', label: '4 KiB GET, c=1' },
  { key: 'small-get-c16', label: '4 KiB GET, c=16' },
  { key: 'small-get-c64', label: '4 KiB GET, c=64' },
  { key: 'list-nodelim', label: 'ListObjectsV2 1000 keys' },
  { key: 'list-delim', label: 'ListObjectsV2 1000 prefixes (delimiter /)' },
  { key: 'mpu', label: 'Multipart upload, 16 MiB parts, c=4' },
  { key: 'list-seed', label: '(list bucket seeding, tiny PUTs c=64)' },
];

function num(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

export function cell(m: Measurement | undefined): string {
  if (!m) return '—';
  switch (m.unit) {
    case 'MB/s':
      return `${num(m.value)} MB/s`;
    case 'ops/s':
      return `${num(m.value)}/s · p50 ${ms(m.p50Ms)} · p99 ${ms(m.p99Ms)} ms`;
    case 'keys/s':
      return `${num(m.value)}/s`;
    case 'ms':
      return `p50 ${ms(m.p50Ms)} · p99 ${ms(m.p99Ms)} ms${m.note ? ` (${m.ops} samples${m.note.includes('follow-up') ? ', short pages continued' : ''})` : ''}`;
  }
}

/** A Markdown table's header and alignment lines (first column left, the rest right). */
export function tableHead(head: string[]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map((_h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
}

function ratioValue(a: Measurement | undefined, b: Measurement | undefined): number | null {
  if (!a || !b || !b.value || !Number.isFinite(a.value) || !Number.isFinite(b.value)) return null;
  return a.value / b.value;
}

function ratio(a: Measurement | undefined, b: Measurement | undefined): string {
  const r = ratioValue(a, b);
  return r === null ? '—' : `${r.toFixed(2)}×`;
}

/** The best peer's measurement for a row (highest throughput, or lowest latency). */
export function bestPeer(targets: TargetReport[], key: string): { name: string; m: Measurement } | undefined {
  let best: { name: string; m: Measurement } | undefined;
  for (const t of targets) {
    if (t.role !== 'peer') continue;
    const m = t.results[key];
    if (!m || !Number.isFinite(m.value)) continue;
    if (!best || (m.higherIsBetter ? m.value > best.m.value : m.value < best.m.value)) best = { name: t.name, m };
  }
  return best;
}

export function ratios(
  targets: TargetReport[],
): Record<string, Record<string, { vsLimit: number | null; vsBestPeer: number | null; bestPeer: string | null }>> {
  const limit = targets.find((t) => t.name === 'limit');
  const out: ReturnType<typeof ratios> = {};
  for (const t of targets.filter((x) => x.role === 'anvil')) {
    out[t.name] = {};
    for (const { key } of ROWS) {
      const m = t.results[key];
      if (!m) continue;
      const l = limit?.results[key];
      const p = bestPeer(targets, key);
      out[t.name][key] = {
        vsLimit: ratioValue(m, l),
        vsBestPeer: ratioValue(m, p?.m),
        bestPeer: p?.name ?? null,
      };
    }
  }
  return out;
}

export function markdownTable(targets: TargetReport[]): string {
  const anvils = targets.filter((t) => t.role === 'anvil');
  const limit = targets.find((t) => t.name === 'limit');
  const others = targets.filter((t) => t.role !== 'anvil');
  const head = ['Workload', ...anvils.map((t) => t.name), ...others.map((t) => t.name)];
  for (const a of anvils) head.push(`${a.name} / limit`);
  for (const a of anvils) head.push(`${a.name} / best peer`);
  const lines = tableHead(head);
  for (const { key, label } of ROWS) {
    if (!targets.some((t) => t.results[key])) continue;
    const row = [label, ...anvils.map((t) => cell(t.results[key])), ...others.map((t) => cell(t.results[key]))];
    for (const a of anvils) row.push(ratio(a.results[key], limit?.results[key]));
    for (const a of anvils) row.push(ratio(a.results[key], bestPeer(targets, key)?.m));
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** A ratio between two variants of one server: `other / base`, by target name. */
export interface Comparison {
  label: string;
  base: string;
  other: string;
}

/** Per comparison label and row key, other / base (null where either is missing). */
export function comparisonRatios(targets: TargetReport[], comparisons: Comparison[]): Record<string, Record<string, number | null>> {
  const byName = (n: string): TargetReport | undefined => targets.find((t) => t.name === n);
  const out: ReturnType<typeof comparisonRatios> = {};
  for (const c of comparisons) {
    out[c.label] = {};
    for (const { key } of ROWS) {
      const o = byName(c.other)?.results[key];
      const b = byName(c.base)?.results[key];
      if (o || b) out[c.label][key] = ratioValue(o, b);
    }
  }
  return out;
}

/** For each comparison: the base's figure, the other's, and the ratio other / base. */
export function comparisonTable(targets: TargetReport[], comparisons: Comparison[]): string {
  const byName = (n: string): TargetReport | undefined => targets.find((t) => t.name === n);
  const head = ['Workload', ...comparisons.flatMap((c) => [c.base, c.other, c.label])];
  const lines = tableHead(head);
  for (const { key, label } of ROWS) {
    if (!targets.some((t) => t.results[key])) continue;
    const row = [label];
    for (const c of comparisons) {
      const b = byName(c.base)?.results[key];
      const o = byName(c.other)?.results[key];
      row.push(cell(b), cell(o), ratio(o, b));
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Client and server CPU as a percentage of one core over each run's wall time. */
export function cpuTable(targets: TargetReport[]): string {
  const withServer = targets;
  const head = ['Workload', ...withServer.map((t) => t.name)];
  const lines = tableHead(head);
  for (const { key, label } of ROWS) {
    if (!withServer.some((t) => t.results[key])) continue;
    const row = [label];
    for (const t of withServer) {
      const m = t.results[key];
      if (!m) {
        row.push('—');
        continue;
      }
      const c = `${((100 * m.clientCpuS) / m.seconds).toFixed(0)}%`;
      const s = m.serverCpuS === null ? '—' : `${((100 * m.serverCpuS) / m.seconds).toFixed(0)}%`;
      row.push(`${c} / ${s}${m.serverRssMiB != null ? ` · ${num(m.serverRssMiB)} MiB` : ''}`);
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * Issue 18's targets, per Anvil target and row: the ratio to the best peer
 * (rgw, s3rver) and to the limit server must reach the minimums; list rows an
 * absolute p99; memory a peak RSS under the c=64 load.
 */
export interface Goal {
  key: string;
  /** Anvil / best peer at least this (throughput rows). */
  minVsPeer?: number;
  /** Anvil / limit at least this (throughput rows). */
  minVsLimit?: number;
  /** p99 below this many ms (latency rows). */
  maxP99Ms?: number;
  /** Peak server RSS below this many MiB (memory rows). */
  maxRssMiB?: number;
  label?: string;
}

export const GOALS: Goal[] = [
  ...['small-put-c16', 'small-put-c64', 'small-get-c16', 'small-get-c64'].map((key) => ({ key, minVsPeer: 2, minVsLimit: 1 })),
  ...['large-put-c1', 'large-put-c8', 'large-get-c1', 'large-get-c8'].map((key) => ({ key, minVsPeer: 1, minVsLimit: 0.9 })),
  { key: 'list-nodelim', maxP99Ms: 20 },
  { key: 'small-put-c64', maxRssMiB: 300, label: 'Memory: peak RSS, 4 KiB PUT c=64' },
  { key: 'small-get-c64', maxRssMiB: 300, label: 'Memory: peak RSS, 4 KiB GET c=64' },
];

export interface GoalResult {
  target: string;
  key: string;
  label: string;
  goal: string;
  vsBestPeer: number | null;
  bestPeer: string | null;
  vsLimit: number | null;
  p99Ms?: number;
  rssMiB?: number;
  /** null: nothing to compare with in this run. */
  met: boolean | null;
}

function goalText(g: Goal): string {
  const parts: string[] = [];
  if (g.minVsPeer !== undefined) parts.push(`≥ ${g.minVsPeer}× best peer`);
  if (g.minVsLimit !== undefined) parts.push(`≥ ${g.minVsLimit}× limit`);
  if (g.maxP99Ms !== undefined) parts.push(`p99 < ${g.maxP99Ms} ms`);
  if (g.maxRssMiB !== undefined) parts.push(`< ${g.maxRssMiB} MiB`);
  return parts.join(', ');
}

export function goalResults(targets: TargetReport[]): GoalResult[] {
  const limit = targets.find((t) => t.name === 'limit');
  const out: GoalResult[] = [];
  for (const t of targets.filter((x) => x.role === 'anvil')) {
    for (const g of GOALS) {
      const m = t.results[g.key];
      if (!m) continue;
      const peer = bestPeer(targets, g.key);
      const vsBestPeer = g.minVsPeer !== undefined ? ratioValue(m, peer?.m) : null;
      const vsLimit = g.minVsLimit !== undefined ? ratioValue(m, limit?.results[g.key]) : null;
      const checks: Array<boolean | null> = [];
      if (g.minVsPeer !== undefined) checks.push(vsBestPeer === null ? null : vsBestPeer >= g.minVsPeer);
      if (g.minVsLimit !== undefined) checks.push(vsLimit === null ? null : vsLimit >= g.minVsLimit);
      if (g.maxP99Ms !== undefined) checks.push(m.p99Ms < g.maxP99Ms);
      if (g.maxRssMiB !== undefined) checks.push(m.serverRssMiB == null ? null : m.serverRssMiB < g.maxRssMiB);
      const known = checks.filter((c): c is boolean => c !== null);
      out.push({
        target: t.name,
        key: g.key,
        label: g.label ?? ROWS.find((r) => r.key === g.key)?.label ?? g.key,
        goal: goalText(g),
        vsBestPeer,
        bestPeer: g.minVsPeer !== undefined ? (peer?.name ?? null) : null,
        vsLimit,
        ...(g.maxP99Ms !== undefined ? { p99Ms: m.p99Ms } : {}),
        ...(g.maxRssMiB !== undefined && m.serverRssMiB != null ? { rssMiB: m.serverRssMiB } : {}),
        // Missed if any known check fails; met only when every check could be made.
        met: known.some((c) => !c) ? false : known.length === checks.length && known.length > 0 ? true : null,
      });
    }
  }
  return out;
}

/** One line per Anvil target and goal: the figure, the ratios, the goal, met / missed. */
export function goalsTable(targets: TargetReport[]): string {
  const results = goalResults(targets);
  if (results.length === 0) return '';
  const lines = tableHead(['Workload', 'Anvil target', '× best peer', '× limit', 'figure', 'goal', 'met?']);
  for (const r of results) {
    const m = targets.find((t) => t.name === r.target)?.results[r.key];
    const figure =
      r.rssMiB !== undefined ? `${num(r.rssMiB)} MiB` : r.p99Ms !== undefined ? `p99 ${ms(r.p99Ms)} ms` : cell(m).split(' · ')[0];
    const peer = r.vsBestPeer === null ? '—' : `${r.vsBestPeer.toFixed(2)}× (${r.bestPeer})`;
    const lim = r.vsLimit === null ? '—' : `${r.vsLimit.toFixed(2)}×`;
    const met = r.met === null ? 'n/a' : r.met ? 'met' : '**missed**';
    lines.push(`| ${r.label} | ${r.target} | ${peer} | ${lim} | ${figure} | ${r.goal} | ${met} |`);
  }
  return lines.join('\n');
}
