/**
 * Failover when a remote backend stops answering (issue 12, finding 11).
 * Anvil keeps two replicas of each blob: one on a remote S3 backend (a
 * second, real Anvil) reached through a TCP proxy the test can freeze, and
 * one in a local folder. The remote comes first in the read order. Frozen
 * mid-download, or frozen before it answers at all, the remote must be
 * left for the other replica within the read stall timeout (1 s here; the
 * s3 backend's own timeouts stay at their defaults of 30 s and more, so
 * only the stall timer can make the reads finish in time), and its breaker
 * must open at once: the next read never reaches the remote.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { UNLIMITED } from '../../src/backends/config.js';
import { describeEachEngine, type EngineName, ROOT_KEY, ROOT_SECRET, startTestAnvil, type TestAnvil } from '../support/anvil.js';
import { tempDir, waitFor } from '../support/backends.js';
import { FreezableProxy } from '../support/freezable-proxy.js';

const STALL_MS = 1000;
/** Far above the stall timeout, far below the s3 backend's default idle (30 s) and header (60 s) timeouts. */
const BOUND_MS = 10_000;
const REMOTE_GET = /^GET \/anvil-blobs\//;

async function timedGet(t: TestAnvil, key: string): Promise<{ body: Buffer; ms: number }> {
  const started = Date.now();
  const res = await t.s3.send(new GetObjectCommand({ Bucket: 'data', Key: key }));
  const body = Buffer.from(await res.Body!.transformToByteArray());
  return { body, ms: Date.now() - started };
}

describeEachEngine('reads leave a stalled replica', (engine: EngineName) => {
  for (const encryptAtRest of [true, false]) {
    describe(encryptAtRest ? 'encrypted at rest' : 'plaintext at rest', () => {
      let remote: TestAnvil;
      let proxy: FreezableProxy;
      let t: TestAnvil;
      let disk: string;
      const big = crypto.randomBytes(3 * 1024 * 1024);
      const small = crypto.randomBytes(100 * 1024);

      const far = () => t.anvil.core.blobs.replicas.backends.get('far')!;
      /** The remote answers again and its breaker is closed (the probe the worker would run, run here). */
      async function recover(): Promise<void> {
        proxy.thaw();
        await waitFor(
          'the far backend to recover',
          async () => {
            await t.anvil.core.blobs.replicas.checkHealth();
            return far().breaker.state === 'closed';
          },
          20_000,
        );
      }

      beforeAll(async () => {
        remote = await startTestAnvil('sqlite');
        await remote.s3.send(new CreateBucketCommand({ Bucket: 'anvil-blobs' }));
        proxy = await FreezableProxy.start(remote.endpoint);
        disk = tempDir('stall');
        t = await startTestAnvil(
          engine,
          {
            encryptAtRest,
            storage: {
              placement: 'spread',
              replication: 2,
              readStallTimeoutMs: STALL_MS,
              isDefault: false,
              backends: [
                // Declared first: read first. Default timeouts (connect 5 s, headers 60 s, idle 30 s).
                {
                  type: 's3',
                  name: 'far',
                  endpoint: proxy.endpoint,
                  region: 'us-east-1',
                  bucket: 'anvil-blobs',
                  prefix: 'far/',
                  forcePathStyle: true,
                  credentials: { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
                  timeouts: {},
                  quotaBytes: UNLIMITED,
                },
                { type: 'fs', name: 'disk', path: disk, quotaBytes: UNLIMITED },
              ],
            },
          },
          // No background health checks: the only traffic to the remote is what the reads send.
          { workerIntervalMs: 3_600_000 },
        );
        await t.s3.send(new CreateBucketCommand({ Bucket: 'data' }));
        await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'big', Body: big }));
        await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'small', Body: small }));
        // Both replicas exist, and while the remote answers, reads go to it.
        const before = proxy.count(REMOTE_GET);
        expect((await timedGet(t, 'small')).body.equals(small)).toBe(true);
        expect(proxy.count(REMOTE_GET)).toBe(before + 1);
      }, 60_000);

      afterAll(async () => {
        await t?.stop();
        await proxy?.close();
        await remote?.stop();
        if (disk) fs.rmSync(disk, { recursive: true, force: true });
      });

      it('a remote that freezes mid-download: the GET finishes from the other replica, the breaker opens, the next GET never reaches the remote', async () => {
        const opens = far().breaker.snapshot().opens;
        const gets = proxy.count(REMOTE_GET);
        proxy.freezeAfter(512 * 1024);
        const first = await timedGet(t, 'big');
        expect(first.body.equals(big)).toBe(true);
        expect(first.ms).toBeLessThan(BOUND_MS);
        // The remote was read first and really stopped midway.
        expect(proxy.count(REMOTE_GET)).toBe(gets + 1);
        expect(proxy.frozen).toBe(true);
        expect(far().breaker.snapshot().opens).toBe(opens + 1);

        const connections = proxy.connections;
        const again = await timedGet(t, 'big');
        expect(again.body.equals(big)).toBe(true);
        expect((await timedGet(t, 'small')).body.equals(small)).toBe(true);
        expect(proxy.count(REMOTE_GET)).toBe(gets + 1);
        expect(proxy.connections).toBe(connections);
      }, 60_000);

      it('a small object (read whole before answering) whose remote freezes midway is served from the other replica', async () => {
        await recover();
        const opens = far().breaker.snapshot().opens;
        const gets = proxy.count(REMOTE_GET);
        proxy.freezeAfter(32 * 1024);
        const first = await timedGet(t, 'small');
        expect(first.body.equals(small)).toBe(true);
        expect(first.ms).toBeLessThan(BOUND_MS);
        expect(proxy.count(REMOTE_GET)).toBe(gets + 1);
        expect(far().breaker.snapshot().opens).toBe(opens + 1);
        const connections = proxy.connections;
        expect((await timedGet(t, 'small')).body.equals(small)).toBe(true);
        expect(proxy.count(REMOTE_GET)).toBe(gets + 1);
        expect(proxy.connections).toBe(connections);
      }, 60_000);

      it('a remote that accepts connections and never answers: the GET moves on within the timeout, the breaker opens', async () => {
        await recover();
        const opens = far().breaker.snapshot().opens;
        const gets = proxy.count(REMOTE_GET);
        proxy.freezeAfter(0);
        const first = await timedGet(t, 'big');
        expect(first.body.equals(big)).toBe(true);
        expect(first.ms).toBeLessThan(BOUND_MS);
        // The request reached the (frozen) remote, which never answered it.
        expect(proxy.count(REMOTE_GET)).toBe(gets + 1);
        expect(far().breaker.snapshot().opens).toBe(opens + 1);
        const connections = proxy.connections;
        expect((await timedGet(t, 'small')).body.equals(small)).toBe(true);
        expect((await timedGet(t, 'big')).body.equals(big)).toBe(true);
        expect(proxy.count(REMOTE_GET)).toBe(gets + 1);
        expect(proxy.connections).toBe(connections);
      }, 60_000);
    });
  }
});
