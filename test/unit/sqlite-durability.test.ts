/**
 * The SQLite driver's group commit: writes resolve only after a WAL fsync
 * that started after them, concurrent writes share fsyncs, reads and lazy
 * commits cause none, and a transaction keeps other sessions out until it
 * ends. (Power loss itself cannot be tested here; engine.ts argues it.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { LAZY_COMMIT, type MetaDatabases, openMetaDatabases, walSyncCount, withTransaction } from '../../src/meta/engine.js';

describe('SQLite group commit', () => {
  let dir: string;
  let meta: MetaDatabases;
  const db = () => meta.data as unknown as import('kysely').Kysely<{ t: { id: number; v: string } }>;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-gc-'));
    meta = openMetaDatabases(`sqlite:${path.join(dir, 'm.db')}`);
    await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`.execute(meta.data);
  });
  afterEach(async () => {
    await meta.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs with synchronous=NORMAL in WAL mode', async () => {
    const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(meta.data);
    const sync = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(meta.data);
    expect(mode.rows[0].journal_mode).toBe('wal');
    expect(sync.rows[0].synchronous).toBe(1);
  });

  it('resolves a write only after a WAL fsync that started after it', async () => {
    for (let i = 0; i < 5; i++) {
      const before = walSyncCount(meta);
      await db().insertInto('t').values({ id: i, v: 'x' }).execute();
      expect(walSyncCount(meta)).toBeGreaterThan(before);
      const before2 = walSyncCount(meta);
      await withTransaction('sqlite', db(), async (trx) => {
        await trx.updateTable('t').set({ v: 'y' }).where('id', '=', i).execute();
      });
      expect(walSyncCount(meta)).toBeGreaterThan(before2);
    }
  });

  it('shares fsyncs between concurrent writers', async () => {
    const before = walSyncCount(meta);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2
          ? db().insertInto('t').values({ id: i, v: 'a' }).execute()
          : withTransaction('sqlite', db(), async (trx) => {
              await trx.insertInto('t').values({ id: i, v: 'b' }).execute();
              await trx.updateTable('t').set({ v: 'c' }).where('id', '=', i).execute();
            }),
      ),
    );
    const syncs = walSyncCount(meta) - before;
    expect(syncs).toBeGreaterThan(0);
    expect(syncs).toBeLessThan(50);
    const rows = await db()
      .selectFrom('t')
      .select(({ fn }) => fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(rows.n)).toBe(200);
  });

  it('does not fsync for reads, rolled-back or lazy transactions', async () => {
    await db().insertInto('t').values({ id: 1, v: 'x' }).execute();
    const before = walSyncCount(meta);
    await db().selectFrom('t').selectAll().execute();
    await withTransaction('sqlite', db(), async (trx) => trx.selectFrom('t').selectAll().execute());
    await expect(
      withTransaction('sqlite', db(), async (trx) => {
        await trx.insertInto('t').values({ id: 2, v: 'x' }).execute();
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    await withTransaction('sqlite', db(), (trx) => trx.insertInto('t').values({ id: 3, v: 'lazy' }).execute(), LAZY_COMMIT);
    expect(walSyncCount(meta)).toBe(before);
    expect((await db().selectFrom('t').select('id').orderBy('id').execute()).map((r) => r.id)).toEqual([1, 3]);
  });

  it('keeps other sessions out of an open transaction until it ends', async () => {
    const events: string[] = [];
    let inside!: () => void;
    const entered = new Promise<void>((r) => (inside = r));
    const tx = withTransaction('sqlite', db(), async (trx) => {
      await trx.insertInto('t').values({ id: 1, v: 'tx' }).execute();
      inside();
      await new Promise((r) => setTimeout(r, 50));
      events.push('tx done');
    });
    await entered;
    const read = db()
      .selectFrom('t')
      .selectAll()
      .execute()
      .then((rows) => events.push(`read ${rows.length}`));
    const write = db()
      .insertInto('t')
      .values({ id: 2, v: 'other' })
      .execute()
      .then(() => events.push('write'));
    await Promise.all([tx, read, write]);
    expect(events[0]).toBe('tx done');
    expect(events).toContain('read 1');
  });

  it('survives closing and reopening with every acknowledged write', async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        db()
          .insertInto('t')
          .values({ id: i, v: String(i) })
          .execute(),
      ),
    );
    await meta.close();
    meta = openMetaDatabases(`sqlite:${path.join(dir, 'm.db')}`);
    const rows = await db().selectFrom('t').select('id').execute();
    expect(rows).toHaveLength(50);
  });
});
