/**
 * `npm run bench [-- --quick] [--targets a,b] [--only phases] [--cpu-prof DIR] [--out FILE]`
 *
 * Also: --small-c 16 --small-put-s S --small-get-s S (the 4 KiB runs' concurrencies and
 * seconds, for profiling one run).
 *
 * Starts each server under test in its own child process, loads it over
 * loopback from this process (undici keep-alive pools, SigV4 signed once per
 * request with UNSIGNED-PAYLOAD), and prints a Markdown table plus JSON.
 *
 * Targets: raw (fsynced file writes, no HTTP), limit (bench/limit-server.ts),
 * anvil-sqlite, anvil-postgres, s3rver (npm peer), rgw (Ceph's RADOS Gateway
 * on a throwaway single-node cluster, a native peer; lib/rgw.ts).
 * Phases: large, small, small-put (4 KiB PUTs only), list, mpu, cost (Anvil on
 * SQLite with encryption off / on and replication 1 / 2, as ratios; needs the
 * anvil-sqlite target), versioning (Anvil targets: versioned vs unversioned
 * GET / PUT, ListObjectVersions and ListObjectsV2 over many versions, as ratios;
 * versioning-rw and versioning-list run its two halves alone), branches (Anvil
 * targets: branch creation, GET / ListObjectsV2 through branch levels, reads
 * as of an old commit, diff and merge, as ratios; seeds the stopped server's
 * database).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { branches, type BranchesHost, branchesTable, branchRatios } from './lib/branches.js';
import { type Credentials, S3Http } from './lib/client.js';
import { costPlan, type Plan, plans } from './lib/plan.js';
import { type BenchPostgres, startBenchPostgres } from './lib/postgres.js';
import { type Child, freePort, spawnServer } from './lib/procs.js';
import {
  type Comparison,
  comparisonRatios,
  comparisonTable,
  cpuTable,
  goalResults,
  goalsTable,
  markdownTable,
  ratios,
  type TargetReport,
} from './lib/report.js';
import { startRgw } from './lib/rgw.js';
import { openSeedDb } from './lib/seed.js';
import { versioning, versioningRatios, versioningTable } from './lib/versioning.js';
import { largeObjects, listing, multipart, type Results, smallObjects, type WorkloadTarget } from './lib/workloads.js';
import { formatProfile } from './prof-summary.js';

const execFileAsync = promisify(execFile);
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.dirname(benchDir);
const ALL_TARGETS = ['raw', 'limit', 'anvil-sqlite', 'anvil-postgres', 's3rver', 'rgw'];
const ALL_PHASES = ['large', 'small', 'list', 'mpu', 'versioning', 'branches', 'cost'];
const ROOT: Credentials = { accessKeyId: 'AKIAANVILBENCHROOT00', secretAccessKey: 'bench-root-secret-0123456789abcdefghijkl' };

function parseArgs(argv: string[]): { plan: Plan; targets: string[]; phases: string[]; cpuProf?: string; out: string; keep: boolean } {
  let quick = false;
  let targets = ALL_TARGETS;
  let phases = ALL_PHASES;
  let cpuProf: string | undefined;
  let out: string | undefined;
  let keep = false;
  const small: Partial<Pick<Plan, 'smallConcurrency' | 'smallPutS' | 'smallGetS'>> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--full') quick = false;
    else if (a === '--targets') targets = val().split(',');
    else if (a === '--only') phases = val().split(',');
    else if (a === '--cpu-prof') cpuProf = path.resolve(val());
    else if (a === '--out') out = path.resolve(val());
    else if (a === '--keep') keep = true;
    // (for profiling one 4 KiB run: e.g. --small-c 16 --small-put-s 10, or --small-put-s 0.5 --small-get-s 10)
    else if (a === '--small-c') small.smallConcurrency = val().split(',').map(Number);
    else if (a === '--small-put-s') small.smallPutS = Number(val());
    else if (a === '--small-get-s') small.smallGetS = Number(val());
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t} (have ${ALL_TARGETS.join(', ')})`);
  const partial = targets !== ALL_TARGETS || phases !== ALL_PHASES || cpuProf !== undefined || Object.keys(small).length > 0;
  return {
    plan: { ...plans[quick ? 'quick' : 'full'], ...small },
    targets,
    phases,
    cpuProf,
    out: out ?? path.join(benchDir, 'results', partial ? 'partial.json' : 'latest.json'),
    keep,
  };
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const loadAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    loadAvgAtStart: loadAtStart,
    loadAvgAtEnd: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

interface RunningTarget {
  report: TargetReport;
  endpoint: string;
  creds: Credentials;
  serverPids: number[];
  supportsList: boolean;
  supportsMpu: boolean;
  /** Recent server output (for error reports). */
  tail(): string;
  stop(): Promise<void>;
  /** Anvil: stops the server, runs `during` on its database (by URL), starts it again on a new port. */
  restart?(during: (databaseUrl: string) => Promise<void>): Promise<RunningTarget>;
}

async function startTsServer(script: string, dataDir: string, nodeFlags: string[] = []): Promise<Child> {
  const port = await freePort();
  return spawnServer(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', path.join(benchDir, script), String(port), dataDir],
    { ...process.env },
    /READY \d+/,
  );
}

/** `bin/anvil.js server` as a target; env is added to (and overrides) the bench's settings. */
async function anvilTarget(
  name: string,
  description: string,
  dataDir: string,
  databaseUrl: string,
  cpuProf: string | undefined,
  env: NodeJS.ProcessEnv = {},
  morePids: number[] = [],
): Promise<RunningTarget> {
  const port = await freePort();
  const args = [
    // A directory per target: every thread (main, hash workers) writes its own profile there
    // (a fixed --cpu-prof-name made the threads overwrite each other's).
    ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cpuProf, name.replace(/\W+/g, '-'))}`] : []),
    path.join(repoDir, 'bin', 'anvil.js'),
    'server',
  ];
  const child = await spawnServer(
    process.execPath,
    args,
    {
      ...process.env,
      ANVIL_LISTEN: `127.0.0.1:${port}`,
      ANVIL_DATA_DIR: dataDir,
      ANVIL_DATABASE_URL: databaseUrl,
      ANVIL_ROOT_ACCESS_KEY: ROOT.accessKeyId,
      ANVIL_ROOT_SECRET_KEY: ROOT.secretAccessKey,
      ANVIL_LOG_LEVEL: 'warn',
      ...env,
    },
    /Anvil listening on/,
  );
  return {
    report: { name, role: 'anvil', description, results: {}, errors: [] },
    endpoint: `http://127.0.0.1:${port}`,
    creds: ROOT,
    serverPids: [child.pid, ...morePids],
    supportsList: true,
    supportsMpu: true,
    tail: child.tail,
    stop: child.stop,
    async restart(during) {
      await child.stop();
      await during(databaseUrl);
      return anvilTarget(name, description, dataDir, databaseUrl, cpuProf, env, morePids);
    },
  };
}

/** Runs the chosen phases against a started target (a failure ends that phase only), then stops it. */
async function loadTarget(target: RunningTarget, plan: Plan, phases: string[]): Promise<void> {
  const { name, results } = target.report;
  let http = new S3Http(target.endpoint, target.creds);
  let wt: WorkloadTarget = { http, serverPids: target.serverPids, supportsList: target.supportsList, log };
  const phase = async (p: string, fn: () => Promise<void>): Promise<void> => {
    if (!phases.includes(p)) return;
    try {
      await fn();
    } catch (err) {
      const out = target.tail().trim().split('\n').slice(-6).join('\n    ');
      const msg = `${p}: ${err instanceof Error ? err.message : String(err)}${out ? `\n    server output: ${out}` : ''}`;
      target.report.errors.push(msg);
      log(`  ${name} ${msg}`);
    }
  };
  await phase('large', () => largeObjects(wt, plan, results));
  await phase('small', () => smallObjects(wt, plan, results));
  await phase('small-put', () => smallObjects(wt, plan, results, 'put'));
  await phase('list', () => listing(wt, plan, results));
  if (target.supportsMpu) await phase('mpu', () => multipart(wt, plan, results));
  if (target.report.role === 'anvil') {
    const rw = phases.includes('versioning') || phases.includes('versioning-rw');
    const list = phases.includes('versioning') || phases.includes('versioning-list');
    if (rw || list)
      await phase(rw && list ? 'versioning' : rw ? 'versioning-rw' : 'versioning-list', () => versioning(wt, plan, results, { rw, list }));
    // (last: it stops and restarts the server to seed its database)
    const host: BranchesHost = {
      target: () => wt,
      async offline(fn) {
        await http.close();
        let failure: unknown;
        // (the server starts again even when seeding failed: the phase's error is reported, the target stopped cleanly)
        const next = await target.restart!(async (url) => {
          const db = await openSeedDb(url);
          try {
            await fn(db);
          } catch (err) {
            failure = err ?? new Error('seeding failed');
          } finally {
            await db.close();
          }
        });
        Object.assign(target, { ...next, report: target.report });
        http = new S3Http(target.endpoint, target.creds);
        wt = { http, serverPids: target.serverPids, supportsList: target.supportsList, log };
        if (failure) throw failure;
      },
    };
    await phase('branches', () => branches(host, plan, results));
  }
  await http.close();
  await target.stop();
}

/**
 * The cost section: Anvil on SQLite with encryption off / on, and with
 * replication 1 / 2 over fs backends declared in a config file (both in the
 * scratch folder, so on one disk). Replication runs keep the default (encrypted).
 */
const COST_VARIANTS: Array<{ name: string; description: string; encrypt: boolean; backends?: string[] }> = [
  { name: 'plain', description: 'encryption at rest off', encrypt: false },
  { name: 'encrypted', description: 'encryption at rest on (the default)', encrypt: true },
  { name: 'replication 1', description: 'one declared fs backend, replication 1, encrypted', encrypt: true, backends: ['d1'] },
  {
    name: 'replication 2',
    description: 'two fs backends on the same disk, replication 2, encrypted',
    encrypt: true,
    backends: ['d1', 'd2'],
  },
];
const COMPARISONS: Comparison[] = [
  { label: 'encrypted / plain', base: 'plain', other: 'encrypted' },
  { label: 'replication 2 / replication 1', base: 'replication 1', other: 'replication 2' },
];

async function runCosts(plan: Plan, work: string, cpuProf: string | undefined): Promise<TargetReport[]> {
  const reports: TargetReport[] = [];
  for (const v of COST_VARIANTS) {
    const dataDir = path.join(work, `cost-${v.name.replace(/\W+/g, '-')}`);
    fs.mkdirSync(dataDir, { recursive: true });
    // Set both explicitly so nothing in the bench's own environment leaks in.
    const env: NodeJS.ProcessEnv = { ANVIL_ENCRYPT_AT_REST: String(v.encrypt), ANVIL_CONFIG: '' };
    if (v.backends) {
      env.ANVIL_CONFIG = path.join(dataDir, 'anvil.yaml');
      const backends = v.backends.map((b) => ({ name: b, type: 'fs', path: path.join(dataDir, b), quota: 'unlimited' }));
      fs.writeFileSync(env.ANVIL_CONFIG, JSON.stringify({ placement: 'spread', replication: backends.length, backends })); // JSON is YAML
    }
    log(`\n== cost: anvil-sqlite, ${v.name}`);
    const description = `Anvil, SQLite, ${v.description}`;
    try {
      const target = await anvilTarget(v.name, description, dataDir, `sqlite:${path.join(dataDir, 'anvil.db')}`, cpuProf, env);
      await loadTarget(target, costPlan(plan), ['large', 'small']);
      reports.push(target.report);
    } catch (err) {
      log(`  could not start ${v.name}: ${String(err)}`);
      reports.push({ name: v.name, role: 'anvil', description: `${description}: did not start`, results: {}, errors: [String(err)] });
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return reports;
}

async function runRawDisk(plan: Plan, phases: string[], dir: string): Promise<Results> {
  const wanted = phases
    .map((p) => (p === 'small-put' ? 'small' : p))
    .filter((p) => p !== 'list' && p !== 'cost' && p !== 'branches' && !p.startsWith('versioning'));
  if (wanted.length === 0) return {};
  const { stdout, stderr } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', path.join(benchDir, 'raw-disk.ts'), plan.name, dir, wanted.join(',')],
    { maxBuffer: 16 * 1024 * 1024, timeout: 20 * 60_000 },
  );
  process.stderr.write(stderr);
  const last = stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last) as Results;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const { plan } = opts;
  const started = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-bench-'));
  if (opts.cpuProf) fs.mkdirSync(opts.cpuProf, { recursive: true });
  if (loadAtStart[0] > 0.5)
    log(`warning: load average is ${loadAtStart.join(' ')} before the bench starts; other work on this machine will skew the numbers`);
  log(`anvil bench (${plan.name}) — targets ${opts.targets.join(', ')}; phases ${opts.phases.join(', ')}; scratch ${work}`);
  const reports: TargetReport[] = [];
  let costReports: TargetReport[] = [];
  let pg: BenchPostgres | null = null;
  const profStart = Date.now();

  const cleanup = async (): Promise<void> => {
    await pg?.stop().catch(() => undefined);
    if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
  };
  // (a started rgw cluster kills its daemons and removes its folder in a process 'exit' hook)
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });
  process.once('SIGTERM', () => {
    void cleanup().finally(() => process.exit(143));
  });

  try {
    // (the cost section starts its own servers: no target is started for it alone)
    // (the versioning and branches sections run on Anvil targets only)
    const others = opts.phases.filter((p) => p !== 'cost');
    const onlyAnvil = others.length > 0 && others.every((p) => p.startsWith('versioning') || p === 'branches');
    for (const name of (others.length ? opts.targets : []).filter((n) => !onlyAnvil || n.startsWith('anvil'))) {
      const dataDir = path.join(work, name);
      fs.mkdirSync(dataDir, { recursive: true });
      const t0 = Date.now();
      log(`\n== ${name}`);
      if (name === 'raw') {
        const report: TargetReport = {
          name: 'raw disk',
          role: 'limit',
          description: 'fsynced file writes / file reads, no HTTP',
          results: {},
          errors: [],
        };
        try {
          report.results = await runRawDisk(plan, opts.phases, dataDir);
        } catch (err) {
          report.errors.push(String(err));
          log(`  raw disk failed: ${String(err)}`);
        }
        reports.push(report);
        fs.rmSync(dataDir, { recursive: true, force: true });
        continue;
      }
      let target: RunningTarget;
      try {
        target = await startTarget(name, dataDir, opts.cpuProf, async () => {
          pg ??= await startBenchPostgres(log);
          return pg;
        });
      } catch (err) {
        log(`  could not start ${name}: ${String(err)}`);
        reports.push({
          name,
          role: name.startsWith('anvil') ? 'anvil' : name === 'limit' ? 'limit' : 'peer',
          description: 'did not start',
          results: {},
          errors: [String(err)],
        });
        continue;
      }
      await loadTarget(target, plan, opts.phases);
      reports.push(target.report);
      fs.rmSync(dataDir, { recursive: true, force: true });
      log(`  (${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    if (opts.phases.includes('cost') && opts.targets.includes('anvil-sqlite')) {
      const t0 = Date.now();
      costReports = await runCosts(plan, work, opts.cpuProf);
      log(`  (cost: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    } else if (opts.phases.includes('cost')) log('\n(no cost section: it needs the anvil-sqlite target)');
  } finally {
    await cleanup();
  }

  const elapsed = (Date.now() - started) / 1000;
  const table = markdownTable(reports);
  const goalsMd = goalsTable(reports);
  const versioningMd = opts.phases.some((p) => p.startsWith('versioning')) ? versioningTable(reports, plan) : '';
  const branchesMd = opts.phases.includes('branches') ? branchesTable(reports, plan) : '';
  const cpu = cpuTable(reports);
  const result = {
    date: new Date().toISOString(),
    plan,
    command: `npm run bench --${plan.name === 'quick' ? ' -- --quick' : ''}${process.argv.slice(2).filter((a) => a !== '--quick').length ? ' …' : ''}`,
    elapsedS: elapsed,
    machine: machine(),
    postgres: pg ? (pg as BenchPostgres).source : null,
    targets: reports,
    ratios: ratios(reports),
    goals: goalResults(reports),
    markdown: table,
    goalsMarkdown: goalsMd,
    cpuMarkdown: cpu,
    versioning: versioningMd
      ? {
          sizes: plan.versioning,
          ratios: versioningRatios(reports, plan),
          markdown: versioningMd,
        }
      : null,
    branches: branchesMd
      ? {
          sizes: plan.branches,
          ratios: branchRatios(reports, plan),
          markdown: branchesMd,
        }
      : null,
    costs: costReports.length
      ? {
          targets: costReports,
          ratios: comparisonRatios(costReports, COMPARISONS),
          markdown: comparisonTable(costReports, COMPARISONS),
          cpuMarkdown: cpuTable(costReports),
        }
      : null,
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, JSON.stringify(result, null, 2));
  const m = result.machine;
  console.log(
    `\n### Anvil bench (${plan.name}) — ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, ${m.kernel}, Node ${m.node}; ${elapsed.toFixed(0)} s; load avg ${loadAtStart[0]} → ${(m.loadAvgAtEnd as number[])[0]}\n`,
  );
  // (a run of the versioning section alone has no row of the main table)
  if (reports.length && table.split('\n').length > 2) {
    console.log(table);
    console.log(
      '\nRatios divide the Anvil figure by the limit server\'s / the best peer\'s: for MB/s and ops/s above 1× is better; for list latency (p99) below 1× is better. "raw disk" is open+write+fsync+close with no HTTP (its GETs are page-cache file reads).',
    );
    if (goalsMd) {
      console.log("\n#### Issue 18's targets (ratios from this run)\n");
      console.log(goalsMd);
      console.log(
        "\nBest peer = the faster of rgw and s3rver in this run (per row). The list goal is the issue's p99 < 20 ms for a 1000-key page from 1M keys; this run's bucket is smaller (see the plan). Memory: peak resident memory of the server process tree under the 4 KiB c=64 runs (sampled every 250 ms); the 10-minute soak is not run by the bench.",
      );
    }
    console.log(
      '\nCPU, % of one core over each run (client = this load generator / server process tree; PostgreSQL backends count as server), and peak server RSS:\n',
    );
    console.log(cpu);
  }
  if (result.versioning) {
    const v = plan.versioning;
    console.log(
      `\n#### Versioning (${plan.name}: ${v.keys} keys × ${v.history} writes for GET / PUT; list buckets of ${v.listKeys.toLocaleString('en-US')} keys × ${v.listVersions} versions and × 1; one key with ${v.deepVersions.toLocaleString('en-US')} versions — the issue's sizes are 1M × 10 and 100k)\n`,
    );
    console.log(result.versioning.markdown);
    console.log(
      '\nBaseline: the unversioned bucket (GET / PUT, ListObjectsV2 × 1); for the ListObjectVersions row, a ListObjectsV2 page of 1000 from the × 1 bucket. GET / PUT sides ran A B B A (half the time each); list pages were sampled in rotation, one of each in turn. For ops/s above 1× is better, for p99 below 1×.',
    );
  }
  if (result.branches) {
    const b = plan.branches;
    console.log(
      `\n#### Branches (${plan.name}: a bucket of ${b.keys.toLocaleString('en-US')} objects, seeded into the database; ${b.changes.toLocaleString('en-US')} changed keys per diff / merge; a key with ${b.deepVersions.toLocaleString('en-US')} versions after the commit — the issue's sizes are 1M, 10k and 100k)\n`,
    );
    console.log(result.branches.markdown);
    console.log(
      '\nTimes in ms. Ratios divide the branch side by the baseline (below 1× is better); both sides of a row were sampled in rotation on the same server. "8 levels" is the deepest chain a read may go through (a branch of depth 7 and its 7 ancestors), made without the background flatten that would shorten it. Merges are few (one per feature branch): their row compares medians and shows the max as p99.',
    );
  }
  if (result.costs) {
    console.log('\n#### Cost of encryption at rest and of replication 2 (anvil-sqlite, the same run)\n');
    console.log(result.costs.markdown);
    console.log(
      '\nEach column is its own fresh server; the ratio divides the second figure by the first, so below 1× is the cost (ops/s and MB/s). The replication runs are encrypted; their two fs backends share one disk (the scratch folder), so "replication 2 / replication 1" is a worst case for disk bandwidth.',
    );
    console.log('\nCPU, % of one core (client / server):\n');
    console.log(result.costs.cpuMarkdown);
  }
  for (const r of [...reports, ...costReports]) for (const e of r.errors) console.log(`\n- ${r.name}: ${e}`);
  console.log(`\nJSON: ${path.relative(process.cwd(), opts.out)}`);

  if (opts.cpuProf) {
    // (each target writes into its own subfolder: see anvilTarget)
    const files = fs
      .readdirSync(opts.cpuProf, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(opts.cpuProf!, f))
      .filter((f) => fs.statSync(f).mtimeMs >= profStart);
    for (const f of files) console.log(`\n${formatProfile(f, 25)}`);
  }
}

async function startTarget(
  name: string,
  dataDir: string,
  cpuProf: string | undefined,
  getPg: () => Promise<BenchPostgres | null>,
): Promise<RunningTarget> {
  switch (name) {
    case 'limit': {
      const child = await startTsServer('limit-server.ts', dataDir);
      const port = /READY (\d+)/.exec(child.tail())![1];
      return {
        report: {
          name: 'limit',
          role: 'limit',
          description: 'bare node:http: stream to temp file, fsync, rename, fsync dir; GET streams the file',
          results: {},
          errors: [],
        },
        endpoint: `http://127.0.0.1:${port}`,
        creds: ROOT,
        serverPids: [child.pid],
        supportsList: false,
        supportsMpu: true,
        tail: child.tail,
        stop: child.stop,
      };
    }
    case 's3rver': {
      // s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its legacy provider.
      const child = await startTsServer('s3rver-server.ts', dataDir, ['--openssl-legacy-provider']);
      const port = /READY (\d+)/.exec(child.tail())![1];
      return {
        report: { name: 's3rver', role: 'peer', description: 's3rver 3.x from npm (filesystem store, no fsync)', results: {}, errors: [] },
        endpoint: `http://127.0.0.1:${port}`,
        creds: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        serverPids: [child.pid],
        supportsList: true,
        supportsMpu: true,
        tail: child.tail,
        stop: child.stop,
      };
    }
    case 'rgw': {
      const rgw = await startRgw(dataDir, ROOT, log);
      return {
        report: {
          name: 'rgw',
          role: 'peer',
          description:
            'Ceph RADOS Gateway 16.2 (Debian): beast on loopback, one mon, one OSD with bluestore on a sparse file, pools of size 1, auth none',
          results: {},
          errors: [],
        },
        endpoint: rgw.endpoint,
        creds: rgw.creds,
        serverPids: rgw.pids,
        supportsList: true,
        supportsMpu: true,
        tail: rgw.tail,
        stop: rgw.stop,
      };
    }
    case 'anvil-sqlite':
      return anvilTarget(
        name,
        'Anvil, SQLite (WAL; every write acknowledged after a group fdatasync of the WAL)',
        dataDir,
        `sqlite:${path.join(dataDir, 'anvil.db')}`,
        cpuProf,
      );
    case 'anvil-postgres': {
      const pg = await getPg();
      if (!pg) throw new Error('no PostgreSQL: set ANVIL_BENCH_DATABASE_URL or install the postgresql package');
      return anvilTarget(
        name,
        `Anvil, PostgreSQL (${pg.source})`,
        dataDir,
        pg.url,
        cpuProf,
        {},
        pg.postmasterPid ? [pg.postmasterPid] : [],
      );
    }
    default:
      throw new Error(`unknown target ${name}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
