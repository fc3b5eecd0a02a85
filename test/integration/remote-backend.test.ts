/**
 * A remote S3 backend in the object path: Anvil keeps one replica of each
 * blob in a local folder and one in a bucket of a second, real Anvil on
 * loopback (the `s3` backend through @aws-sdk/client-s3). The remote holds
 * only ciphertext; reads survive its outage; a write that cannot get its two
 * replicas fails cleanly; after it comes back the scrub finds everything in
 * place.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { UNLIMITED } from '../../src/backends/config.js';
import { Scrubber } from '../../src/blobs/scrub.js';
import { describeEachEngine, type EngineName, ROOT_KEY, ROOT_SECRET, s3Error, startTestAnvil, type TestAnvil } from '../support/anvil.js';
import { waitFor } from '../support/backends.js';

const MARKER = 'REMOTE-PLAINTEXT-MARKER';

async function get(t: TestAnvil, bucket: string, key: string): Promise<Buffer> {
  const res = await t.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

describeEachEngine('remote s3 backend', (engine: EngineName) => {
  let remote: TestAnvil;
  let t: TestAnvil;
  let disk: string;

  beforeAll(async () => {
    remote = await startTestAnvil('sqlite');
    await remote.s3.send(new CreateBucketCommand({ Bucket: 'anvil-blobs' }));
    disk = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-disk-'));
    t = await startTestAnvil(
      engine,
      {
        storage: {
          placement: 'spread',
          replication: 2,
          isDefault: false,
          backends: [
            { type: 'fs', name: 'disk', path: disk, quotaBytes: UNLIMITED },
            {
              type: 's3',
              name: 'remote',
              endpoint: remote.endpoint,
              region: 'us-east-1',
              bucket: 'anvil-blobs',
              prefix: 'node1/',
              forcePathStyle: true,
              credentials: { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
              partSize: 5 * 1024 * 1024,
              maxAttempts: 1,
              timeouts: { connectMs: 1000, requestMs: 5000 },
              quotaBytes: UNLIMITED,
            },
          ],
        },
      },
      { workerIntervalMs: 200 },
    );
    await t.s3.send(new CreateBucketCommand({ Bucket: 'data' }));
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await remote?.stop();
    fs.rmSync(disk, { recursive: true, force: true });
  });

  it('keeps a ciphertext replica of every blob in the remote bucket and reads through its outage', async () => {
    const small = Buffer.from(`${MARKER} small body`);
    const large = Buffer.concat([Buffer.from(MARKER), crypto.randomBytes(12 * 1024 * 1024)]);
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'small', Body: small }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'large', Body: large }));

    const listed = await remote.s3.send(new ListObjectsV2Command({ Bucket: 'anvil-blobs', Prefix: 'node1/' }));
    expect(listed.Contents?.length).toBe(2);
    for (const o of listed.Contents ?? []) {
      const raw = await get(remote, 'anvil-blobs', o.Key!);
      expect(raw.subarray(0, 4).toString()).toBe('ANVE');
      expect(raw.includes(MARKER)).toBe(false);
    }

    // The remote stops: both objects still read (from the folder).
    const port = new URL(remote.endpoint).port;
    await remote.anvil.close();
    expect((await get(t, 'data', 'small')).equals(small)).toBe(true);
    expect((await get(t, 'data', 'large')).equals(large)).toBe(true);
    // A new write cannot get its second replica: it fails and leaves nothing in the folder.
    const files = () => fs.readdirSync(path.join(disk, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
    const before = files();
    const err = await s3Error(t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'during', Body: 'needs two replicas' })));
    expect([503, 507]).toContain(err.$metadata.httpStatusCode);
    expect(files()).toBe(before);

    // Back on the same port: the breaker closes, writes work again, and the scrub finds both replicas of everything.
    await remote.restart();
    expect(new URL(remote.endpoint).port).toBe(port);
    await waitFor(
      'the remote backend to recover',
      () =>
        t.anvil.core.blobs.replicas.backends.get('remote')!.breaker.state === 'closed' &&
        t.anvil.core.blobs.replicas.backends.get('remote')!.lastHealth?.ok === true,
    );
    await t.s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'after', Body: 'two replicas again' }));
    expect((await get(t, 'data', 'after')).toString()).toBe('two replicas again');
    const scrubber = new Scrubber(t.anvil.core.blobs);
    await scrubber.runPass();
    const status = await scrubber.status();
    expect(status.corrupt).toEqual([]);
    expect(status.badReplicas).toBe(0);
    const usage = await t.anvil.core.meta.data
      .selectFrom('backend_usage')
      .selectAll()
      .where('backend', 'in', ['disk', 'remote'])
      .orderBy('backend')
      .execute();
    expect(usage.map((u) => [u.backend, Number(u.blob_count)])).toEqual([
      ['disk', 3],
      ['remote', 3],
    ]);
  }, 120_000);
});
