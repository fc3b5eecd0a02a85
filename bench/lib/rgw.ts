/**
 * Ceph's RADOS Gateway as a bench peer: a throwaway single-node cluster
 * from the Debian packages (Ceph 16.2 "Pacific"), started and stopped by the
 * bench in a folder of its own.
 *
 * - one monitor (msgr2 on a free loopback port), one OSD with bluestore on a
 *   sparse file (durable: every write is on disk before it is acknowledged;
 *   memstore would keep data in RAM), no manager (RGW does not need one);
 * - pools of size 1 (min size 1), 8 PGs each, no autoscaler;
 * - authentication `none` everywhere; RGW defaults to cephx and a secure
 *   monitor connection, so its section also says `ms mon client mode = crc`
 *   and `auth client required = none`;
 * - beast frontend on 127.0.0.1 with `tcp_nodelay=1` (without it small GETs
 *   wait ~48 ms for delayed ACKs); no `rgw dns name`, so requests are path-style;
 * - `debug rgw = 0/0`: the default (1/5) writes two log lines per request;
 * - an S3 user made with `radosgw-admin user create` with the bench's keys.
 *
 * Every daemon runs in the foreground (`-f`) as a child of the bench; stop()
 * stops them (SIGTERM, then SIGKILL) and removes the folder, and a process
 * 'exit' hook does the same synchronously if the bench ends another way
 * (Ctrl-C, an exception). Only loopback addresses are bound.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';

import type { Credentials } from './client.js';
import { freePort } from './procs.js';

const execFileAsync = promisify(execFile);

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'];
const PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd', 'ceph-mgr'];
/** Apparent size of the OSD's sparse block file (blocks are allocated as written). */
const BLOCK_BYTES = 20 * 1024 ** 3;

function which(bin: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin')
    .split(':')
    .concat(['/usr/bin', '/usr/sbin'])
    .some((d) => {
      try {
        fs.accessSync(path.join(d, bin), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** Installs the Debian Ceph packages when a binary is missing (fresh machines; needs root). */
export async function ensureRgwInstalled(log: (s: string) => void): Promise<void> {
  const missing = BINARIES.filter((b) => !which(b));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing ${missing.join(', ')}; install as root: apt-get install -y ${PACKAGES.join(' ')}`);
  log(`installing Ceph from Debian packages (apt-get install -y ${PACKAGES.join(' ')})…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await execFileAsync('apt-get', ['update', '-qq'], { timeout: 300_000, env });
  await execFileAsync('apt-get', ['install', '-y', '-qq', ...PACKAGES], { timeout: 900_000, env, maxBuffer: 64 * 1024 * 1024 });
  const still = BINARIES.filter((b) => !which(b));
  if (still.length) throw new Error(`apt-get install ${PACKAGES.join(' ')} left ${still.join(', ')} missing`);
}

export interface BenchRgw {
  endpoint: string;
  creds: Credentials;
  /** mon, osd, radosgw (for server CPU accounting). */
  pids: number[];
  /** Recent daemon output and log lines, for error reports. */
  tail(): string;
  stop(): Promise<void>;
}

interface Daemon {
  name: string;
  proc: ChildProcess;
  out(): string;
}

function conf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  // ($name, $id are Ceph's metavariables, expanded per daemon.)
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
log to stderr = false
err to stderr = true
crash dir = ${dir}/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0

[mon]
mon data = ${dir}/mon/$id
mon data avail warn = 1
mon data avail crit = 0
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false

[osd]
osd data = ${dir}/osd/$id
osd objectstore = bluestore
bluestore block path = ${dir}/osd/$id.block
bluestore block create = true
bluestore block size = ${BLOCK_BYTES}
bluestore fsck on mount = false

[client.rgw.bench]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw data = ${dir}/rgw
ms mon client mode = crc
auth client required = none
debug rgw = 0/0
`;
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the cluster and the gateway in `dir` (created; removed by stop()),
 * with an S3 user holding `creds`. Resolves once RGW answers on its port and
 * the user exists (~10–30 s).
 */
export async function startRgw(dir: string, creds: Credentials, log: (s: string) => void): Promise<BenchRgw> {
  await ensureRgwInstalled(log);
  const t0 = Date.now();
  for (const d of ['run', 'log', 'crash', 'mon/a', 'osd/0', 'rgw']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const fsid = crypto.randomUUID();
  const monPort = await freePort();
  const rgwPort = await freePort();
  const confPath = path.join(dir, 'ceph.conf');
  fs.writeFileSync(confPath, conf(dir, fsid, monPort, rgwPort));

  const daemons: Daemon[] = [];
  let stopped = false;
  const killAllSync = (): void => {
    for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort (a daemon may still hold a file for a moment)
    }
  };
  const exitHook = (): void => killAllSync();
  process.on('exit', exitHook);

  const spawnDaemon = (name: string, cmd: string, args: string[]): Daemon => {
    const proc = spawn(cmd, ['-f', '-c', confPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    let out = '';
    const keep = (b: Buffer): void => {
      out = (out + b.toString()).slice(-4000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.on('error', (err) => keep(Buffer.from(`${String(err)}\n`)));
    const d = { name, proc, out: () => out };
    daemons.push(d);
    return d;
  };
  const ceph = async (cmd: string, args: string[], timeout = 60_000): Promise<string> => {
    try {
      const { stdout } = await execFileAsync(cmd, ['-c', confPath, ...args], { timeout, cwd: dir, maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')}: ${e.message}${e.stderr ? `\n${e.stderr.slice(-1500)}` : ''}`, { cause: err });
    }
  };
  const logTail = (name: string): string => {
    try {
      return fs
        .readFileSync(path.join(dir, 'log', `${name}.log`), 'utf8')
        .split('\n')
        .slice(-8)
        .join('\n');
    } catch {
      return '';
    }
  };
  const tail = (): string =>
    daemons
      .map((d) => `[${d.name}${d.proc.exitCode !== null ? ` exited ${d.proc.exitCode}` : ''}] ${d.out().trim()}`)
      .concat(['client.rgw.bench', 'osd.0', 'mon.a'].map((n) => `[${n}.log] ${logTail(n)}`))
      .join('\n');
  const alive = (): void => {
    const dead = daemons.find((d) => d.proc.exitCode !== null || d.proc.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.proc.exitCode ?? dead.proc.signalCode})`);
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The gateway first, then the OSD, then the monitor.
    for (const d of [...daemons].reverse()) {
      if (d.proc.exitCode !== null || d.proc.signalCode !== null) continue;
      await new Promise<void>((res) => {
        const kill = setTimeout(() => d.proc.kill('SIGKILL'), 15_000);
        d.proc.once('exit', () => {
          clearTimeout(kill);
          res();
        });
        d.proc.kill('SIGTERM');
      });
    }
    process.off('exit', exitHook);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    // Monitor.
    const monmap = path.join(dir, 'monmap');
    await execFileAsync('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, monmap]);
    await ceph('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap]);
    spawnDaemon('mon.a', 'ceph-mon', ['-i', 'a']);
    // OSD: register it (the first call also waits for the monitor), make bluestore on the sparse file, start it.
    const osdUuid = crypto.randomUUID();
    const id = (await ceph('ceph', ['--connect-timeout', '60', 'osd', 'new', osdUuid])).trim();
    if (id !== '0') throw new Error(`ceph osd new: expected id 0, got ${id}`);
    await ceph('ceph-osd', ['--mkfs', '-i', '0', '--osd-uuid', osdUuid], 120_000);
    spawnDaemon('osd.0', 'ceph-osd', ['-i', '0']);
    for (;;) {
      alive();
      const stat = JSON.parse(await ceph('ceph', ['osd', 'stat', '-f', 'json'])) as { num_up_osds?: number };
      if (stat.num_up_osds === 1) break;
      if (Date.now() - t0 > 120_000) throw new Error('the OSD did not come up in 120 s');
      await sleep(500);
    }
    // Gateway: creates its pools on start, then answers on its port.
    spawnDaemon('rgw', 'radosgw', ['-n', 'client.rgw.bench']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    while ((await httpStatus(`${endpoint}/`)) !== 200) {
      alive();
      if (Date.now() - t0 > 180_000) throw new Error('radosgw did not answer in 180 s');
      await sleep(500);
    }
    await ceph(
      'radosgw-admin',
      [
        '-n',
        'client.rgw.bench',
        '--admin-socket',
        path.join(dir, 'run', 'radosgw-admin.asok'),
        'user',
        'create',
        '--uid',
        'bench',
        '--display-name',
        'bench',
        '--access-key',
        creds.accessKeyId,
        '--secret-key',
        creds.secretAccessKey,
      ],
      120_000,
    );
    log(`  rgw started in ${((Date.now() - t0) / 1000).toFixed(1)} s (${dir})`);
    return {
      endpoint,
      creds,
      pids: daemons.map((d) => d.proc.pid ?? 0).filter(Boolean),
      tail,
      stop,
    };
  } catch (err) {
    const why = `${err instanceof Error ? err.message : String(err)}\n${tail()}`;
    await stop().catch(() => killAllSync());
    throw new Error(`rgw: ${why}`, { cause: err });
  }
}
