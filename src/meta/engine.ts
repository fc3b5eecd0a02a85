/**
 * Opens the metadata databases through Kysely: better-sqlite3 for `sqlite:`
 * URLs (the embedded default) and pg for `postgres://` URLs. Everything above
 * this module is engine-agnostic; the few engine differences (transaction
 * start, key collation) live here and in the migrations.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  type Transaction,
} from 'kysely';
import type { ControlSchema, DataSchema } from './schema.js';

export type EngineKind = 'sqlite' | 'postgres';

// BIGINT (int8) and NUMERIC counts come back from pg as strings; every value
// we store fits a double (sizes up to 2^53), so parse them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));

export interface MetaDatabases {
  kind: EngineKind;
  control: Kysely<ControlSchema>;
  data: Kysely<DataSchema>;
  close(): Promise<void>;
}

export function parseDatabaseUrl(url: string): { kind: EngineKind; target: string } {
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', target: url.slice('sqlite:'.length) };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', target: url };
  throw new Error(`unsupported database URL (expected sqlite:PATH or postgres://…): ${url}`);
}

/**
 * SQLite durability: WAL with synchronous=NORMAL, and no write resolves
 * before it is durable. NORMAL makes COMMIT append its frames to the -wal
 * file without an fsync; DurableSqliteDriver then holds back the result of
 * every statement that committed a write (an autocommit write, or the COMMIT
 * of a transaction that wrote) until WalSync has fdatasynced the WAL past it.
 * So an acknowledged write survives power loss (invariant 1) exactly as with
 * synchronous=FULL, but one fsync, on the thread pool, covers every commit
 * made while the previous one ran (group commit), and the event loop never
 * waits for the disk. This holds for every module's writes, not only the
 * object paths: they all go through this driver.
 */
function openSqlite(file: string, mustExist: boolean): BetterSqlite3.Database {
  if (file !== ':memory:' && !mustExist) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const conn = new BetterSqlite3(file, { fileMustExist: mustExist });
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = NORMAL');
  conn.pragma('busy_timeout = 10000');
  conn.pragma('foreign_keys = ON');
  // Checkpoints run on a worker thread (Checkpointer); the connection itself only checkpoints
  // if that one falls far behind, so the WAL stays bounded either way.
  if (file !== ':memory:') conn.pragma(`wal_autocheckpoint = ${CHECKPOINT_FALLBACK_PAGES}`);
  return conn;
}

/** The background checkpointer runs at most this often, and only after commits. */
const CHECKPOINT_INTERVAL_MS = 250;
/**
 * WAL size (pages) past which the serving connection checkpoints itself: the
 * checkpointer stopped, or under unbroken writes never caught up with the
 * last frame (only then can the WAL restart from its beginning).
 */
const CHECKPOINT_FALLBACK_PAGES = 10_000;

const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
let timer;
let last = 0;
function tick() {
  timer = undefined;
  last = Date.now();
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}
parentPort.on('message', (m) => {
  if (m === 'close') { if (timer) clearTimeout(timer); db.close(); process.exit(0); }
  else if (!timer) timer = setTimeout(tick, Math.max(0, last + workerData.interval - Date.now()));
});
`;

/**
 * Copies WAL frames into the database file from a worker thread with its own
 * connection, so the serving thread never does a checkpoint's writes and
 * fsyncs (with synchronous=NORMAL a checkpoint syncs the WAL, then the
 * database file; see WalSync). PASSIVE checkpoints never block writers. Told
 * of commits by the driver, it checkpoints at most every 250 ms.
 */
class Checkpointer {
  private worker: Worker | undefined;
  private stopped = false;

  constructor(private readonly file: string) {}

  /** A write was committed. */
  poke(): void {
    if (this.stopped) return;
    if (!this.worker) {
      const req = createRequire(import.meta.url);
      this.worker = new Worker(CHECKPOINTER_SOURCE, {
        eval: true,
        workerData: { driver: req.resolve('better-sqlite3'), file: this.file, interval: CHECKPOINT_INTERVAL_MS },
      });
      this.worker.unref();
      // Checkpoints are an optimisation: without them the serving connection checkpoints itself.
      this.worker.on('error', () => undefined);
      this.worker.on('exit', () => (this.worker = undefined));
    }
    this.worker.postMessage('poke');
  }

  async close(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    if (!w) return;
    const exited = new Promise((resolve) => w.once('exit', resolve));
    // Referenced while closing: otherwise a process with nothing else to do would exit here
    // with this promise (and whatever awaits it, such as a CLI's error path) never settled.
    w.ref();
    w.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    await w.terminate();
  }
}

/**
 * The group fsync of one SQLite file's WAL. Why a commit covered by it is as
 * durable as a synchronous=FULL commit:
 *
 * - FULL differs from NORMAL in WAL mode by one thing: at COMMIT it syncs
 *   the -wal file (sqlite3WalFrames: WAL_SYNC_FLAGS). We sync the same file
 *   (fsync acts on the inode, whichever descriptor), later but before the
 *   write is acknowledged. SQLite writes frames with pwrite (never mmap), so
 *   a sync that starts after COMMIT returned covers them; fdatasync also
 *   flushes the file size when the WAL grew. (better-sqlite3 is built
 *   without HAVE_FDATASYNC, so SQLite itself calls fsync; fdatasync suffices
 *   for data plus size.)
 * - WAL recovery replays the longest valid prefix of frames (salted, chained
 *   checksums), so durable state is always a prefix of the commit order: a
 *   commit covered by a sync implies every earlier commit is too.
 * - Checkpoints under NORMAL still sync: the WAL before its frames are
 *   copied, then the database file before nBackfill advances
 *   (CKPT_SYNC_FLAGS). The WAL is restarted (rewritten from offset 0 with new
 *   salts) only once every frame was backfilled into the synced database
 *   file, and the new header is synced before frames follow it. So frames
 *   overwritten by a restart are already durable in the database file, and
 *   PRAGMA wal_checkpoint(TRUNCATE) (truncates, same inode) loses nothing.
 * - Same inode: SQLite deletes the -wal file only when the last connection
 *   closes (after checkpointing into the synced database file); ours stays
 *   open until close(), so the file we opened is the one SQLite appends to.
 *   Before each sync we check that it was not unlinked (nlink) and reopen
 *   the path if it ever were.
 * - The WAL's directory entry: SQLite fsyncs the directory on the first sync
 *   of a newly created WAL (UNIXFILE_DIRSYNC; under NORMAL that is the WAL
 *   header sync); we also fsync the directory once when we open the WAL.
 * - A failed fdatasync poisons the barrier: the kernel may have dropped the
 *   dirty pages, and a later sync could "succeed" without them, so no later
 *   write is acknowledged either (as PostgreSQL panics); a restart recovers
 *   from what is on disk.
 *
 * Coalescing: one fdatasync covers every commit that returned before it
 * started; callers arriving while one runs wait for the next, which starts
 * when the running one ends (a burst of N commits costs two fsyncs, not N).
 *
 * Visibility: a commit is visible to readers as soon as it returns, up to
 * one group fsync before its writer is told it is durable (as with early
 * lock release in other group-commit engines). Every write made after
 * reading it commits later, so it is durable only if the read state is; a
 * write that was never acknowledged may, after a power failure, be gone
 * although a reader saw it.
 */
class WalSync {
  private fd: number | undefined;
  private inFlight: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  private poisoned: Error | undefined;
  /** fdatasyncs done (tests check the coalescing). */
  syncs = 0;

  constructor(private readonly walPath: string) {}

  /** Resolves once every commit that returned before this call is durable. */
  durable(): Promise<void> {
    if (this.poisoned) return Promise.reject(this.poisoned);
    if (this.pending) return this.pending;
    if (!this.inFlight) return this.start();
    this.pending = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.pending = undefined;
        return this.poisoned ? Promise.reject(this.poisoned) : this.start();
      });
    return this.pending;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.syncOnce().then(
      () => {
        if (this.inFlight === run) this.inFlight = undefined;
      },
      (err: Error) => {
        this.poisoned = new Error(`fdatasync of ${this.walPath} failed; no further writes are acknowledged: ${err.message}`);
        if (this.inFlight === run) this.inFlight = undefined;
        throw this.poisoned;
      },
    );
    this.inFlight = run;
    return run;
  }

  private async syncOnce(): Promise<void> {
    if (this.fd !== undefined && fs.fstatSync(this.fd).nlink === 0) {
      // Never expected (see "Same inode"): sync whatever file the path names now.
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
    if (this.fd === undefined) {
      // A commit has happened (that is why we sync), so the -wal file exists.
      this.fd = fs.openSync(this.walPath, 'r');
      await fsyncPath(path.dirname(this.walPath));
    }
    this.syncs++;
    await fdatasync(this.fd);
  }

  async close(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    await this.pending?.catch(() => undefined);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

const fdatasync = promisify(fs.fdatasync);

async function fsyncPath(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A COMMIT that does not wait for the group fsync (TransactionOptions.lazy). */
const LAZY_COMMIT_SQL = 'COMMIT /* lazy */';

/**
 * Kysely's SQLite driver, with two changes: results of writes wait for
 * durability (see openSqlite), and the single connection is not locked per
 * statement but per transaction. A statement outside a transaction runs
 * synchronously, so it needs no lock; while one session has a transaction
 * open (its BEGIN ... COMMIT spans awaits), other sessions' statements wait
 * until it ends. Nothing holds the connection while waiting for an fsync.
 * Prepared statements are cached by SQL text (the query shapes are few).
 */
class DurableSqliteDriver implements Driver {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  /** The session whose transaction is open, and a promise settled when it ends. */
  private owner: SqliteSession | undefined;
  private ownerDone: Promise<void> = Promise.resolve();
  private endOwner: () => void = () => undefined;
  /** Whether the open transaction wrote anything. */
  private wrote = false;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly wal: WalSync | undefined,
    private readonly checkpointer: Checkpointer | undefined,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new SqliteSession(this);
  }

  async beginTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(conn: DatabaseConnection): Promise<void> {
    // A session must not leave its transaction open (withTransaction always ends it).
    if (this.owner === conn && this.db.inTransaction) {
      this.db.exec('ROLLBACK');
      this.release();
    }
  }

  async destroy(): Promise<void> {
    await this.checkpointer?.close();
    this.db.close();
  }

  private prepare(text: string): BetterSqlite3.Statement {
    let stmt = this.statements.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text);
      if (this.statements.size > 2000) this.statements.clear();
      this.statements.set(text, stmt);
    }
    return stmt;
  }

  private release(): void {
    this.owner = undefined;
    this.endOwner();
  }

  async execute(session: SqliteSession, q: CompiledQuery): Promise<QueryResult<unknown>> {
    while (this.owner && this.owner !== session) await this.ownerDone;
    const stmt = this.prepare(q.sql);
    const before = this.db.inTransaction;
    let result: QueryResult<unknown>;
    try {
      if (stmt.reader) result = { rows: stmt.all(q.parameters as unknown[]) };
      else {
        const { changes, lastInsertRowid } = stmt.run(q.parameters as unknown[]);
        result = { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
      }
    } catch (err) {
      // Some errors end the transaction (SQLite rolls back by itself): let the others in.
      if (before && !this.db.inTransaction && this.owner === session) this.release();
      throw err;
    }
    const after = this.db.inTransaction;
    if (!before && after) {
      // BEGIN (IMMEDIATE counts as a write to SQLite, but writes nothing).
      this.owner = session;
      this.wrote = false;
      this.ownerDone = new Promise((resolve) => (this.endOwner = resolve));
    } else if (after && !stmt.readonly) this.wrote = true;
    // (A COMMIT counts as read-only: it is known by the end of the transaction.)
    let committed = !before && !after && !stmt.readonly; // an autocommit write
    if (before && !after) {
      committed = this.wrote && !/^\s*rollback/i.test(q.sql);
      this.release();
    }
    if (committed) this.checkpointer?.poke();
    if (committed && this.wal && q.sql !== LAZY_COMMIT_SQL) await this.wal.durable();
    return result;
  }

  async *stream(q: CompiledQuery): AsyncIterableIterator<QueryResult<unknown>> {
    if (!SelectQueryNode.is(q.query)) throw new Error('Sqlite driver only supports streaming of select queries');
    for (const row of this.prepare(q.sql).iterate(q.parameters as unknown[])) yield { rows: [row] };
  }

  /** For tests: the group fsyncs done so far. */
  get syncs(): number {
    return this.wal?.syncs ?? 0;
  }
}

class SqliteSession implements DatabaseConnection {
  constructor(private readonly driver: DurableSqliteDriver) {}

  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute(this, q) as Promise<QueryResult<R>>;
  }

  streamQuery<R>(q: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    return this.driver.stream(q) as AsyncIterableIterator<QueryResult<R>>;
  }
}

class DurableSqliteDialect implements Dialect {
  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly wal: WalSync | undefined,
    private readonly checkpointer: Checkpointer | undefined,
  ) {}

  createDriver(): Driver {
    const driver = new DurableSqliteDriver(this.db, this.wal, this.checkpointer);
    drivers.set(this.db, driver);
    return driver;
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createAdapter() {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db);
  }
}

const drivers = new WeakMap<BetterSqlite3.Database, DurableSqliteDriver>();
const kyselyDrivers = new WeakMap<object, DurableSqliteDriver>();

export function openMetaDatabases(
  url: string,
  /** mustExist: never create a SQLite file (`anvil admin` opens only an existing deployment). */
  opts: { poolSize?: number; onIdleError?: (err: Error) => void; mustExist?: boolean } = {},
): MetaDatabases {
  const { kind, target } = parseDatabaseUrl(url);
  if (kind === 'sqlite') {
    // Global and regional schemas share one file (and one connection) in
    // embedded mode; the code above never relies on that.
    const conn = openSqlite(target, opts.mustExist ?? false);
    const onDisk = target !== ':memory:' && target !== '';
    const wal = onDisk ? new WalSync(`${path.resolve(target)}-wal`) : undefined;
    const checkpointer = onDisk ? new Checkpointer(path.resolve(target)) : undefined;
    const db = new Kysely<ControlSchema & DataSchema>({ dialect: new DurableSqliteDialect(conn, wal, checkpointer) });
    const driver = drivers.get(conn);
    if (driver) kyselyDrivers.set(db, driver);
    return {
      kind,
      control: db as unknown as Kysely<ControlSchema>,
      data: db as unknown as Kysely<DataSchema>,
      close: async () => {
        await db.destroy();
        await wal?.close();
      },
    };
  }
  const pool = new pg.Pool({ connectionString: target, max: opts.poolSize ?? 20 });
  // An idle connection dropped by the server (restart, failover) must not
  // crash the process; the pool replaces it on next use.
  pool.on('error', (err) => opts.onIdleError?.(err));
  const db = new Kysely<ControlSchema & DataSchema>({ dialect: new PostgresDialect({ pool: withPreparedStatements(pool) }) });
  return {
    kind,
    control: db as unknown as Kysely<ControlSchema>,
    data: db as unknown as Kysely<DataSchema>,
    close: () => db.destroy(),
  };
}

/**
 * The flags of the partial index on latest versions, as SQL literals: bound as
 * parameters, SQLite (built with STAT4) cannot prove at prepare time that the
 * partial index applies and re-prepares the statement on every execution
 * (about 3x the cost of the lookup itself).
 */
export const LATEST = sql.lit(1);
export const NOT_DELETED = sql.lit(0);

export interface TransactionOptions {
  /**
   * Commit without waiting for the group fsync: for bookkeeping whose loss
   * in a power failure is harmless (a lease, a finished queue entry). It
   * becomes durable with the next fsync or checkpoint, and since durable
   * state is a prefix of the commit order, never after a later commit that
   * was waited for. Every other commit resolves only once durable. (On
   * PostgreSQL every commit is synchronous; the server groups its flushes.)
   */
  lazy?: boolean;
}

/** For bookkeeping nothing is acknowledged on (see TransactionOptions). */
export const LAZY_COMMIT: TransactionOptions = { lazy: true };

/**
 * Starts a query that must be planned with its parameters each time (see
 * withPreparedStatements): one whose best plan depends on their values.
 */
export const UNPREPARED = '/* unprepared */';

/**
 * PostgreSQL: every query with parameters runs as a named prepared statement
 * (named by its SQL text), so each connection parses and plans a query shape
 * once instead of on every execution. The shapes are few and fixed; the
 * partial-index flags are literals in the SQL (LATEST), so generic plans can
 * use the partial indexes. Queries starting with UNPREPARED are planned with
 * their values every time (the listing walk: a generic plan of its recursive
 * query walked whole buckets). A statement whose cached plan no longer fits (a
 * migration changed a table under a running server: SQLSTATE 0A000) runs
 * unprepared on that connection from then on. (Not for PgBouncer in
 * transaction mode, which does not keep prepared statements per client.)
 */
function withPreparedStatements(pool: pg.Pool): { connect(): Promise<pg.PoolClient>; end(): Promise<void> } {
  const names = new Map<string, string>();
  const nameOf = (text: string): string => {
    let name = names.get(text);
    if (!name) {
      name = `a${crypto.createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
  const wrapped = new WeakSet<pg.PoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      if (wrapped.has(client)) return client;
      wrapped.add(client);
      const plain = client.query.bind(client) as (q: unknown, v?: unknown[]) => Promise<pg.QueryResult>;
      const unprepared = new Set<string>();
      client.query = (async (text: unknown, values?: unknown[]) => {
        if (
          typeof text !== 'string' ||
          !Array.isArray(values) ||
          values.length === 0 ||
          unprepared.has(text) ||
          text.startsWith(UNPREPARED)
        ) {
          return plain(text, values);
        }
        try {
          return await plain({ name: nameOf(text), text, values });
        } catch (err) {
          if ((err as { code?: string }).code !== '0A000') throw err;
          unprepared.add(text);
          return plain(text, values);
        }
      }) as typeof client.query;
      return client;
    },
    end: () => pool.end(),
  };
}

/**
 * Runs one statement (or a few that need no atomicity on PostgreSQL) with the
 * given options: on PostgreSQL as it is (autocommit, no BEGIN/COMMIT round
 * trips); on SQLite in a transaction, so that a lazy commit applies.
 */
export async function commitWith<S, T>(
  kind: EngineKind,
  db: Kysely<S>,
  fn: (trx: Kysely<S> | Transaction<S>) => Promise<T>,
  opts: TransactionOptions,
): Promise<T> {
  return kind === 'postgres' ? fn(db) : withTransaction(kind, db, fn, opts);
}

/**
 * Runs fn in one transaction. On SQLite it is BEGIN IMMEDIATE: the write lock
 * is taken up front, so two processes on one file (server + `anvil admin`)
 * wait on the busy timeout instead of failing a read-to-write upgrade.
 * Never await network or disk I/O inside fn (see DESIGN.md pitfalls).
 */
export async function withTransaction<S, T>(
  kind: EngineKind,
  db: Kysely<S>,
  fn: (trx: Kysely<S> | Transaction<S>) => Promise<T>,
  opts: TransactionOptions = {},
): Promise<T> {
  if (kind === 'postgres') {
    // Deadlocks and serialization failures are safe to retry: transactions do no I/O.
    for (let attempt = 0; ; attempt++) {
      try {
        return await db.transaction().execute(fn);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < 4) continue;
        throw err;
      }
    }
  }
  return db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      const result = await fn(conn);
      // Resolves once the commit is durable (DurableSqliteDriver), unless lazy.
      await conn.executeQuery(CompiledQuery.raw(opts.lazy ? LAZY_COMMIT_SQL : 'COMMIT'));
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}

/** For tests: group fsyncs of the WAL done so far by this database handle (SQLite). */
export function walSyncCount(meta: MetaDatabases): number {
  if (meta.kind !== 'sqlite') return 0;
  return kyselyDrivers.get(meta.data)?.syncs ?? 0;
}
