/**
 * Reloading the configuration without a restart: SIGHUP to the real
 * `anvil server` re-reads its file — a new log level takes effect, a setting
 * that needs a restart is named and keeps its running value, and a file that
 * does not validate changes nothing (its problems are logged). In-process,
 * `anvil.reload(config)` applies new backend quotas and object size limits
 * to the very next write.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, expect, it } from 'vitest';

import type { Config } from '../../src/config/config.js';
import { anvilPerTest, databaseUrlFor, describeEachEngine, s3Error } from '../support/anvil.js';
import { fsBackends, waitFor } from '../support/backends.js';
import { startServer, stopServer } from '../support/cli-server.js';

describeEachEngine('configuration reload', (engine) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('SIGHUP: a new log level takes effect, a restart-only change is named and not applied, a bad file changes nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-hup-'));
    const dataDir = path.join(dir, 'data');
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const file = path.join(dir, 'anvil.yaml');
    const settings = (extra: string) =>
      fs.writeFileSync(file, `data_dir: ${dataDir}\ndatabase_url: ${db.url}\nlisten: 127.0.0.1:0\n${extra}`);
    settings('log_level: warn\n');
    // The file's log level, not the test helper's ANVIL_LOG_LEVEL.
    const s = await startServer({ ANVIL_CONFIG: file, ANVIL_LOG_LEVEL: '', ANVIL_LISTEN: '' });
    cleanups.push(() => stopServer(s));
    let output = s.output;
    s.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    s.child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const logLines = () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    /** An unsigned request (403): its request id, to find its log line. */
    const request = async () => {
      const res = await fetch(`${s.endpoint}/`);
      await res.arrayBuffer();
      return res.headers.get('x-amz-request-id')!;
    };
    const logged = (id: string) => logLines().some((l) => l.reqId === id && l.msg === 'request');

    const atWarn = await request();
    settings('log_level: info\nregion: eu-west-3\n');
    s.child.kill('SIGHUP');
    await waitFor('the reload', () => logLines().some((l) => l.msg === 'configuration reloaded'));
    const reloaded = logLines().find((l) => l.msg === 'configuration reloaded')!;
    expect(reloaded).toMatchObject({ applied: ['log_level'], needRestart: ['region'], file });
    const atInfo = await request();
    await waitFor('the request line at info', () => logged(atInfo));
    expect(logged(atWarn)).toBe(false);
    // The region still is the one the server started with: requests signed for it are served.
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'root-credentials.json'), 'utf8'));
    const s3 = new S3Client({ endpoint: s.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    cleanups.push(() => s3.destroy());
    expect((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);

    // A file that does not validate: nothing changes (the level stays info), every problem is logged.
    settings('log_level: error\nlog_levl: warn\nmax_object_size: lots\n');
    s.child.kill('SIGHUP');
    await waitFor('the refusal', () => logLines().some((l) => l.msg === 'configuration reload refused: nothing changed'));
    const refused = logLines().find((l) => l.msg === 'configuration reload refused: nothing changed')!;
    expect(refused.problems).toEqual([
      `${file}: unknown key "log_levl" (did you mean "log_level"?)`,
      expect.stringContaining(`${file}: max_object_size: invalid size "lots"`),
    ]);
    const stillInfo = await request();
    await waitFor('the request line, still at info', () => logged(stillInfo));
    expect(s.child.exitCode).toBeNull();
  });

  const { start, dirs } = anvilPerTest(engine);

  it('anvil.reload: a backend’s new quota and object size limit apply to the next write; the report names what applied and what needs a restart', async () => {
    const KiB = 1024;
    const { storage, roots } = fsBackends(['a'], { a: 256 * KiB });
    dirs.push(roots.a);
    const t = await start({ storage });
    await t.s3.send(new CreateBucketCommand({ Bucket: 'quota' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'quota', Key: 'first', Body: Buffer.alloc(100 * KiB, 1) }));

    const withLimits = (quotaBytes: number, maxObjectSize?: number): Config => ({
      ...t.config,
      storage: { ...storage, backends: [{ ...storage.backends[0], quotaBytes, ...(maxObjectSize !== undefined && { maxObjectSize }) }] },
    });
    // Lowered below what the next write needs: refused with 507, nothing else changed.
    expect(await t.anvil.reload(withLimits(150 * KiB))).toEqual({ applied: ['backends.a.quota'], needRestart: [] });
    const full = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'quota', Key: 'second', Body: Buffer.alloc(100 * KiB, 2) })));
    expect(full.$metadata.httpStatusCode).toBe(507);
    // Raised again, with a per-object cap; and a setting that needs a restart.
    const report = await t.anvil.reload({ ...withLimits(1024 * KiB, 60 * KiB), listen: '127.0.0.1:1', logLevel: 'error' });
    expect(report).toEqual({ applied: ['backends.a.max_object_size', 'backends.a.quota', 'log_level'], needRestart: ['listen'] });
    const tooLarge = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'quota', Key: 'third', Body: Buffer.alloc(100 * KiB, 3) })));
    expect(tooLarge.$metadata.httpStatusCode).toBe(507);
    await t.s3.send(new PutObjectCommand({ Bucket: 'quota', Key: 'small', Body: Buffer.alloc(50 * KiB, 4) }));
    // Back to the start: nothing left to apply, nothing needing a restart.
    const back = await t.anvil.reload(withLimits(1024 * KiB));
    expect(back).toEqual({ applied: ['backends.a.max_object_size', 'log_level'], needRestart: [] });
    await t.s3.send(new PutObjectCommand({ Bucket: 'quota', Key: 'second', Body: Buffer.alloc(100 * KiB, 2) }));
    // A backend added to the file needs a restart; the running ones are untouched.
    const added = await t.anvil.reload({
      ...withLimits(1024 * KiB),
      storage: {
        ...storage,
        backends: [
          { ...storage.backends[0], quotaBytes: 1024 * KiB },
          { type: 'fs', name: 'b', path: '/nowhere', quotaBytes: 1024 * KiB },
        ],
      },
    });
    expect(added).toEqual({ applied: [], needRestart: ['backends', 'backends.b'] });
  });
});
