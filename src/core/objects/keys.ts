/** The rules on object keys and write conditions, and the ids writes and uploads are named by. */
import crypto from 'node:crypto';

import { AnvilError, fail } from '../../errors.js';

export const MAX_KEY_BYTES = 1024;

export function validateKey(key: string): void {
  const invalidKey = (message: string) => fail.invalid('InvalidArgument', message, { ArgumentName: 'key', ArgumentValue: '' });
  if (key.length === 0) throw invalidKey('Key must not be empty');
  // PostgreSQL cannot store NUL in text; refuse it the same way on every engine.
  if (key.includes('\0')) throw invalidKey('Object key must not contain a NUL character');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new AnvilError('Invalid', 'KeyTooLongError', 'Your key is too long');
}

/** Conditional-write predicates (If-Match / If-None-Match: *), checked inside the commit transaction. */
export interface WriteCondition {
  ifMatch?: string;
  ifNoneMatch?: '*';
}

export function checkWriteCondition(key: string, cond: WriteCondition | undefined, current: { etag: string } | undefined): void {
  if (!cond) return;
  if (cond.ifNoneMatch === '*' && current) throw fail.preconditionFailed('If-None-Match');
  if (cond.ifMatch !== undefined) {
    if (!current) throw fail.noSuchKey(key);
    const wanted = cond.ifMatch.split(',').map((t) => t.trim().replace(/^"|"$/g, ''));
    if (!wanted.includes('*') && !wanted.includes(current.etag)) throw fail.preconditionFailed('If-Match');
  }
}

/**
 * A unique id for a write (intent, temp file, blob file suffix): a random
 * per-process prefix and a counter, unique across processes and restarts
 * without a random draw per write.
 */
const FILE_ID_PREFIX = crypto.randomBytes(9).toString('base64url');
let fileCounter = 0;
export function newFileId(): string {
  return `${FILE_ID_PREFIX}${(fileCounter++).toString(36)}`;
}

export function newUploadId(): string {
  return crypto.randomBytes(24).toString('base64url');
}
