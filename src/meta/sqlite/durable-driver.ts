/**
 * Kysely's SQLite dialect over one better-sqlite3 connection, with durable
 * writes (WalSync) and per-transaction locking of the connection.
 */
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';

import type { Checkpointer } from './checkpointer.js';
import type { WalSync } from './wal-sync.js';

/** A COMMIT that does not wait for the group fsync (TransactionOptions.lazy). */
export const LAZY_COMMIT_SQL = 'COMMIT /* lazy */';

/**
 * Kysely's SQLite driver, with two changes: results of writes wait for
 * durability (see openSqlite), and the single connection is not locked per
 * statement but per transaction. A statement outside a transaction runs
 * synchronously, so it needs no lock; while one session has a transaction
 * open (its BEGIN ... COMMIT spans awaits), other sessions' statements wait
 * until it ends. Nothing holds the connection while waiting for an fsync.
 * Prepared statements are cached by SQL text (the query shapes are few).
 */
export class DurableSqliteDriver implements Driver {
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

/** The dialect of one connection; onDriver learns the driver Kysely creates (walSyncCount reads it). */
export class DurableSqliteDialect implements Dialect {
  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly wal: WalSync | undefined,
    private readonly checkpointer: Checkpointer | undefined,
    private readonly onDriver?: (driver: DurableSqliteDriver) => void,
  ) {}

  createDriver(): Driver {
    const driver = new DurableSqliteDriver(this.db, this.wal, this.checkpointer);
    this.onDriver?.(driver);
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
