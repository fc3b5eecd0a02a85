/** Child processes for the servers under test, and their CPU accounting. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Last lines of stderr/stdout, for error reports. */
  tail(): string;
  stop(): Promise<void>;
}

/** Spawns a server and resolves once a stdout line matches ready (or rejects on exit/timeout). */
export function spawnServer(cmd: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 60_000): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const keep = (b: Buffer): void => {
      out = (out + b.toString()).slice(-4000);
    };
    const timer = setTimeout(() => finish(new Error(`${cmd} ${args.join(' ')}: not ready after ${timeoutMs} ms\n${out}`)), timeoutMs);
    const child: Child = {
      proc,
      pid: proc.pid ?? 0,
      tail: () => out,
      stop: () =>
        new Promise<void>((res) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return res();
          const kill = setTimeout(() => proc.kill('SIGKILL'), 30_000);
          proc.once('exit', () => {
            clearTimeout(kill);
            res();
          });
          proc.kill('SIGTERM');
        }),
    };
    function finish(err?: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        proc.kill('SIGKILL');
        reject(err);
      } else resolve(child);
    }
    proc.stdout.on('data', (b: Buffer) => {
      keep(b);
      if (ready.test(out)) finish();
    });
    proc.stderr.on('data', keep);
    proc.once('exit', (code, sig) => finish(new Error(`${cmd} ${args.join(' ')} exited (${code ?? sig}) before ready:\n${out}`)));
  });
}

const CLK_TCK = 100; // Linux USER_HZ

function readStat(pid: number): { ppid: number; ticks: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm)": state(0) ppid(1) ... utime(11) stime(12)
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/** The PIDs of these processes and all their descendants, with their CPU ticks (user + system). */
function treeStats(roots: number[]): Map<number, number> {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    parents.set(pid, st.ppid);
    ticks.set(pid, st.ticks);
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, depth = 0; p && depth < 64; p = parents.get(p), depth++) {
      if (roots.includes(p)) return true;
    }
    return false;
  };
  const out = new Map<number, number>();
  for (const [pid, t] of ticks) if (inTree(pid)) out.set(pid, t);
  return out;
}

/** CPU ticks (user + system) of these processes and all their descendants, by PID. */
export function treeCpuSnapshot(roots: number[]): Map<number, number> {
  return treeStats(roots);
}

const PAGE = 4096;

/**
 * Resident memory (bytes) of these processes and all their descendants, summed
 * (pages shared between processes, such as PostgreSQL's shared buffers, count
 * once per process that touched them).
 */
export function treeRssBytes(roots: number[]): number {
  let bytes = 0;
  for (const pid of treeStats(roots).keys()) {
    try {
      bytes += Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE;
    } catch {
      // exited
    }
  }
  return bytes;
}

/**
 * CPU seconds used between two snapshots by the processes alive at the end
 * (processes that exited in between are not counted: an undercount, never negative).
 */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += Math.max(0, t - (before.get(pid) ?? 0));
  return ticks / CLK_TCK;
}
