/**
 * Encryption at rest: the framed blob format (framed.ts), master-wrapped data
 * keys (keys.ts) and SSE-C customer keys (sse-c.ts). Self-contained: nothing
 * here touches the object path, the database or the HTTP layer.
 */
export * from './framed.js';
export * from './keys.js';
export * from './sse-c.js';
