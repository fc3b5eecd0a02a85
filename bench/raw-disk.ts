/**
 * Raw disk baseline: the same bytes and concurrency as the S3 workloads,
 * written straight to files with open + write + fsync + close (no HTTP), and
 * read back with plain file reads. Runs in its own process so it gets its own
 * libuv thread pool, like a server would.
 *
 * Usage: node --import tsx bench/raw-disk.ts <quick|full> <dir> <phases,comma-separated>
 * Prints progress on stderr and one JSON line (Results) on stdout.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';

import { plans } from './lib/plan.js';
import { closedLoop, summarize } from './lib/runner.js';
import type { Results } from './lib/workloads.js';

const plan = plans[(process.argv[2] ?? 'quick') as 'quick' | 'full'];
const dir = process.argv[3] ?? '/tmp/raw-disk';
const phases = new Set((process.argv[4] ?? 'large,small,mpu').split(','));
const out: Results = {};
const log = (s: string): void => void process.stderr.write(`${s}\n`);

function randomBuffer(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  crypto.randomFillSync(b);
  return b;
}

async function writeSynced(file: string, data: Buffer): Promise<void> {
  const fh = await fsp.open(file, 'w');
  try {
    await fh.write(data, 0, data.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readAll(file: string): Promise<number> {
  const b = await fsp.readFile(file);
  return b.length;
}

await fsp.mkdir(dir, { recursive: true });

if (phases.has('large')) {
  const bufs = Array.from({ length: Math.max(...plan.largeConcurrency) }, () => randomBuffer(plan.largeSize));
  for (const c of plan.largeConcurrency) {
    const count = plan.largeCount[c] ?? c;
    const file = (seq: number): string => path.join(dir, `large-c${c}-${seq}`);
    const w = await closedLoop({
      concurrency: c,
      count,
      op: async (wk, seq) => {
        bufs[wk].writeUInt32LE(seq, 0);
        await writeSynced(file(seq), bufs[wk]);
        return plan.largeSize;
      },
    });
    out[`large-put-c${c}`] = summarize(w, 'MB/s', 'write + fsync');
    const r = await closedLoop({ concurrency: c, count: count * plan.largeGetRounds, op: async (_w, seq) => readAll(file(seq % count)) });
    out[`large-get-c${c}`] = summarize(r, 'MB/s', 'file read (page cache)');
    log(`  raw 64 MiB c=${c}: write ${out[`large-put-c${c}`].value.toFixed(0)} MB/s, read ${out[`large-get-c${c}`].value.toFixed(0)} MB/s`);
    for (let i = 0; i < count; i++) await fsp.rm(file(i), { force: true });
  }
}

if (phases.has('small')) {
  const bufs = Array.from({ length: Math.max(...plan.smallConcurrency) }, () => randomBuffer(plan.smallSize));
  for (const c of plan.smallConcurrency) {
    const sub = path.join(dir, `small-c${c}`);
    await fsp.mkdir(sub, { recursive: true });
    const w = await closedLoop({
      concurrency: c,
      durationS: plan.smallPutS,
      op: async (wk, seq) => {
        bufs[wk].writeUInt32LE(seq, 0);
        await writeSynced(path.join(sub, String(seq)), bufs[wk]);
        return plan.smallSize;
      },
    });
    out[`small-put-c${c}`] = summarize(w, 'ops/s', 'open + write + fsync + close');
    const written = w.ops;
    const r = await closedLoop({
      concurrency: c,
      durationS: plan.smallGetS,
      op: async () => readAll(path.join(sub, String(Math.floor(Math.random() * written)))),
    });
    out[`small-get-c${c}`] = summarize(r, 'ops/s', 'file read (page cache)');
    log(`  raw 4 KiB c=${c}: write ${out[`small-put-c${c}`].value.toFixed(0)}/s, read ${out[`small-get-c${c}`].value.toFixed(0)}/s`);
    await fsp.rm(sub, { recursive: true, force: true });
  }
}

if (phases.has('mpu')) {
  const parts = Math.ceil(plan.mpuSize / plan.mpuPartSize);
  const bufs = Array.from({ length: plan.mpuConcurrency }, () => randomBuffer(plan.mpuPartSize));
  const w = await closedLoop({
    concurrency: plan.mpuConcurrency,
    count: parts,
    op: async (wk, seq) => {
      bufs[wk].writeUInt32LE(seq, 0);
      await writeSynced(path.join(dir, `part-${seq}`), bufs[wk]);
      return plan.mpuPartSize;
    },
  });
  out['mpu'] = summarize(w, 'MB/s', 'parts written + fsynced');
  log(`  raw multipart-sized write: ${out['mpu'].value.toFixed(0)} MB/s`);
  for (let i = 0; i < parts; i++) await fsp.rm(path.join(dir, `part-${i}`), { force: true });
}

process.stdout.write(`${JSON.stringify(out)}\n`);
