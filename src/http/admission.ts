/**
 * Admission control: a cap on open connections and one on S3 requests in
 * flight, so that one client (or many) cannot exhaust the process's file
 * descriptors or memory. Attached to the HTTP server after it is created.
 *
 * Connections. Past maxConnections a new connection is closed the moment it
 * is accepted (Node's server.maxConnections), before a byte of it is read:
 * refusing it costs nothing, where answering it would need a parser, a
 * buffer and a timer per connection in exactly the situation the cap is
 * for. The request cap below is the polite limit; this one is the wall.
 *
 * Requests. Past maxRequests a request is answered 503 SlowDown (an S3 XML
 * error with Retry-After), which the S3 SDKs retry with backoff. Its body is
 * never read: a request that sent Expect: 100-continue never gets the 100,
 * so its client sends no body; any other request that announced a body has
 * its connection closed after the answer rather than read through. A
 * request counts from its headers to the end of its answer (or its
 * connection).
 *
 * Exempt: `GET /-/metrics`, so the overload can be watched while it
 * happens (a scrape is small, and its rate is the operator's), and the
 * health probes (http/health.ts: cheap and cached), so an overloaded node is
 * not taken for a dead one and restarted. The admin
 * API is not exempt: it is on the same public port, and its login is
 * deliberately expensive (password hashing), so it is the first thing a
 * flood would aim at; `anvil admin` on the server's host works on the
 * database directly, whatever the load.
 *
 * Also here, because it is the same failure seen from the other side: an
 * error accepting a connection (EMFILE: out of descriptors anyway) is
 * logged and the server keeps serving; without a listener it would end the
 * process.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';

import type { Logger } from 'pino';

import { errors } from '../s3/errors.js';
import { isVirtualHostRequest } from '../s3/request.js';
import { sendError } from '../s3/respond.js';

export interface AdmissionLimits {
  /** Open connections at most (0: no cap). */
  maxConnections: number;
  /** Requests in flight at most (0: no cap). */
  maxRequests: number;
}

/** What the metrics read at scrape time (counts since start). */
export interface AdmissionState {
  readonly openConnections: number;
  readonly inflightRequests: number;
  readonly rejectedConnections: number;
  readonly rejectedRequests: number;
}

/** Rejections are logged at most this often (with counts), so a flood does not become a log flood. */
const LOG_EVERY_MS = 10_000;
/** Descriptors kept for everything that is not a client connection (blob files, databases, backends). */
const FD_RESERVE = 256;

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export class Admission implements AdmissionState {
  openConnections = 0;
  inflightRequests = 0;
  rejectedConnections = 0;
  rejectedRequests = 0;
  private loggedAt = 0;
  private logged = { connections: 0, requests: 0 };

  constructor(
    readonly limits: AdmissionLimits,
    private readonly log?: Logger,
    /** Requests let through whatever the load (default: GET /-/metrics). */
    private readonly exempt: (req: http.IncomingMessage) => boolean = isMetricsScrape,
  ) {
    for (const [name, v] of Object.entries(limits)) {
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`admission: ${name} must be a whole number ≥ 0, got ${v}`);
    }
  }

  /**
   * Puts the caps in front of the server: the connection cap on accept, and
   * the request gate in front of every request listener the server has now
   * (they run only for admitted requests).
   */
  attach(server: http.Server): void {
    if (this.limits.maxConnections > 0) {
      server.maxConnections = this.limits.maxConnections;
      const fileLimit = openFileLimit();
      if (fileLimit !== undefined && this.limits.maxConnections + FD_RESERVE > fileLimit) {
        this.log?.warn(
          { maxConnections: this.limits.maxConnections, openFileLimit: fileLimit },
          'max_connections is close to or above the open-file limit: raise the limit (LimitNOFILE) or lower max_connections',
        );
      }
    }
    server.on('drop', () => {
      this.rejectedConnections++;
      this.noteRejection();
    });
    server.on('connection', (socket: import('node:net').Socket) => {
      this.openConnections++;
      socket.once('close', () => this.openConnections--);
    });
    server.once('listening', () => server.on('error', (err) => this.log?.error({ err }, 'accepting a connection failed; still serving')));

    const listeners = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const dispatch: RequestListener = (req, res) => {
      for (const listener of listeners) listener.call(server, req, res);
    };
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (this.admit(req, res)) dispatch(req, res);
    });
    // With this listener Node no longer answers 100 Continue by itself: only an admitted request gets it.
    server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (!this.admit(req, res)) return;
      res.writeContinue();
      dispatch(req, res);
    });
  }

  /** Counts the request in, or answers it 503 SlowDown and returns false. */
  private admit(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (this.exempt(req)) return true;
    const cap = this.limits.maxRequests;
    if (cap > 0 && this.inflightRequests >= cap) {
      this.rejectedRequests++;
      this.noteRejection();
      this.refuse(req, res);
      return false;
    }
    this.inflightRequests++;
    res.once('close', () => this.inflightRequests--);
    return true;
  }

  private refuse(req: http.IncomingMessage, res: http.ServerResponse): void {
    const requestId = crypto.randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('Server', 'Anvil');
    // A body is not read under overload: the connection goes after the answer instead.
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody) res.setHeader('Connection', 'close');
    sendError(
      { req, res, requestId, stats: { op: 'admission', bytesIn: 0, bytesOut: 0 } },
      errors.slowDown(),
      (req.url ?? '/').split('?')[0],
    );
  }

  private noteRejection(): void {
    const now = Date.now();
    if (now - this.loggedAt < LOG_EVERY_MS) return;
    this.log?.warn(
      {
        connectionsRefused: this.rejectedConnections - this.logged.connections,
        requestsRefused: this.rejectedRequests - this.logged.requests,
        openConnections: this.openConnections,
        inflightRequests: this.inflightRequests,
        ...this.limits,
      },
      'admission control is turning clients away (503 SlowDown / closed connections)',
    );
    this.loggedAt = now;
    this.logged = { connections: this.rejectedConnections, requests: this.rejectedRequests };
  }
}

/** A Prometheus scrape of /-/metrics (path-style: on a virtual host of `domain` the path is a key). */
export function isMetricsScrape(req: http.IncomingMessage, domain?: string): boolean {
  return req.method === 'GET' && req.url === '/-/metrics' && (domain === undefined || !isVirtualHostRequest(req, domain));
}

/** The soft limit on open files of this process, where the OS tells (Linux); undefined elsewhere or unlimited. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    // Not Linux (no /proc): the limit is unknown, and the warning about it is skipped.
    return undefined;
  }
}
