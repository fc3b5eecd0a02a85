import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import { expect, it } from 'vitest';

import { Scrubber } from '../../src/blobs/scrub.js';
import { tryLead } from '../../src/work/leader.js';
import { TaskQueue, TaskRunner } from '../../src/work/tasks.js';
import { blobFiles, describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
const run = promisify(execFile);

describeEachEngine('background work: tasks, scrub, upload expiry, leadership', (engine) => {
  const t = useAnvil(engine, { config: { verifyReads: true }, start: { workerIntervalMs: 50 } });

  it('deletes a full bucket through `anvil admin bucket delete --force` and the task queue', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'doomed' }));
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => t.s3.send(new PutObjectCommand({ Bucket: 'doomed', Key: `k/${i}`, Body: `body ${i}` }))),
    );
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'doomed', Key: 'mp' }));
    await t.s3.send(new UploadPartCommand({ Bucket: 'doomed', Key: 'mp', UploadId, PartNumber: 1, Body: 'part' }));
    const { stdout } = await run(
      process.execPath,
      [path.resolve('bin/anvil.js'), 'admin', 'bucket', 'delete', 'doomed', '--force', '--json'],
      {
        env: { ...process.env, ANVIL_DATA_DIR: t.dataDir, ANVIL_DATABASE_URL: t.config.databaseUrl },
      },
    );
    const { task } = JSON.parse(stdout);
    for (let i = 0; i < 200; i++) {
      const [row] = (await new TaskQueue(t.anvil.meta, 'test').list()).filter((x) => x.id === task);
      if (row.status === 'done') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const gone = await s3Error(t.s3.send(new HeadBucketCommand({ Bucket: 'doomed' })));
    expect(gone.$metadata.httpStatusCode).toBe(404);
    await t.anvil.core.blobs.cleanup.runDue();
    expect(blobFiles(t.dataDir)).toEqual([]);
  });

  it('retries failing tasks with backoff, dead-letters them, and retries on request', async () => {
    const queue = new TaskQueue(t.anvil.meta, 'runner-a', { backoffMs: 1, leaseMs: 60_000 });
    let calls = 0;
    const runner = new TaskRunner(queue, pino({ level: 'silent' })).register('flaky', async (payload: { failTimes: number }) => {
      calls++;
      if (calls <= payload.failTimes) throw new Error(`failure ${calls}`);
    });
    const id = await queue.enqueue('flaky', { failTimes: 5 }, { maxAttempts: 3 });
    for (let i = 0; i < 20; i++) {
      await runner.runDue();
      await new Promise((r) => setTimeout(r, 10));
    }
    let [task] = (await queue.list()).filter((x) => x.id === id);
    expect(task.status).toBe('failed');
    expect(task.attempts).toBe(3);
    expect(task.last_error).toBe('failure 3');
    expect(await queue.retry(id)).toBe(true);
    for (let i = 0; i < 20; i++) {
      await runner.runDue();
      await new Promise((r) => setTimeout(r, 10));
    }
    [task] = (await queue.list()).filter((x) => x.id === id);
    expect(task.status).toBe('done');
    expect(calls).toBe(6);
  });

  it('hands a task whose runner died to another runner once its lease expires', async () => {
    const dying = new TaskQueue(t.anvil.meta, 'runner-dead', { backoffMs: 1, leaseMs: 50 });
    const id = await dying.enqueue('orphaned', {});
    const [claimed] = await dying.claim(['orphaned']);
    expect(claimed.id).toBe(id);
    const survivor = new TaskQueue(t.anvil.meta, 'runner-b', { backoffMs: 1, leaseMs: 60_000 });
    expect(await survivor.claim(['orphaned'])).toEqual([]);
    await new Promise((r) => setTimeout(r, 80));
    const [taken] = await survivor.claim(['orphaned']);
    expect(taken.id).toBe(id);
    expect(taken.lease_owner).toBe('runner-b');
    expect(await survivor.cancel(id)).toBe(true);
  });

  it('stops a running task when it is cancelled, and never marks it done', async () => {
    const queue = new TaskQueue(t.anvil.meta, 'runner-c', { backoffMs: 1, leaseMs: 60 });
    const runner = new TaskRunner(queue, pino({ level: 'silent' }));
    let steps = 0;
    runner.register('long', async (_payload: unknown, signal: AbortSignal) => {
      for (let i = 0; i < 100; i++) {
        signal.throwIfAborted();
        steps++;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    const id = await queue.enqueue('long', {});
    const running = runner.runDue();
    await new Promise((r) => setTimeout(r, 100));
    expect(await queue.cancel(id)).toBe(true);
    await running;
    const [task] = (await queue.list()).filter((x) => x.id === id);
    expect(task.status).toBe('cancelled');
    expect(steps).toBeLessThan(100);
  });

  it('gives an interrupted task back on shutdown without using up an attempt', async () => {
    const queue = new TaskQueue(t.anvil.meta, 'runner-d', { backoffMs: 1, leaseMs: 60_000 });
    const runner = new TaskRunner(queue, pino({ level: 'silent' }));
    runner.register('interruptible', async (_payload: unknown, signal: AbortSignal) => {
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    const id = await queue.enqueue('interruptible', {});
    const running = runner.runDue();
    await new Promise((r) => setTimeout(r, 50));
    runner.stop();
    await running;
    const [task] = (await queue.list()).filter((x) => x.id === id);
    expect(task.status).toBe('pending');
    expect(task.attempts).toBe(0);
    await queue.cancel(id);
  });

  it('scrub finds a corrupted blob, and verified reads refuse to serve it', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'scrubbed' }));
    const body = crypto.randomBytes(200_000);
    await t.s3.send(new PutObjectCommand({ Bucket: 'scrubbed', Key: 'good', Body: crypto.randomBytes(1000) }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'scrubbed', Key: 'bad', Body: body }));
    const ok = await t.s3.send(new GetObjectCommand({ Bucket: 'scrubbed', Key: 'bad' }));
    expect(Buffer.from(await ok.Body!.transformToByteArray()).equals(body)).toBe(true);
    const row = await t.anvil.meta.data.selectFrom('blobs').selectAll().where('size', '=', 200_000).executeTakeFirstOrThrow();
    const file = t.anvil.core.blobs.staging.blobPath(row.tenant_id, row.hash, row.file_id);
    const bytes = fs.readFileSync(file);
    bytes[12345] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const scrubber = new Scrubber(t.anvil.core.blobs);
    await scrubber.runSlice(10 * 1024 * 1024);
    const status = await scrubber.status();
    expect(status.corrupt.map((c) => c.hash)).toEqual([row.hash]);
    expect(status.verified).toBeGreaterThanOrEqual(2);
    // A verified read fails instead of completing with wrong bytes.
    await expect(
      (async () => {
        const res = await t.s3.send(new GetObjectCommand({ Bucket: 'scrubbed', Key: 'bad' }));
        return Buffer.from(await res.Body!.transformToByteArray());
      })(),
    ).rejects.toThrow();
  });

  it('exposes request counters and background state as Prometheus metrics', async () => {
    const res = await fetch(`${t.endpoint}/-/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/anvil_requests_total\{op="PutObject",status="200"\} \d+/);
    expect(text).toMatch(/anvil_blobs_corrupt 1/);
    expect(text).toMatch(/anvil_cleanup_dead_letters 0/);
    expect(text).toContain('anvil_request_duration_seconds_bucket');
  });

  it('aborts incomplete multipart uploads older than the configured age', async () => {
    await t.s3.send(new CreateBucketCommand({ Bucket: 'stale' }));
    const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'stale', Key: 'abandoned' }));
    await t.s3.send(new UploadPartCommand({ Bucket: 'stale', Key: 'abandoned', UploadId, PartNumber: 1, Body: crypto.randomBytes(3000) }));
    expect(await t.anvil.services.multipart.abortOlderThan(Date.now() - 3600_000)).toBe(0);
    expect(await t.anvil.services.multipart.abortOlderThan(Date.now() + 1)).toBeGreaterThanOrEqual(1);
    const list = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: 'stale' }));
    expect(list.Uploads ?? []).toEqual([]);
  });

  it('lets only one process lead a singleton job at a time', async () => {
    const first = await tryLead(t.anvil.meta, 'anvil:test-job');
    expect(first).not.toBeNull();
    expect(await tryLead(t.anvil.meta, 'anvil:test-job')).toBeNull();
    await first!.release();
    const again = await tryLead(t.anvil.meta, 'anvil:test-job');
    expect(again).not.toBeNull();
    await again!.release();
  });
});
