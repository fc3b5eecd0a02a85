/**
 * Writing metadata straight into a stopped Anvil's database, for the
 * branches section: a million objects through S3 PUTs would take hours on
 * the bench machine, so rows are inserted in big transactions instead.
 *
 * Every row is a copy of a template row a real PUT wrote (same columns, same
 * manifest, so GETs read the template's blob), with its own key, sequence
 * number and version id (built as core/objects/versioning.ts builds them:
 * 14 hex digits of MAX_SEQ - seq, then 6 random hex digits). The blob's
 * reference count and the timeline's usage counters (bucket_state) move by
 * what was inserted, as a PUT's transaction moves them; tenant-level usage
 * (control plane) is left alone, which nothing the bench reads looks at.
 *
 * Branches made here (forkOffline) are written as BranchService.create
 * writes them (a commit on the parent at its next seq, the branch row, its
 * levels, its sequence row), except that no flatten task is queued: the
 * bench wants a chain that reads through all its levels.
 *
 * SQL is written once with `?` placeholders; PostgreSQL gets `$n`.
 */
import crypto from 'node:crypto';

import Database from 'better-sqlite3';
import pg from 'pg';

/** MAX_SEQ of meta/objects/types.ts (Number.MAX_SAFE_INTEGER). */
const MAX_SEQ = '9007199254740991';
/** Rows per transaction when seeding. */
const CHUNK = 100_000;

type Param = string | number | null;

export interface SeedDb {
  engine: 'sqlite' | 'postgres';
  run(sql: string, params?: Param[]): Promise<number>;
  all<T>(sql: string, params?: Param[]): Promise<T[]>;
  tx<T>(fn: () => Promise<T>): Promise<T>;
  /** After seeding: SQLite checkpoints its WAL; PostgreSQL analyzes (as autovacuum soon would). */
  finish(): Promise<void>;
  close(): Promise<void>;
}

export async function openSeedDb(databaseUrl: string): Promise<SeedDb> {
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    const conn = new Database(file);
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL');
    conn.pragma('cache_size = -1000000'); // 1 GB: big inserts stay in cache instead of spilling to the WAL
    conn.pragma('busy_timeout = 10000');
    return {
      engine: 'sqlite',
      run: (sql, params = []) => Promise.resolve(conn.prepare(sql).run(...params).changes),
      all: <T>(sql: string, params: Param[] = []) => Promise.resolve(conn.prepare(sql).all(...params) as T[]),
      async tx(fn) {
        conn.exec('BEGIN IMMEDIATE');
        try {
          const out = await fn();
          conn.exec('COMMIT');
          return out;
        } catch (err) {
          conn.exec('ROLLBACK');
          throw err;
        }
      },
      finish: () => Promise.resolve(void conn.pragma('wal_checkpoint(TRUNCATE)')),
      close: () => Promise.resolve(void conn.close()),
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const dollar = (sql: string): string => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  return {
    engine: 'postgres',
    run: async (sql, params = []) => (await client.query(dollar(sql), params)).rowCount ?? 0,
    all: async <T>(sql: string, params: Param[] = []) => (await client.query(dollar(sql), params)).rows as T[],
    async tx(fn) {
      await client.query('BEGIN');
      try {
        const out = await fn();
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    },
    finish: async () => void (await client.query('ANALYZE')),
    close: () => client.end(),
  };
}

/** The list bucket's layout, `fNNNNNN/kNNN`, 10 keys per folder, as SQL over an integer expression. */
export function keySql(db: SeedDb, i: string): string {
  return db.engine === 'sqlite'
    ? `printf('f%06d/k%03d', (${i}) / 10, (${i}) % 10)`
    : `'f' || lpad(((${i}) / 10)::text, 6, '0') || '/k' || lpad(((${i}) % 10)::text, 3, '0')`;
}

export function keyOf(i: number): string {
  return `f${String(Math.floor(i / 10)).padStart(6, '0')}/k${String(i % 10).padStart(3, '0')}`;
}

function versionIdSql(db: SeedDb, seq: string): string {
  return db.engine === 'sqlite'
    ? `printf('%014x', ${MAX_SEQ} - (${seq})) || lower(hex(randomblob(3)))`
    : `lpad(to_hex(${MAX_SEQ}::bigint - (${seq})), 14, '0') || substr(md5(random()::text), 1, 6)`;
}

/** Integers 0..n-1 as `s(i)`. */
function seriesSql(db: SeedDb, n: number): string {
  return db.engine === 'sqlite'
    ? `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${n - 1}) `
    : `WITH s(i) AS (SELECT generate_series(0, ${n - 1})) `;
}

export interface TemplateRow {
  id: number;
  tenant_id: string;
  size: number;
  manifest: string;
}

export async function bucketIdOf(db: SeedDb, name: string): Promise<{ id: string; tenant_id: string }> {
  const rows = await db.all<{ id: string; tenant_id: string }>('SELECT id, tenant_id FROM buckets WHERE name = ?', [name]);
  if (rows.length !== 1) throw new Error(`bucket ${name}: ${rows.length} rows`);
  return rows[0];
}

/** The latest row of a key a real PUT wrote. */
export async function templateRow(db: SeedDb, bucketId: string, key: string): Promise<TemplateRow> {
  const rows = await db.all<TemplateRow>(
    'SELECT id, tenant_id, size, manifest FROM object_versions WHERE bucket_id = ? AND key = ? AND is_latest = 1',
    [bucketId, key],
  );
  if (rows.length !== 1) throw new Error(`template ${key}: ${rows.length} latest rows`);
  return { ...rows[0], id: Number(rows[0].id), size: Number(rows[0].size) };
}

async function lastSeq(db: SeedDb, timelineId: string): Promise<number> {
  const rows = await db.all<{ last_seq: number }>('SELECT last_seq FROM bucket_state WHERE bucket_id = ?', [timelineId]);
  if (rows.length !== 1) throw new Error(`no bucket_state row for ${timelineId}`);
  return Number(rows[0].last_seq);
}

/**
 * Inserts n rows copying the template onto the timeline, row i (0..n-1)
 * keyed by `key(i)` (an SQL expression over i) at seq last_seq + 1 + i.
 * `new`: the keys have no row on the timeline yet. `history`:
 * every row is the same key, only the last one latest (a deep history).
 * Counters and the blob's reference count move as PUTs would move them.
 */
export async function insertCopies(
  db: SeedDb,
  timelineId: string,
  template: TemplateRow,
  n: number,
  key: (i: string) => string,
  mode: 'new' | 'history',
): Promise<void> {
  const now = Date.now();
  for (let done = 0; done < n; done += CHUNK) {
    const m = Math.min(CHUNK, n - done);
    await db.tx(async () => {
      const base = await lastSeq(db, timelineId);
      const i = `(i + ${done})`;
      const seq = `(CAST(${base} AS BIGINT) + 1 + i)`;
      if (mode === 'history') {
        await db.run(`UPDATE object_versions SET is_latest = 0 WHERE bucket_id = ? AND is_latest = 1 AND key = ${key('0')}`, [timelineId]);
      }
      const latest = mode === 'history' ? (done + m === n ? `CASE WHEN i = ${m - 1} THEN 1 ELSE 0 END` : '0') : '1';
      await db.run(
        `${seriesSql(db, m)}INSERT INTO object_versions (bucket_id, tenant_id, key, version_id, seq, is_latest, is_delete_marker, size, etag,
            content_type, headers, user_meta, checksums, manifest, part_sizes, created_at, tags, acl, lock_mode, lock_until, legal_hold)
          SELECT CAST(? AS TEXT), t.tenant_id, ${key(i)}, ${versionIdSql(db, seq)}, ${seq}, ${latest}, 0, t.size, t.etag,
            t.content_type, t.headers, t.user_meta, t.checksums, t.manifest, t.part_sizes, CAST(? AS BIGINT), t.tags, t.acl, NULL, NULL, 0
          FROM s CROSS JOIN (SELECT * FROM object_versions WHERE id = ?) t`,
        [timelineId, now, template.id],
      );
      const bytes = m * template.size;
      // (history: the key had a latest version of the template's size already, so the live counts stay)
      const newLatest = mode === 'history' ? 0 : m;
      const newLatestBytes = mode === 'history' ? 0 : bytes;
      await db.run(
        `UPDATE bucket_state SET last_seq = last_seq + ?, object_count = object_count + ?, byte_count = byte_count + ?,
          version_count = version_count + ?, version_bytes = version_bytes + ? WHERE bucket_id = ?`,
        [m, newLatest, newLatestBytes, m, bytes, timelineId],
      );
      for (const [hash] of JSON.parse(template.manifest) as Array<[string, number]>) {
        await db.run('UPDATE blobs SET ref_count = ref_count + ? WHERE tenant_id = ? AND hash = ?', [m, template.tenant_id, hash]);
      }
    });
  }
}

interface CommitRow {
  id: string;
  generation: number;
}

/** A commit of the timeline's present (its next seq), as commitOn makes it; moves the branch's head. */
async function commitOffline(db: SeedDb, bucketId: string, timelineId: string, message: string): Promise<{ id: string; seq: number }> {
  const heads = await db.all<{ head_commit: string | null }>('SELECT head_commit FROM branches WHERE timeline_id = ?', [timelineId]);
  if (heads.length !== 1) throw new Error(`no branch row for timeline ${timelineId}`);
  const head = heads[0].head_commit;
  const parents = head
    ? await db.all<CommitRow>('SELECT id, generation FROM commits WHERE bucket_id = ? AND id = ?', [bucketId, head])
    : [];
  await db.run('UPDATE bucket_state SET last_seq = last_seq + 1 WHERE bucket_id = ?', [timelineId]);
  const seq = await lastSeq(db, timelineId);
  const id = crypto.randomBytes(6).toString('hex');
  await db.run(
    `INSERT INTO commits (bucket_id, id, timeline_id, seq, generation, parents, author, message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      bucketId,
      id,
      timelineId,
      seq,
      1 + Math.max(0, ...parents.map((p) => Number(p.generation))),
      JSON.stringify(parents.map((p) => p.id)),
      'bench',
      message,
      Date.now(),
    ],
  );
  await db.run('UPDATE branches SET head_commit = ? WHERE timeline_id = ?', [id, timelineId]);
  return { id, seq };
}

/**
 * A branch `name` of the bucket forked from the parent timeline's present,
 * written as BranchService.create writes it (the parent committed first
 * unless its head commit is its present), without queueing a flatten.
 * Returns the new timeline id.
 */
export async function forkOffline(db: SeedDb, bucketId: string, parentTimeline: string, name: string): Promise<string> {
  return db.tx(async () => {
    await db.run(
      `INSERT INTO branches (bucket_id, name, timeline_id, parent_id, fork_seq, depth, flattened, head_commit, created_at, created_by)
        VALUES (?, 'main', ?, NULL, NULL, 0, 0, NULL, ?, '') ON CONFLICT DO NOTHING`,
      [bucketId, bucketId, Date.now()],
    );
    const parentRows = await db.all<{ head_commit: string | null }>('SELECT head_commit FROM branches WHERE timeline_id = ?', [
      parentTimeline,
    ]);
    const last = await lastSeq(db, parentTimeline);
    const headRows = parentRows[0]?.head_commit
      ? await db.all<{ id: string; seq: number; timeline_id: string }>(
          'SELECT id, seq, timeline_id FROM commits WHERE bucket_id = ? AND id = ?',
          [bucketId, parentRows[0].head_commit],
        )
      : [];
    const h = headRows[0];
    const point =
      h && (h.timeline_id === parentTimeline ? Number(h.seq) === last : last === 0)
        ? { id: h.id, seq: Number(h.seq), timeline: h.timeline_id }
        : { ...(await commitOffline(db, bucketId, parentTimeline, `branch ${name} (bench)`)), timeline: parentTimeline };
    const parentLevels = await db.all<{ ancestor_id: string; ceiling: number | null }>(
      'SELECT ancestor_id, ceiling FROM branch_levels WHERE timeline_id = ? ORDER BY level',
      [point.timeline],
    );
    const depth = Math.max(1, parentLevels.length); // readLevelsOf of an unflattened parent: all its levels
    const timelineId = `${bucketId}.${crypto.randomBytes(6).toString('hex')}`;
    await db.run(
      `INSERT INTO branches (bucket_id, name, timeline_id, parent_id, fork_seq, depth, flattened, head_commit, created_at, created_by)
        VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, 'bench')`,
      [bucketId, name, timelineId, point.timeline, point.seq, depth, point.id, Date.now()],
    );
    const levels: Array<[string, number | null]> = [
      [timelineId, null],
      [point.timeline, point.seq],
      ...parentLevels.slice(1).map((l): [string, number | null] => [l.ancestor_id, l.ceiling === null ? null : Number(l.ceiling)]),
    ];
    for (const [i, [ancestor, ceiling]] of levels.entries()) {
      await db.run('INSERT INTO branch_levels (timeline_id, level, ancestor_id, ceiling) VALUES (?, ?, ?, ?)', [
        timelineId,
        i,
        ancestor,
        ceiling,
      ]);
    }
    await db.run(
      'INSERT INTO bucket_state (bucket_id, tenant_id, last_seq, object_count, byte_count) SELECT ?, tenant_id, 0, 0, 0 FROM bucket_state WHERE bucket_id = ?',
      [timelineId, bucketId],
    );
    return timelineId;
  });
}
