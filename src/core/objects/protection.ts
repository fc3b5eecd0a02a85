/**
 * Whether Object Lock lets a version be removed (or replaced in place) now.
 * A legal hold protects it until lifted; a retention date until it passes.
 * GOVERNANCE retention yields to a caller that asks to bypass it and holds
 * the right to (the protocol layer checks the right); COMPLIANCE yields to
 * no one, root included. Every path that removes a version row asks here
 * first (ARCHITECTURE.md, invariant 7).
 */
import { fail } from '../../errors.js';
import type { VersionRow } from '../../meta/objects/types.js';

export function lockedError() {
  return fail.forbidden('AccessDenied', 'Access Denied because object protected by object lock.');
}

export function assertRemovable(
  row: Pick<VersionRow, 'lock_mode' | 'lock_until' | 'legal_hold'>,
  bypassGovernance: boolean,
  now = Date.now(),
): void {
  if (Number(row.legal_hold) === 1) throw lockedError();
  if (!row.lock_mode || row.lock_until === null || Number(row.lock_until) <= now) return;
  if (row.lock_mode === 'GOVERNANCE' && bypassGovernance) return;
  throw lockedError();
}
