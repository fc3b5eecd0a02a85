/**
 * The web console's static files (built by `npm run build` from console/ into
 * dist/console/), served under /-/console/. No bucket can be named "-", so the
 * prefix never shadows S3. The console is a client of the public admin and S3
 * APIs like any other: this handler only hands out files.
 *
 * Files are read once at start and kept in memory with their gzip and brotli
 * forms (the whole console is a few hundred KB). Hashed assets are immutable;
 * index.html is revalidated on every load, so a new build is picked up at
 * once. Every answer carries a strict Content-Security-Policy: scripts and
 * styles only from files here, requests only to this origin, no framing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import type { Logger } from 'pino';

import type { MountedHandler } from './server.js';

export const CONSOLE_PREFIX = '/-/console/';

/** dist/console beside this file's folder: the same relative path from src/http/ (tests) and dist/http/ (built). */
export const DEFAULT_CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/console');

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface StaticFile {
  type: string;
  etag: string;
  cacheControl: string;
  raw: Buffer;
  gzip?: Buffer;
  br?: Buffer;
}

/** Every file of a built console, by its path under the prefix ('' is index.html). */
export function loadConsoleFiles(dir: string): Map<string, StaticFile> | null {
  if (!fs.existsSync(path.join(dir, 'index.html'))) return null;
  const files = new Map<string, StaticFile>();
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const full = path.join(dir, rel);
    if (!fs.statSync(full).isFile()) continue;
    const name = rel.split(path.sep).join('/');
    const raw = fs.readFileSync(full);
    const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
    const compressible = /^(text\/|image\/svg|application\/json)/.test(type) && raw.length > 1024;
    files.set(name, {
      type,
      raw,
      etag: `"${crypto.createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
      // Vite names built assets by their content hash: they never change under one name.
      cacheControl: name.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      gzip: compressible ? zlib.gzipSync(raw, { level: 9 }) : undefined,
      br: compressible ? zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }) : undefined,
    });
  }
  files.set('', files.get('index.html')!);
  return files;
}

function send(res: http.ServerResponse, status: number, headers: Record<string, string | number>, body?: Buffer | string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers });
  res.end(body);
}

export function createConsoleHandler(opts: { dir?: string; log: Logger }): MountedHandler {
  const dir = opts.dir ?? DEFAULT_CONSOLE_DIR;
  const files = loadConsoleFiles(dir);
  if (!files) opts.log.warn({ dir }, 'the web console is not built (run `npm run build`); /-/console/ answers 503');

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!req.complete) req.resume();
    const rawPath = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, 'Method Not Allowed\n');
      return;
    }
    if (rawPath === CONSOLE_PREFIX.slice(0, -1)) {
      send(res, 308, { Location: CONSOLE_PREFIX, 'Content-Length': 0 });
      return;
    }
    if (!files) {
      send(
        res,
        503,
        { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
        'The console is not built: run `npm run build`.\n',
      );
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(rawPath.slice(CONSOLE_PREFIX.length));
    } catch {
      name = '\0';
    }
    const file = files.get(name);
    if (!file) {
      send(res, 404, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }, 'Not Found\n');
      return;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': file.type,
      'Cache-Control': file.cacheControl,
      ETag: file.etag,
      Vary: 'Accept-Encoding',
    };
    if (req.headers['if-none-match'] === file.etag) {
      send(res, 304, headers);
      return;
    }
    const accept = String(req.headers['accept-encoding'] ?? '');
    let body = file.raw;
    if (file.br && /\bbr\b/.test(accept)) [body, headers['Content-Encoding']] = [file.br, 'br'];
    else if (file.gzip && /\bgzip\b/.test(accept)) [body, headers['Content-Encoding']] = [file.gzip, 'gzip'];
    headers['Content-Length'] = body.length;
    send(res, 200, headers, req.method === 'HEAD' ? undefined : body);
  }

  return { prefix: CONSOLE_PREFIX, handle };
}
