/**
 * Object Lock on one version: whether it may be removed (or replaced in
 * place) now. A legal hold protects it until lifted; a retention date
 * until it passes. GOVERNANCE retention yields to a caller that asks to
 * bypass it and holds the right to (the protocol layer checks the right);
 * COMPLIANCE yields to no one, root included.
 */
import { fail } from '../../errors.js';
import type { Bucket } from '../../meta/buckets/types.js';
import { withTransaction } from '../../meta/engine.js';
import type { DataDb } from '../../meta/handles.js';
import { type LockMode, type ObjectVersion, rowToVersion, type VersionRow } from '../../meta/objects/types.js';
import { latestRow, takeNextSeq, updateVersionInPlace, versionRowById } from '../../meta/objects/versions.js';
import { visibleRow } from '../branches/read.js';
import type { CoreContext } from '../context.js';
import { type EventName, EVENTS } from '../events/names.js';
import { recordEvent } from '../events/record.js';
import { validateKey } from './keys.js';
import { ancestorsVersion } from './metadata.js';
import { assertRemovable, lockedError } from './protection.js';
import { metadataWrite } from './stage.js';

export { assertRemovable, lockedError };

/** A retention to set: a mode and a date, or neither (remove it). */
export interface Retention {
  mode?: LockMode;
  until?: number;
}

function noLockConfig() {
  return fail.invalid('InvalidRequest', 'Bucket is missing Object Lock Configuration');
}

/**
 * Runs `change` on a version's row under the bucket lock, so two changes
 * of one version's protection (or a delete) cannot interleave. (This module
 * imports neither versioning.ts nor latest.ts, which import it: the
 * protocol layer has checked the version id's syntax, and an id that
 * cannot exist is simply not found.)
 */
async function changeVersion(
  ctx: CoreContext,
  bucket: Bucket,
  key: string,
  versionId: string | undefined,
  change: (trx: DataDb, row: VersionRow) => Promise<void>,
  event: { name: EventName; detail: Record<string, unknown> },
): Promise<ObjectVersion> {
  validateKey(key);
  return metadataWrite(ctx, () =>
    withTransaction(ctx.meta.kind, ctx.meta.data, async (trx) => {
      // Taking a sequence number locks the bucket (and finds it gone, if it was deleted); the change's event takes its place.
      const seq = await takeNextSeq(trx, bucket.id);
      if (seq === undefined) throw fail.noSuchBucket(bucket.name);
      const row = versionId === undefined ? await latestRow(trx, bucket.id, key) : await versionRowById(trx, bucket.id, key, versionId);
      if (!row) {
        // On a branch the version may show through from an ancestor: its protection is the ancestor's.
        if (bucket.view && (await visibleRow(trx, bucket.view, key))) throw ancestorsVersion(bucket);
        if (versionId === undefined) throw fail.noSuchKey(key);
        throw fail.notFound('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
      }
      if (Number(row.is_delete_marker) === 1) {
        if (versionId === undefined) throw fail.noSuchKey(key);
        throw fail.notAllowedOnMarker();
      }
      await change(trx, row);
      await recordEvent(trx, bucket, seq, event.name, { key, versionId: row.version_id, detail: event.detail });
      return rowToVersion((await versionRowById(trx, bucket.id, key, row.version_id))!);
    }),
  );
}

/**
 * Sets a version's retention. While a retention holds: COMPLIANCE can only
 * be kept or lengthened (never shortened, removed or weakened, by anyone);
 * GOVERNANCE can be lengthened; shortened, removed or made COMPLIANCE only
 * with the bypass (whose right the caller checked).
 */
export function setRetention(
  ctx: CoreContext,
  bucket: Bucket,
  key: string,
  versionId: string | undefined,
  wanted: Retention,
  bypassGovernance: boolean,
  now = Date.now(),
): Promise<ObjectVersion> {
  if (!bucket.object_lock) throw noLockConfig();
  if (wanted.until !== undefined && wanted.until <= now) {
    throw fail.invalid('InvalidArgument', 'The retain until date must be in the future!');
  }
  return changeVersion(
    ctx,
    bucket,
    key,
    versionId,
    async (trx, row) => {
      const holds = row.lock_mode && row.lock_until !== null && Number(row.lock_until) > now;
      if (holds) {
        const until = Number(row.lock_until);
        const keepsOrLengthens = wanted.until !== undefined && wanted.until >= until;
        if (row.lock_mode === 'COMPLIANCE' && !(wanted.mode === 'COMPLIANCE' && keepsOrLengthens)) throw lockedError();
        // Any change to a GOVERNANCE retention but lengthening it in the same mode (shortening, removing,
        // or making it COMPLIANCE) needs the bypass, as on RGW and MinIO: the mode is the lock's owner's choice.
        const lengthensOnly = wanted.mode === 'GOVERNANCE' && keepsOrLengthens;
        if (row.lock_mode === 'GOVERNANCE' && !lengthensOnly && !bypassGovernance) throw lockedError();
      }
      await updateVersionInPlace(trx, row.id, { lock_mode: wanted.mode ?? null, lock_until: wanted.until ?? null });
    },
    {
      name: EVENTS.retentionPut,
      detail: { mode: wanted.mode ?? null, retainUntil: wanted.until === undefined ? null : new Date(wanted.until).toISOString() },
    },
  );
}

/** Puts a legal hold on a version or lifts it (anyone with the right may do either, whatever the retention). */
export function setLegalHold(
  ctx: CoreContext,
  bucket: Bucket,
  key: string,
  versionId: string | undefined,
  on: boolean,
): Promise<ObjectVersion> {
  if (!bucket.object_lock) throw noLockConfig();
  return changeVersion(
    ctx,
    bucket,
    key,
    versionId,
    async (trx, row) => {
      await updateVersionInPlace(trx, row.id, { legal_hold: on ? 1 : 0 });
    },
    { name: EVENTS.legalHoldPut, detail: { legalHold: on ? 'ON' : 'OFF' } },
  );
}
