/**
 * Summarizes a V8 .cpuprofile (from node --cpu-prof): the top functions by
 * self time, and by total (inclusive) time.
 *
 * Usage: node --import tsx bench/prof-summary.ts <file.cpuprofile> [topN]
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileRow {
  fn: string;
  where: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
}

function label(n: ProfileNode): { fn: string; where: string } {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '');
  return { fn: f.functionName || '(anonymous)', where: url ? `${url}:${f.lineNumber + 1}` : '' };
}

export function summarizeProfile(file: string, top = 25): { totalMs: number; self: ProfileRow[]; inclusive: ProfileRow[] } {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the following delta to sample i.
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const selfAgg = new Map<string, ProfileRow>();
  const inclAgg = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const { fn, where } = label(n);
    const k = `${fn}\t${where}`;
    const row = selfAgg.get(k) ?? { fn, where, selfMs: 0, selfPct: 0, totalMs: 0 };
    row.selfMs += us / 1000;
    selfAgg.set(k, row);
    // inclusive: add to every distinct frame on the stack
    const seen = new Set<string>();
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const l = label(byId.get(p)!);
      const pk = `${l.fn}\t${l.where}`;
      if (seen.has(pk)) continue;
      seen.add(pk);
      inclAgg.set(pk, (inclAgg.get(pk) ?? 0) + us / 1000);
    }
  }
  const rows = [...selfAgg.values()].map((r) => ({
    ...r,
    selfPct: (100 * r.selfMs * 1000) / (totalUs || 1),
    totalMs: inclAgg.get(`${r.fn}\t${r.where}`) ?? 0,
  }));
  const self = rows.sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  const inclusive = [...inclAgg.entries()]
    .map(([k, ms]) => {
      const [fn, where] = k.split('\t');
      return { fn, where, selfMs: selfAgg.get(k)?.selfMs ?? 0, selfPct: 0, totalMs: ms };
    })
    .filter((r) => !/^\((root|program|idle|garbage collector)\)$/.test(r.fn))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top);
  return { totalMs: totalUs / 1000, self, inclusive };
}

export function formatProfile(file: string, top = 25): string {
  const s = summarizeProfile(file, top);
  const lines = [`Profile ${file}: ${(s.totalMs / 1000).toFixed(2)} s sampled`, '', `Top ${top} by self time:`, ''];
  lines.push('| self ms | self % | total ms | function | location |', '| ---: | ---: | ---: | --- | --- |');
  for (const r of s.self)
    lines.push(`| ${r.selfMs.toFixed(0)} | ${r.selfPct.toFixed(1)} | ${r.totalMs.toFixed(0)} | ${r.fn} | ${r.where} |`);
  lines.push('', `Top ${top} by inclusive time:`, '', '| total ms | self ms | function | location |', '| ---: | ---: | --- | --- |');
  for (const r of s.inclusive) lines.push(`| ${r.totalMs.toFixed(0)} | ${r.selfMs.toFixed(0)} | ${r.fn} | ${r.where} |`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: prof-summary.ts <file.cpuprofile> [topN]');
    process.exit(2);
  }
  console.log(formatProfile(file, Number(process.argv[3] ?? 25)));
}
