/**
 * Graceful drain of the HTTP server at shutdown (README § Operations ›
 * Shutdown). Every request is tracked from its headers until its answer is
 * closed and its handler has returned. drain():
 *
 *   1. stops accepting connections (server.close) and closes the idle
 *      keep-alive ones; every answer from now on carries Connection: close,
 *      so a client's kept-alive socket is closed after the request it is in
 *      (requests that still arrive on one are served, then the socket goes);
 *   2. waits for the requests in flight, up to the timeout or until `cut`
 *      aborts (a second SIGTERM);
 *   3. cuts what remains (closeAllConnections), then gives the cut
 *      requests' handlers a moment to notice and unwind, so that what is
 *      closed after the drain (backends, databases) is not pulled from under
 *      a handler still running.
 */
import type http from 'node:http';

import type { Logger } from 'pino';

/** How long handlers of cut requests get to unwind before shutdown goes on without them. */
const SETTLE_MS = 2000;

export interface DrainReport {
  /** Requests in flight when the drain started. */
  inflightAtStart: number;
  /** Requests whose answers were cut off (not finished in time). */
  cut: number;
  /** Handlers still running when the drain gave up on them. */
  unsettled: number;
}

interface Tracked {
  /** The answer is closed (sent, or its connection gone). */
  closed: boolean;
  /** The handler returned. */
  handled: boolean;
}

export class Drainer {
  private readonly requests = new Map<http.ServerResponse, Tracked>();
  private readonly waiters = new Set<() => void>();
  private draining = false;

  constructor(private readonly log?: Logger) {}

  /** Requests in flight now (answer not closed, or handler not returned). */
  get inflight(): number {
    return this.requests.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Counts a request in until its answer is closed and `handled` settled. */
  track(res: http.ServerResponse, handled: Promise<unknown>): void {
    const t: Tracked = { closed: false, handled: false };
    this.requests.set(res, t);
    if (this.draining) closeAfter(res);
    const settle = (key: keyof Tracked) => {
      t[key] = true;
      if (!t.closed || !t.handled) return;
      this.requests.delete(res);
      for (const wake of this.waiters) wake();
    };
    res.once('close', () => settle('closed'));
    handled.then(
      () => settle('handled'),
      () => settle('handled'),
    );
  }

  /** Drains `server` (see the module comment); resolves once it is closed. */
  async drain(server: http.Server, timeoutMs: number, cut?: AbortSignal): Promise<DrainReport> {
    this.draining = true;
    const inflightAtStart = this.requests.size;
    for (const res of this.requests.keys()) closeAfter(res);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // An answer finished on a kept-alive socket whose headers were already out leaves it idle: close it too.
    const closeIdle = () => server.closeIdleConnections();
    this.waiters.add(closeIdle);
    try {
      await this.idle(timeoutMs, cut);
      const open = [...this.requests.values()].filter((t) => !t.closed).length;
      if (open > 0) {
        this.log?.warn({ cut: open, timeoutMs }, `shutdown: cutting ${open} request(s) still in flight`);
        server.closeAllConnections();
      }
      if (this.requests.size > 0) await this.idle(SETTLE_MS);
      const unsettled = this.requests.size;
      if (unsettled > 0) this.log?.warn({ unsettled }, 'shutdown: request handler(s) still running after the cut; going on without them');
      server.closeAllConnections();
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), SETTLE_MS)));
      if ((await Promise.race([closed, stuck])) === 'stuck')
        this.log?.warn('shutdown: the server did not report all connections closed; going on');
      clearTimeout(timer);
      return { inflightAtStart, cut: open, unsettled };
    } finally {
      this.waiters.delete(closeIdle);
    }
  }

  /** Resolves when no request is in flight, after timeoutMs, or when `cut` aborts, whichever comes first. */
  private idle(timeoutMs: number, cut?: AbortSignal): Promise<void> {
    if (this.requests.size === 0 || timeoutMs <= 0 || cut?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        cut?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => {
        if (this.requests.size === 0) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(check);
      cut?.addEventListener('abort', done);
    });
  }
}

/** Asks the client to close its connection after this answer (when the answer has not started yet). */
function closeAfter(res: http.ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}
