/**
 * Per-backend accounting. backend_usage holds the stored bytes per backend
 * and moves in the transaction that adds or removes a location (quota
 * checked by the UPDATE itself, so concurrent writes cannot overshoot it).
 * Placement works from a snapshot of it refreshed every second; the monthly
 * request and byte counters are gathered in memory and added to
 * backend_monthly by the worker (flushMonthly).
 */
import type { Logger } from 'pino';

import type { BackendUsage } from '../../backends/index.js';
import { fail } from '../../errors.js';
import {
  addMonthly,
  ensureUsageRows,
  insertLocations,
  type MonthlyCounts,
  monthlyRows,
  moveUsage,
  usageRows,
} from '../../meta/blobs/index.js';
import type { DataDb } from '../../meta/handles.js';
import { addMove, type UsageMoves } from '../address.js';

/** How often the placement snapshot of backend_usage is refreshed from the database. */
const USAGE_REFRESH_MS = 1000;

interface Monthly extends MonthlyCounts {
  month: string;
}

export function currentMonth(now = Date.now()): string {
  return new Date(now).toISOString().slice(0, 7);
}

export class Accounting {
  private used = new Map<string, number>();
  private usedAt = 0;
  private monthly = new Map<string, Monthly>();
  private pendingMonthly = new Map<string, Monthly>();

  constructor(
    private readonly db: DataDb,
    /** Each configured backend's quota (undefined: none). */
    private readonly quotaOf: (backend: string) => number | undefined,
    private readonly log?: Logger,
  ) {}

  /** Starts the counters of the configured backends and loads their stored bytes. */
  async load(backends: string[]): Promise<void> {
    await ensureUsageRows(this.db, backends);
    await this.refreshUsage();
  }

  /** Loads this month's totals (replacing what was counted in memory meanwhile; the pending counts stay). */
  async loadMonthly(): Promise<void> {
    const month = currentMonth();
    for (const [backend, m] of await monthlyRows(this.db, month)) this.monthly.set(backend, { month, ...m });
  }

  /** Backends that hold at least one replica (by their counters). */
  async holding(): Promise<Set<string>> {
    return new Set((await usageRows(this.db)).filter((u) => u.blobCount > 0).map((u) => u.backend));
  }

  async refreshUsage(): Promise<void> {
    const rows = await usageRows(this.db);
    this.used = new Map(rows.map((r) => [r.backend, r.storedBytes]));
    this.usedAt = Date.now();
  }

  /** Refreshes the snapshot placement reads when it is older than USAGE_REFRESH_MS. */
  async refreshIfStale(): Promise<void> {
    if (Date.now() - this.usedAt > USAGE_REFRESH_MS) await this.refreshUsage();
  }

  usedBytes(backend: string): number {
    return this.used.get(backend) ?? 0;
  }

  /** This month's counters of a backend, if it has any. */
  monthlyOf(backend: string): Monthly | undefined {
    const m = this.monthly.get(backend);
    return m && m.month === currentMonth() ? m : undefined;
  }

  /**
   * Inside a transaction: moves the stored-bytes counters (and blob counts)
   * of backends. Growth is checked against each quota by the UPDATE itself:
   * a backend that would pass its quota fails the transaction with 507
   * InsufficientStorage. The rows are locked in name order and are the last
   * rows a transaction locks, so two transactions never wait on each other
   * in a cycle through them.
   */
  async account(trx: DataDb, moves: UsageMoves): Promise<void> {
    for (const name of [...moves.keys()].sort()) {
      const { bytes, count } = moves.get(name)!;
      const quota = this.quotaOf(name);
      if (!(await moveUsage(trx, name, bytes, count, quota))) {
        this.log?.warn({ backend: name, bytes, quota }, 'backend quota reached');
        throw fail.insufficientStorage();
      }
      this.used.set(name, (this.used.get(name) ?? 0) + bytes);
    }
  }

  /** Inside a transaction: the location rows of new blobs, then their accounting. */
  async addLocations(trx: DataDb, blobs: Array<{ tenantId: string; hash: string; backends: string[]; bytes: number }>): Promise<void> {
    const rows = blobs.flatMap((b) => b.backends.map((backend) => ({ tenantId: b.tenantId, hash: b.hash, backend })));
    if (rows.length === 0) return;
    await insertLocations(trx, rows);
    const moves: UsageMoves = new Map();
    for (const b of blobs) addMove(moves, b.backends, b.bytes, 1);
    await this.account(trx, moves);
  }

  /** Counts a backend's requests and bytes (the backends' usage sink). */
  count(name: string, u: BackendUsage): void {
    const month = currentMonth();
    for (const map of [this.monthly, this.pendingMonthly]) {
      let m = map.get(name);
      if (!m || m.month !== month) map.set(name, (m = { month, requests: 0, ingressBytes: 0, egressBytes: 0 }));
      m.requests += u.requests;
      m.ingressBytes += u.ingressBytes;
      m.egressBytes += u.egressBytes;
    }
  }

  /**
   * Adds the counts gathered since the last flush to backend_monthly (worker
   * job), then re-reads this month's totals, so the limits placement checks
   * include what the other nodes counted.
   */
  async flushMonthly(): Promise<void> {
    const pending = this.pendingMonthly;
    this.pendingMonthly = new Map();
    for (const [backend, m] of pending) await addMonthly(this.db, backend, m.month, m);
    const month = currentMonth();
    for (const [backend, row] of await monthlyRows(this.db, month)) {
      const unflushed = this.pendingMonthly.get(backend);
      const extra = unflushed && unflushed.month === month ? unflushed : { requests: 0, ingressBytes: 0, egressBytes: 0 };
      this.monthly.set(backend, {
        month,
        requests: row.requests + extra.requests,
        ingressBytes: row.ingressBytes + extra.ingressBytes,
        egressBytes: row.egressBytes + extra.egressBytes,
      });
    }
  }
}
