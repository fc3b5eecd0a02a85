/** Reading JSON request bodies (bounded) and writing JSON responses for the admin API. */
import type http from 'node:http';

import { type AdminApiError, adminErrors } from './errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads the whole body, refusing more than `limit` bytes (by Content-Length
 * up front, and while reading for chunked bodies).
 */
export async function readBody(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw adminErrors.tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw adminErrors.tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The body as JSON; an empty body reads as `{}` (every body field is then optional or reported missing). */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    throw adminErrors.invalid('the request body is not valid JSON', { path: ['body'] });
  }
  if (hasNul(value)) throw adminErrors.invalid('the request body must not contain NUL characters', { path: ['body'] });
  return value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strings from the body reach the database, and PostgreSQL cannot store NUL: refuse it alike on every engine. */
function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  for (const [k, v] of Object.entries(value)) if (k.includes('\0') || hasNul(v, depth + 1)) return true;
  return false;
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  for (const [name, v] of Object.entries(headers)) res.setHeader(name, v);
  res.setHeader('Cache-Control', 'no-store');
  if (status === 204 || value === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: AdminApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, err.toJSON(), err.headers);
}
