/**
 * Pure placement logic: which backends take a new blob, and in which order
 * to try a blob's replicas on read. No I/O: the caller passes a snapshot of
 * each backend's state (quota and usage from the metadata, health from the
 * last check, breaker state) in the order the config declares them.
 *
 * Writes: `pack` fills backends in declared order (the first ones that fit);
 * `spread` picks the lowest fill ratio after placing the blob, ties broken
 * by declared order. Either way `factor` distinct backends, or an
 * InsufficientStorage result (the S3 layer's 507) saying why each backend
 * was passed over. Replication is all or nothing: fewer eligible backends
 * than the factor fails the write rather than silently under-replicating.
 */
import type { BreakerState } from './breaker.js';

export type PlacementStrategy = 'pack' | 'spread';

export interface MonthlyCounters {
  requests: number;
  ingressBytes: number;
  egressBytes: number;
}

export interface BackendState {
  name: string;
  quotaBytes: number;
  usedBytes: number;
  maxObjectSize?: number;
  /** Monthly limits; an absent field is unlimited. */
  monthlyLimits?: Partial<MonthlyCounters>;
  /** This month's usage so far. */
  monthlyUsage?: MonthlyCounters;
  /** Last health check passed (absent = unknown, treated as healthy). */
  healthy?: boolean;
  breaker?: BreakerState;
  /** Takes no new blobs (being drained or marked read-only). */
  draining?: boolean;
}

export type SkipReason =
  | 'excluded' // already holds a replica of this blob, or the caller ruled it out
  | 'draining'
  | 'unhealthy'
  | 'breaker-open'
  | 'too-large' // blob larger than the backend's max_object_size
  | 'quota' // used + blob > quota
  | 'monthly-requests'
  | 'monthly-ingress'
  | 'monthly-egress';

export interface Skipped {
  name: string;
  reason: SkipReason;
  detail: string;
}

export interface PlacementRequest {
  size: number;
  factor: number;
  strategy: PlacementStrategy;
  /** Backends that must not be chosen (e.g. those already holding the blob, when repairing). */
  exclude?: readonly string[];
  /** Requests a put of this size costs on a backend (multipart: create + parts + complete). Default 1. */
  requestsPerPut?: (backend: BackendState) => number;
}

export type PlacementResult =
  | { ok: true; backends: string[]; skipped: Skipped[] }
  | {
      ok: false;
      code: 'InsufficientStorage';
      message: string;
      /** The eligible backends there were (fewer than the factor). */
      eligible: string[];
      skipped: Skipped[];
    };

function whyNotWritable(b: BackendState, req: PlacementRequest): Skipped | undefined {
  const skip = (reason: SkipReason, detail: string): Skipped => ({ name: b.name, reason, detail });
  if (req.exclude?.includes(b.name)) return skip('excluded', 'ruled out by the caller');
  if (b.draining) return skip('draining', 'takes no new blobs');
  if (b.breaker === 'open') return skip('breaker-open', 'circuit breaker open');
  // Half-open lets one probe through; a write is not the place to find out whether it recovered.
  if (b.breaker === 'half-open') return skip('breaker-open', 'circuit breaker half-open (recovering)');
  if (b.healthy === false) return skip('unhealthy', 'last health check failed');
  if (b.maxObjectSize !== undefined && req.size > b.maxObjectSize)
    return skip('too-large', `blob of ${req.size} bytes exceeds max_object_size ${b.maxObjectSize}`);
  if (b.usedBytes + req.size > b.quotaBytes) return skip('quota', `${b.usedBytes} used + ${req.size} > quota ${b.quotaBytes}`);
  const limits = b.monthlyLimits;
  const used = b.monthlyUsage ?? { requests: 0, ingressBytes: 0, egressBytes: 0 };
  if (limits?.requests !== undefined) {
    const cost = req.requestsPerPut?.(b) ?? 1;
    if (used.requests + cost > limits.requests)
      return skip('monthly-requests', `${used.requests} + ${cost} requests > monthly limit ${limits.requests}`);
  }
  if (limits?.ingressBytes !== undefined && used.ingressBytes + req.size > limits.ingressBytes) {
    return skip('monthly-ingress', `${used.ingressBytes} + ${req.size} bytes in > monthly limit ${limits.ingressBytes}`);
  }
  return undefined;
}

/** Chooses `factor` distinct backends for a new blob of `size` bytes. */
export function placeReplicas(backends: readonly BackendState[], req: PlacementRequest): PlacementResult {
  if (!Number.isInteger(req.factor) || req.factor < 1) throw new Error(`replication factor must be a positive integer, got ${req.factor}`);
  if (!Number.isSafeInteger(req.size) || req.size < 0) throw new Error(`blob size must be a non-negative integer, got ${req.size}`);
  const seen = new Set<string>();
  const skipped: Skipped[] = [];
  const eligible: Array<{ b: BackendState; index: number; fill: number }> = [];
  backends.forEach((b, index) => {
    if (seen.has(b.name)) throw new Error(`backend ${b.name} listed twice`);
    seen.add(b.name);
    const why = whyNotWritable(b, req);
    if (why) skipped.push(why);
    else eligible.push({ b, index, fill: b.quotaBytes > 0 ? (b.usedBytes + req.size) / b.quotaBytes : Infinity });
  });
  if (eligible.length < req.factor) {
    const reasons = skipped.map((s) => `${s.name}: ${s.detail}`).join('; ');
    return {
      ok: false,
      code: 'InsufficientStorage',
      message: `a blob of ${req.size} bytes needs ${req.factor} backend(s), ${eligible.length} can take it${reasons ? ` (${reasons})` : ''}`,
      eligible: eligible.map((e) => e.b.name),
      skipped,
    };
  }
  if (req.strategy === 'spread') eligible.sort((x, y) => x.fill - y.fill || x.index - y.index);
  return { ok: true, backends: eligible.slice(0, req.factor).map((e) => e.b.name), skipped };
}

export interface ReadOrderOptions {
  /** Bytes the read will take out (checked against monthly egress limits). Default 0. */
  bytes?: number;
  /**
   * A replica on a backend past its monthly egress or request limit: skipped
   * (default: a limit is a limit) or tried only after every other replica.
   */
  overLimit?: 'skip' | 'last';
}

/**
 * The order in which to try a blob's replicas: healthy backends with a closed
 * breaker first, then half-open ones (a read may serve as their probe), then
 * closed-breaker backends whose last health check failed (it may be stale);
 * within a tier the replicas keep the order given (the caller's preference,
 * e.g. local before remote). Backends with an open breaker, or unknown to
 * `states` (no longer configured), are skipped.
 */
export function readOrder(
  replicas: readonly string[],
  states: ReadonlyMap<string, BackendState> | readonly BackendState[],
  opts: ReadOrderOptions = {},
): { order: string[]; skipped: Skipped[] } {
  const byName = states instanceof Map ? states : new Map((states as readonly BackendState[]).map((s) => [s.name, s]));
  const bytes = opts.bytes ?? 0;
  const skipped: Skipped[] = [];
  const tiers: string[][] = [[], [], [], []];
  for (const name of new Set(replicas)) {
    const b = byName.get(name);
    if (!b) {
      skipped.push({ name, reason: 'excluded', detail: 'not a configured backend' });
      continue;
    }
    if (b.breaker === 'open') {
      skipped.push({ name, reason: 'breaker-open', detail: 'circuit breaker open' });
      continue;
    }
    const limits = b.monthlyLimits;
    const used = b.monthlyUsage ?? { requests: 0, ingressBytes: 0, egressBytes: 0 };
    let over: Skipped | undefined;
    if (limits?.egressBytes !== undefined && used.egressBytes + bytes > limits.egressBytes) {
      over = { name, reason: 'monthly-egress', detail: `${used.egressBytes} + ${bytes} bytes out > monthly limit ${limits.egressBytes}` };
    } else if (limits?.requests !== undefined && used.requests + 1 > limits.requests) {
      over = { name, reason: 'monthly-requests', detail: `${used.requests} requests reached the monthly limit ${limits.requests}` };
    }
    if (over) {
      if (opts.overLimit === 'last') tiers[3].push(name);
      else skipped.push(over);
      continue;
    }
    if (b.breaker === 'half-open') tiers[1].push(name);
    else if (b.healthy === false) tiers[2].push(name);
    else tiers[0].push(name);
  }
  return { order: tiers.flat(), skipped };
}
