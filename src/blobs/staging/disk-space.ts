/**
 * Full disks. One job: tell "no space left" from other write failures, turn
 * it into 507 InsufficientStorage, and say so in the log once per episode
 * rather than once per refused request.
 *
 * A place is where writes land: the data folder (staged bodies, local blob
 * files) and the metadata database. When the SQLite file lives on the data
 * folder's file system (the default, <data>/anvil.db), both are one place:
 * one disk, one episode. An episode starts with the first write a full place
 * refuses (logged at error, with the free bytes left), goes on quietly (debug,
 * with a count) while writes keep being refused, and ends with the next write
 * to that place that succeeds and needed new space (logged at info: "space
 * available again"; see metadataWrite). Nothing polls: space that comes back
 * is noticed by the first write that gets it, so recovery needs no restart
 * and no timer.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

import type { Logger } from 'pino';

import { AnvilError, fail } from '../../errors.js';

/** Errno codes, SQLite result codes and PostgreSQL SQLSTATEs that mean "no space left". */
const FULL_CODES = new Set([
  'ENOSPC', // no space left on device
  'EDQUOT', // disk quota exceeded
  'SQLITE_FULL', // better-sqlite3: the database or its journal could not grow
  '53100', // PostgreSQL disk_full
]);

/**
 * Whether err (or an error it wraps, e.g. BackendFull's cause) says a disk is
 * full. An AnvilError is already an answer (a 507 from placement or a quota
 * says nothing about this disk) and is never taken for one.
 */
export function isDiskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof AnvilError) return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && FULL_CODES.has(code)) return true;
  }
  return false;
}

export interface SpacePlace {
  /** What the place is, for the log: "data folder", "metadata database". */
  readonly name: string;
  /** Its path (statfs'd for the free bytes), or a description when it is not a local path. */
  readonly path: string;
  readonly local: boolean;
}

interface Episode {
  since: number;
  /** Writes refused during this episode. */
  refused: number;
}

export class DiskSpace {
  readonly dataFolder: SpacePlace;
  readonly metadata: SpacePlace;
  private readonly episodes = new Map<SpacePlace, Episode>();
  private refusedTotal = 0;

  constructor(
    where: {
      dataDir: string;
      /** The metadata database URL (sqlite:PATH or postgres://…); absent: only the data folder is watched. */
      databaseUrl?: string;
    },
    private readonly log?: Logger,
  ) {
    this.dataFolder = { name: 'data folder', path: where.dataDir, local: true };
    const url = where.databaseUrl;
    if (url?.startsWith('sqlite:')) {
      const file = path.resolve(url.slice('sqlite:'.length));
      this.metadata = sameFileSystem(path.dirname(file), where.dataDir)
        ? this.dataFolder
        : { name: 'metadata database', path: file, local: true };
    } else {
      this.metadata = { name: 'metadata database', path: url ? 'PostgreSQL' : 'unknown', local: false };
    }
  }

  /**
   * A write to place failed with err: when the disk is full, records the
   * refusal and returns the 507 to throw instead; any other error is returned
   * unchanged.
   */
  refused(place: SpacePlace, err: unknown): unknown {
    if (!isDiskFull(err)) return err;
    this.refusedTotal++;
    const episode = this.episodes.get(place);
    if (episode) {
      episode.refused++;
      this.log?.debug({ place: place.name, path: place.path, refused: episode.refused }, `write refused: ${place.name} still full`);
    } else {
      this.episodes.set(place, { since: Date.now(), refused: 1 });
      void this.reportFull(place, err);
    }
    return fail.insufficientStorage();
  }

  /** A write to place succeeded: if it was full, the episode is over. */
  wrote(place: SpacePlace): void {
    if (this.episodes.size === 0) return;
    const episode = this.episodes.get(place);
    if (!episode) return;
    this.episodes.delete(place);
    this.log?.info(
      { place: place.name, path: place.path, refused: episode.refused, fullForMs: Date.now() - episode.since },
      `space available again: ${place.name} ${place.path}`,
    );
  }

  /**
   * Runs a metadata write: a full disk fails it with 507. Its success ends
   * the metadata database's episode only when the database has a disk of its
   * own: on the data folder's disk it proves nothing, as SQLite commits into
   * WAL pages it already has while the disk stays full (metadata-only writes
   * kept succeeding on a full disk in test/integration/disk-full.test.ts);
   * the next blob written ends that episode.
   */
  async metadataWrite<T>(write: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await write();
    } catch (err) {
      throw this.refused(this.metadata, err);
    }
    if (this.metadata !== this.dataFolder) this.wrote(this.metadata);
    return result;
  }

  /** For metrics: places full right now, and writes refused for lack of space since start. */
  snapshot(): { full: string[]; refusedTotal: number } {
    return { full: [...this.episodes.keys()].map((p) => p.name), refusedTotal: this.refusedTotal };
  }

  private async reportFull(place: SpacePlace, err: unknown): Promise<void> {
    const code = (err as { code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
    let freeBytes: number | undefined;
    if (place.local) {
      const st = await fsp.statfs(place.path).catch(() => undefined); // free space is only a detail of the log line
      if (st) freeBytes = st.bavail * st.bsize;
    }
    this.log?.error(
      { place: place.name, path: place.path, freeBytes, code },
      `${place.name} is full: ${place.path}, free bytes ${freeBytes ?? 'unknown'}; writes answer 507 InsufficientStorage until space is freed`,
    );
  }
}

function sameFileSystem(a: string, b: string): boolean {
  try {
    return fs.statSync(a).dev === fs.statSync(b).dev;
  } catch {
    // A path that cannot be stat'ed yet (not created): compare the names instead.
    return path.resolve(a) === path.resolve(b);
  }
}
