/**
 * The S3 workloads, run against any target speaking (enough of) S3 over
 * loopback. Every body is unique (a per-run nonce and a sequence number in
 * its first bytes) so content-addressed stores cannot dedupe the work away.
 */
import crypto from 'node:crypto';

import { objectPath, type S3Http } from './client.js';
import type { Plan } from './plan.js';
import { closedLoop, type Measurement, type RunResult, summarize } from './runner.js';

export type Results = Record<string, Measurement>;

export interface WorkloadTarget {
  http: S3Http;
  serverPids: number[];
  supportsList: boolean;
  log: (s: string) => void;
}

/** A buffer of the given size, random, with bytes 0..15 rewritten per op. */
function randomBuffer(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  crypto.randomFillSync(b, 0, Math.min(size, 1024 * 1024));
  for (let off = 1024 * 1024; off < size; off += 1024 * 1024) b.copy(b, off, 0, Math.min(1024 * 1024, size - off));
  return b;
}

function stamp(b: Buffer, nonce: bigint, seq: number): Buffer {
  b.writeBigUInt64LE(nonce, 0);
  b.writeBigUInt64LE(BigInt(seq), 8);
  return b;
}

function newNonce(): bigint {
  return crypto.randomBytes(8).readBigUInt64LE(0);
}

async function createBucket(t: WorkloadTarget, bucket: string): Promise<void> {
  await t.http.request('PUT', objectPath(bucket), { okStatuses: [409] });
}

function fmt(r: RunResult): string {
  return `${r.ops} ops in ${r.seconds.toFixed(2)} s, client CPU ${r.clientCpuS.toFixed(2)} s${
    r.serverCpuS !== null ? `, server CPU ${r.serverCpuS.toFixed(2)} s` : ''
  }`;
}

export async function largeObjects(t: WorkloadTarget, plan: Plan, out: Results): Promise<void> {
  const bucket = 'bench-large';
  await createBucket(t, bucket);
  const maxC = Math.max(...plan.largeConcurrency);
  const bufs = Array.from({ length: maxC }, () => randomBuffer(plan.largeSize));
  const nonce = newNonce();
  for (const c of plan.largeConcurrency) {
    const count = plan.largeCount[c] ?? c;
    const key = (seq: number): string => `c${c}/obj-${seq}`;
    const put = await closedLoop({
      concurrency: c,
      count,
      serverPids: t.serverPids,
      op: async (w, seq) => {
        await t.http.request('PUT', objectPath(bucket, key(seq)), { body: stamp(bufs[w], nonce, seq) });
        return plan.largeSize;
      },
    });
    out[`large-put-c${c}`] = summarize(put, 'MB/s');
    t.log(`  large PUT c=${c}: ${(put.bytes / 1e6 / put.seconds).toFixed(0)} MB/s (${fmt(put)})`);
    // GETs are cheap: read each object largeGetRounds times for a steadier figure.
    const get = await closedLoop({
      concurrency: c,
      count: count * plan.largeGetRounds,
      serverPids: t.serverPids,
      op: async (_w, seq) => {
        const r = await t.http.request('GET', objectPath(bucket, key(seq % count)));
        if (r.bytes !== plan.largeSize) throw new Error(`GET ${key(seq % count)}: ${r.bytes} bytes`);
        return r.bytes;
      },
    });
    out[`large-get-c${c}`] = summarize(get, 'MB/s');
    t.log(`  large GET c=${c}: ${(get.bytes / 1e6 / get.seconds).toFixed(0)} MB/s (${fmt(get)})`);
  }
}

export async function smallObjects(t: WorkloadTarget, plan: Plan, out: Results, only?: 'put'): Promise<void> {
  const bucket = 'bench-small';
  await createBucket(t, bucket);
  const maxC = Math.max(...plan.smallConcurrency);
  const bufs = Array.from({ length: maxC }, () => randomBuffer(plan.smallSize));
  const nonce = newNonce();
  // Warm up connections and code paths (not measured).
  let warm = 0;
  await closedLoop({
    concurrency: 16,
    count: 200,
    op: async (w) => {
      await t.http.request('PUT', objectPath(bucket, `warm/${warm++}`), { body: stamp(bufs[w], nonce, 1e9 + warm) });
      return 0;
    },
  });
  for (const c of plan.smallConcurrency) {
    const prefix = `c${c}/`;
    const put = await closedLoop({
      concurrency: c,
      durationS: plan.smallPutS,
      serverPids: t.serverPids,
      op: async (w, seq) => {
        await t.http.request('PUT', objectPath(bucket, `${prefix}${seq}`), {
          body: stamp(bufs[w], nonce, c * 1e8 + seq),
        });
        return plan.smallSize;
      },
    });
    out[`small-put-c${c}`] = summarize(put, 'ops/s');
    t.log(
      `  4 KiB PUT c=${c}: ${(put.ops / put.seconds).toFixed(0)} ops/s p50 ${out[`small-put-c${c}`].p50Ms.toFixed(2)} p99 ${out[
        `small-put-c${c}`
      ].p99Ms.toFixed(2)} ms (${fmt(put)})`,
    );
    if (only === 'put') continue;
    const written = put.ops;
    const get = await closedLoop({
      concurrency: c,
      durationS: plan.smallGetS,
      serverPids: t.serverPids,
      op: async () => {
        const k = `${prefix}${Math.floor(Math.random() * written)}`;
        const r = await t.http.request('GET', objectPath(bucket, k));
        if (r.bytes !== plan.smallSize) throw new Error(`GET ${k}: ${r.bytes} bytes`);
        return r.bytes;
      },
    });
    out[`small-get-c${c}`] = summarize(get, 'ops/s');
    t.log(
      `  4 KiB GET c=${c}: ${(get.ops / get.seconds).toFixed(0)} ops/s p50 ${out[`small-get-c${c}`].p50Ms.toFixed(2)} p99 ${out[
        `small-get-c${c}`
      ].p99Ms.toFixed(2)} ms (${fmt(get)})`,
    );
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export async function listing(t: WorkloadTarget, plan: Plan, out: Results): Promise<void> {
  if (!t.supportsList) return;
  const bucket = 'bench-list';
  await createBucket(t, bucket);
  const perFolder = plan.listKeysPerFolder;
  const folders = Math.ceil(plan.listKeys / perFolder);
  const keyOf = (i: number): string => `f${pad(Math.floor(i / perFolder), 6)}/k${pad(i % perFolder, 3)}`;
  const tiny = Buffer.from('x');
  const seed = await closedLoop({
    concurrency: 64,
    count: plan.listKeys,
    serverPids: t.serverPids,
    op: async (_w, seq) => {
      await t.http.request('PUT', objectPath(bucket, keyOf(seq)), { body: tiny });
      return 1;
    },
  });
  out['list-seed'] = summarize(seed, 'keys/s');
  t.log(`  seeded ${plan.listKeys} keys: ${(seed.ops / seed.seconds).toFixed(0)} PUT/s (${fmt(seed)})`);

  // A sample is 1000 entries: a server may answer with a shorter truncated page (S3 allows it; RGW does so
  // with a delimiter), and then the sample follows NextContinuationToken until it has 1000 (timed as one).
  const runList = async (name: string, query: () => Record<string, string>, tag: RegExp): Promise<void> => {
    let entries = 0;
    let followUps = 0;
    const r = await closedLoop({
      concurrency: 1,
      count: plan.listSamples,
      durationS: plan.listMaxS, // slow peers get fewer samples
      serverPids: t.serverPids,
      op: async () => {
        let q = query();
        let n = 0;
        let bytes = 0;
        for (let req = 0; ; req++) {
          const res = await t.http.request('GET', objectPath(bucket), { query: q, wantText: true });
          const text = res.text!;
          n += text.match(tag)?.length ?? 0;
          bytes += res.bytes;
          const next = /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(text)?.[1];
          if (n >= 1000 || !/<IsTruncated>true<\/IsTruncated>/.test(text) || !next || req >= 20) break;
          followUps++;
          const { 'start-after': _sa, ...rest } = q;
          q = { ...rest, 'max-keys': String(1000 - n), 'continuation-token': next };
        }
        if (n !== 1000) throw new Error(`${name}: ${n} entries, expected 1000`);
        entries += n;
        return bytes;
      },
    });
    const notes = [
      ...(r.ops < plan.listSamples ? [`${r.ops} samples (time cap)`] : []),
      ...(followUps ? [`short pages: ${followUps} follow-up requests over ${r.ops} samples`] : []),
    ];
    out[name] = summarize(r, 'ms', notes.length ? notes.join('; ') : undefined);
    t.log(
      `  ${name}: p50 ${out[name].p50Ms.toFixed(2)} ms p99 ${out[name].p99Ms.toFixed(2)} ms over ${r.ops} samples (${entries} entries${
        followUps ? `, ${followUps} follow-up requests` : ''
      })`,
    );
  };
  await runList(
    'list-nodelim',
    () => ({ 'list-type': '2', 'max-keys': '1000', 'start-after': keyOf(Math.floor(Math.random() * (plan.listKeys - 1001))) }),
    /<Key>/g,
  );
  await runList(
    'list-delim',
    () => ({
      'list-type': '2',
      'max-keys': '1000',
      delimiter: '/',
      'start-after': `f${pad(Math.floor(Math.random() * (folders - 1001)), 6)}`,
    }),
    /<CommonPrefixes>/g,
  );
}

export async function multipart(t: WorkloadTarget, plan: Plan, out: Results): Promise<void> {
  const bucket = 'bench-mpu';
  await createBucket(t, bucket);
  const parts = Math.ceil(plan.mpuSize / plan.mpuPartSize);
  const bufs = Array.from({ length: plan.mpuConcurrency }, () => randomBuffer(plan.mpuPartSize));
  const nonce = newNonce();
  const key = 'big-object';
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const init = await t.http.request('POST', objectPath(bucket, key), { query: { uploads: '' }, wantText: true });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.text ?? '')?.[1];
  if (!uploadId) throw new Error(`CreateMultipartUpload: no UploadId in ${init.text}`);
  const etags: string[] = [];
  const r = await closedLoop({
    concurrency: plan.mpuConcurrency,
    count: parts,
    serverPids: t.serverPids,
    op: async (w, seq) => {
      const res = await t.http.request('PUT', objectPath(bucket, key), {
        query: { partNumber: String(seq + 1), uploadId },
        body: stamp(bufs[w], nonce, seq),
      });
      etags[seq] = String(res.headers.etag ?? '');
      return plan.mpuPartSize;
    },
  });
  const xml =
    '<CompleteMultipartUpload>' +
    etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('') +
    '</CompleteMultipartUpload>';
  const done = await t.http.request('POST', objectPath(bucket, key), {
    query: { uploadId },
    body: Buffer.from(xml),
    headers: { 'content-type': 'application/xml' },
    wantText: true,
  });
  if (!/CompleteMultipartUploadResult/.test(done.text ?? '')) throw new Error(`CompleteMultipartUpload: ${done.text}`);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const whole: RunResult = { ...r, seconds, clientCpuS: (cpu.user + cpu.system) / 1e6 };
  out['mpu'] = summarize(
    whole,
    'MB/s',
    `${parts} × ${plan.mpuPartSize / 1024 / 1024} MiB parts, c=${plan.mpuConcurrency}, create→complete`,
  );
  t.log(`  multipart ${plan.mpuSize / 1024 / 1024} MiB: ${(r.bytes / 1e6 / seconds).toFixed(0)} MB/s (${fmt(whole)})`);
}
