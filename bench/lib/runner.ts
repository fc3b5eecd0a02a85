/** Closed-loop load runner: N workers, each doing one op at a time, by count or by time. */
import { cpuSecondsBetween, treeCpuSnapshot, treeRssBytes } from './procs.js';

export interface RunResult {
  ops: number;
  bytes: number;
  seconds: number;
  /** Per-op latencies in ms (not written to JSON; summarized). */
  lat: Float64Array;
  clientCpuS: number;
  serverCpuS: number | null;
  /** Peak resident memory of the server's process tree, sampled every 250 ms (MiB). */
  serverRssMiB?: number | null;
}

/** How often the server's resident memory is sampled during a run. */
const RSS_SAMPLE_MS = 250;

export interface RunSpec {
  concurrency: number;
  /** Stop after this many ops in total, */
  count?: number;
  /** or after this many seconds, whichever comes first. */
  durationS?: number;
  /** Performs op number seq on worker w; returns the payload bytes moved. */
  op: (w: number, seq: number) => Promise<number>;
  /** PIDs whose process trees are the server (for CPU accounting). */
  serverPids?: number[];
}

export async function closedLoop(spec: RunSpec): Promise<RunResult> {
  const { concurrency, count, durationS, op } = spec;
  if (count === undefined && durationS === undefined) throw new Error('closedLoop needs count or durationS');
  let lat = new Float64Array(count ?? 65536);
  let n = 0;
  let next = 0;
  let bytes = 0;
  const serverPids = spec.serverPids ?? [];
  const server0 = serverPids.length ? treeCpuSnapshot(serverPids) : null;
  let rssPeak = 0;
  const sampleRss = (): void => {
    rssPeak = Math.max(rssPeak, treeRssBytes(serverPids));
  };
  const rssTimer = serverPids.length ? setInterval(sampleRss, RSS_SAMPLE_MS) : null;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = durationS !== undefined ? t0 + durationS * 1000 : Infinity;
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      if ((count !== undefined && next >= count) || performance.now() >= deadline) return;
      const seq = next++;
      const s = performance.now();
      const moved = await op(w, seq); // (not `bytes += await …`: that reads bytes before the await)
      const ms = performance.now() - s;
      bytes += moved;
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = ms;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  } finally {
    if (rssTimer) clearInterval(rssTimer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (serverPids.length) sampleRss();
  return {
    ops: n,
    bytes,
    seconds,
    lat: lat.subarray(0, n),
    clientCpuS: (cpu.user + cpu.system) / 1e6,
    serverCpuS: server0 ? cpuSecondsBetween(server0, treeCpuSnapshot(serverPids)) : null,
    serverRssMiB: serverPids.length ? rssPeak / 1024 ** 2 : null,
  };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface Measurement {
  /** The headline number of the row. */
  value: number;
  unit: 'MB/s' | 'ops/s' | 'ms' | 'keys/s';
  /** Whether bigger is better (throughput) or smaller (latency). */
  higherIsBetter: boolean;
  p50Ms: number;
  p99Ms: number;
  ops: number;
  bytes: number;
  seconds: number;
  clientCpuS: number;
  serverCpuS: number | null;
  /** Peak resident memory of the server's process tree during the run (MiB), when sampled. */
  serverRssMiB?: number | null;
  note?: string;
}

export function summarize(r: RunResult, kind: 'MB/s' | 'ops/s' | 'ms' | 'keys/s', note?: string): Measurement {
  const sorted = Float64Array.from(r.lat).sort();
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const value = kind === 'MB/s' ? r.bytes / 1e6 / r.seconds : kind === 'ms' ? p99 : r.ops / r.seconds;
  return {
    value,
    unit: kind,
    higherIsBetter: kind !== 'ms',
    p50Ms: p50,
    p99Ms: p99,
    ops: r.ops,
    bytes: r.bytes,
    seconds: r.seconds,
    clientCpuS: r.clientCpuS,
    serverCpuS: r.serverCpuS,
    ...(r.serverRssMiB != null ? { serverRssMiB: Math.round(r.serverRssMiB) } : {}),
    ...(note ? { note } : {}),
  };
}
