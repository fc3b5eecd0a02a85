/**
 * storage/disk-space.ts: which errors mean "disk full", and the episode log
 * (error once, quiet while it lasts, info once when a write gets space again).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';

import { BackendFull } from '../../src/backends/backend.js';
import { DiskSpace, isDiskFull } from '../../src/blobs/staging/disk-space.js';
import { errors, S3Error, toS3Error } from '../../src/s3/errors.js';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('isDiskFull', () => {
  it('knows ENOSPC, EDQUOT, SQLITE_FULL and PostgreSQL 53100, also as a cause', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']) expect(isDiskFull(coded(code))).toBe(true);
    expect(isDiskFull(new BackendFull('b', 'write: no space left', coded('ENOSPC')))).toBe(true);
  });
  it('takes nothing else for a full disk, not even a 507 already answered (a quota says nothing about this disk)', () => {
    for (const code of ['EIO', 'EACCES', 'SQLITE_IOERR', 'SQLITE_BUSY', '53200', 'ECONNRESET']) expect(isDiskFull(coded(code))).toBe(false);
    expect(isDiskFull(errors.insufficientStorage())).toBe(false);
    expect(isDiskFull(new Error('no space'))).toBe(false);
    expect(isDiskFull(undefined)).toBe(false);
  });
});

describe('DiskSpace episodes', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const setup = (databaseUrl?: (dir: string) => string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-space-'));
    dirs.push(dir);
    const lines: Array<{ level: number; msg: string; refused?: number }> = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    return { dir, lines, space: new DiskSpace({ dataDir: dir, databaseUrl: databaseUrl?.(dir) }, log) };
  };
  const settle = () => new Promise((r) => setTimeout(r, 50)); // the first report statfs'es first

  it('logs at error once, at debug while it lasts, at info once when a write succeeds again', async () => {
    const { dir, lines, space } = setup();
    for (let i = 0; i < 5; i++) {
      // The domain error as the S3 edge answers it.
      const out = toS3Error(space.refused(space.dataFolder, coded('ENOSPC')));
      expect(out).toBeInstanceOf(S3Error);
      expect((out as S3Error).status).toBe(507);
    }
    await settle();
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      expect.stringMatching(new RegExp(`^data folder is full: ${dir}, free bytes \\d+`)),
    ]);
    expect(lines.filter((l) => l.level === 20).map((l) => l.refused)).toEqual([2, 3, 4, 5]);
    expect(space.snapshot()).toEqual({ full: ['data folder'], refusedTotal: 5 });
    space.wrote(space.dataFolder);
    space.wrote(space.dataFolder);
    expect(lines.filter((l) => l.level === 30).map((l) => [l.msg, l.refused])).toEqual([[`space available again: data folder ${dir}`, 5]]);
    expect(space.snapshot()).toEqual({ full: [], refusedTotal: 5 });
    // A new episode is a new error.
    space.refused(space.dataFolder, coded('EDQUOT'));
    await settle();
    expect(lines.filter((l) => l.level === 50)).toHaveLength(2);
  });

  it('passes other errors through untouched and records nothing', () => {
    const { lines, space } = setup();
    const eio = coded('EIO');
    expect(space.refused(space.dataFolder, eio)).toBe(eio);
    const quota = errors.insufficientStorage();
    expect(space.refused(space.dataFolder, quota)).toBe(quota);
    expect(lines).toEqual([]);
    expect(space.snapshot()).toEqual({ full: [], refusedTotal: 0 });
  });

  it('a SQLite file in the data folder is the same place; a successful commit there does not end the episode', async () => {
    const { lines, space } = setup((dir) => `sqlite:${path.join(dir, 'anvil.db')}`);
    expect(space.metadata).toBe(space.dataFolder);
    await expect(
      space.metadataWrite(() => Promise.reject(coded('SQLITE_FULL'))).catch((e: unknown) => Promise.reject(toS3Error(e))),
    ).rejects.toMatchObject({ code: 'InsufficientStorage', status: 507 });
    space.refused(space.dataFolder, coded('ENOSPC'));
    await space.metadataWrite(async () => 'committed into WAL pages it already had');
    await settle();
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    expect(lines.filter((l) => l.level === 30)).toEqual([]);
    space.wrote(space.dataFolder);
    expect(lines.filter((l) => l.level === 30)).toHaveLength(1);
  });

  it('a database elsewhere (PostgreSQL) is its own place, ended by its own next write', async () => {
    const { lines, space } = setup(() => 'postgres://u:p@db.example/anvil');
    expect(space.metadata).not.toBe(space.dataFolder);
    await expect(
      space.metadataWrite(() => Promise.reject(coded('53100'))).catch((e: unknown) => Promise.reject(toS3Error(e))),
    ).rejects.toMatchObject({ status: 507 });
    space.wrote(space.dataFolder); // the data folder was never full: nothing to say
    await settle();
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^metadata database is full: PostgreSQL, free bytes unknown/),
    ]);
    expect(lines.filter((l) => l.level === 30)).toEqual([]);
    await space.metadataWrite(async () => undefined);
    expect(lines.filter((l) => l.level === 30).map((l) => l.msg)).toEqual(['space available again: metadata database PostgreSQL']);
  });
});
