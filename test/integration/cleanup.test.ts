import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect, it, vi } from 'vitest';

import { CleanupQueue, enqueueCleanup } from '../../src/blobs/gc-queue.js';
import { openMetaDatabases } from '../../src/meta/engine.js';
import { migrateAll } from '../../src/meta/migrate.js';
import { blobFiles, databaseUrlFor, describeEachEngine, useAnvil } from '../support/anvil.js';
describeEachEngine('blob cleanup, dead letters and reconciliation', (engine) => {
  const t = useAnvil(engine, {
    buckets: ['gcb'],
    start: { cleanup: { maxAttempts: 2, backoffMs: 10, leaseMs: 60_000 }, workerIntervalMs: 50 },
  });

  it('never deletes a blob that a concurrent upload references again', async () => {
    for (let round = 0; round < 25; round++) {
      const body = crypto.randomBytes(20_000 + round);
      await t.s3.send(new PutObjectCommand({ Bucket: 'gcb', Key: 'a', Body: body }));
      // Releasing the only reference (delete) races a new upload of identical content.
      await Promise.all([
        t.s3.send(new DeleteObjectCommand({ Bucket: 'gcb', Key: 'a' })),
        t.s3.send(new PutObjectCommand({ Bucket: 'gcb', Key: 'b', Body: body })),
      ]);
      const got = await t.s3.send(new GetObjectCommand({ Bucket: 'gcb', Key: 'b' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    }
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'gcb', Key: 'b' }));
    // The background worker may hold the entry's lease while it finishes it: wait for it.
    await vi.waitFor(async () => {
      await t.anvil.core.blobs.cleanup.runDue();
      expect(blobFiles(t.dataDir)).toEqual([]);
    });
  });

  it('retries a failing cleanup with backoff, then dead-letters it; retrying after the fault clears it', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'gcb', Key: 'stuck', Body: crypto.randomBytes(5000) }));
    const [file] = blobFiles(t.dataDir);
    // Fault: the blob's path becomes a directory, so removing the file fails.
    fs.rmSync(file);
    fs.mkdirSync(file);
    await t.s3.send(new DeleteObjectCommand({ Bucket: 'gcb', Key: 'stuck' }));
    const queue = t.anvil.core.blobs.cleanup;
    for (let i = 0; i < 100 && (await queue.deadLetters()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const dead = await queue.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0].attempts).toBe(2);
    expect(dead[0].last_error).toMatch(/directory|EISDIR/i);
    expect(await queue.pending()).toEqual([]);
    fs.rmdirSync(file);
    expect(await queue.retryDeadLetters()).toBe(1);
    // The background worker may claim the entry first and still be finishing it: wait for it.
    await vi.waitFor(async () => {
      await queue.runDue();
      expect(await queue.pending()).toEqual([]);
    });
    expect(await queue.deadLetters()).toEqual([]);
    const rows = await t.anvil.meta.data.selectFrom('blobs').select('hash').execute();
    expect(rows).toEqual([]);
  });

  it('removes orphan files and dead intents at start-up and reports missing files', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'gcb', Key: 'kept', Body: 'kept body' }));
    await t.s3.send(new PutObjectCommand({ Bucket: 'gcb', Key: 'lost', Body: 'this file will vanish' }));
    const tenantDir = fs.readdirSync(path.join(t.dataDir, 'blobs'))[0];
    const orphan = path.join(t.dataDir, 'blobs', tenantDir, 'ab', 'cd', `${'ab'.repeat(32)}.deadbeef`);
    fs.mkdirSync(path.dirname(orphan), { recursive: true });
    fs.writeFileSync(orphan, 'orphan');
    fs.writeFileSync(path.join(t.dataDir, 'tmp', 'staged-by-a-dead-process'), 'partial');
    await t.anvil.meta.data
      .insertInto('write_intents')
      .values({ id: 'dead-intent', node_id: t.anvil.core.nodeId, tenant_id: tenantDir, created_at: Date.now() })
      .execute();
    const lostRow = await t.anvil.meta.data.selectFrom('blobs').selectAll().where('size', '=', 21).executeTakeFirstOrThrow();
    fs.rmSync(t.anvil.core.blobs.staging.blobPath(lostRow.tenant_id, lostRow.hash, lostRow.file_id));

    await t.restart();
    const report = t.anvil.reconciled;
    expect(report.orphanFilesRemoved).toBe(1);
    expect(report.stagedFilesRemoved).toBe(1);
    expect(report.deadIntents).toBe(1);
    expect(report.missingFiles.map((m) => m.hash)).toEqual([lostRow.hash]);
    expect(fs.existsSync(orphan)).toBe(false);
    const intents = await t.anvil.meta.data.selectFrom('write_intents').selectAll().execute();
    expect(intents).toEqual([]);
    const kept = await t.s3.send(new GetObjectCommand({ Bucket: 'gcb', Key: 'kept' }));
    expect(await kept.Body!.transformToString()).toBe('kept body');
  });

  // SKIP LOCKED claiming only exists on PostgreSQL; SQLite has one writer per file by design.
  if (engine === 'postgres')
    it('never hands one queue entry to two workers at once (two processes, one database)', async () => {
      // A database of its own, so the test server's worker does not take entries too.
      const db = await databaseUrlFor('postgres', t.dataDir);
      const metaA = openMetaDatabases(db.url);
      const metaB = openMetaDatabases(db.url);
      try {
        await migrateAll(metaA);
        await metaA.data.transaction().execute((trx) =>
          enqueueCleanup(
            trx,
            Array.from({ length: 200 }, (_, i) => ({ tenantId: 'x', hash: crypto.randomBytes(32).toString('hex'), fileId: `f${i}` })),
          ),
        );
        const { replicas } = t.anvil.core.blobs;
        const a = new CleanupQueue({ meta: metaA, replicas }, 'worker-a');
        const b = new CleanupQueue({ meta: metaB, replicas }, 'worker-b');
        const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claim({ limit: 30 })));
        const ids = claims.flat().map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.length).toBe(200);
      } finally {
        await metaA.close();
        await metaB.close();
        await db.drop();
      }
    });
});
