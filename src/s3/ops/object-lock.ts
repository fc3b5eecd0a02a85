/**
 * Object Lock is not built yet. A request that asks for it (a bucket with
 * lock enabled, an object with a retention mode, a date or a legal hold) is
 * refused with 501 rather than stored without the protection it asks for:
 * a store that says WORM and is not is worse than one without it.
 */
import type { IncomingHttpHeaders } from 'node:http';

import { errors } from '../errors.js';

const NOT_YET = 'Object Lock is not supported by this server yet';

function value(headers: IncomingHttpHeaders | Record<string, string>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Throws NotImplemented when headers (or POST form fields, lower-cased) ask for Object Lock. */
export function refuseObjectLock(headers: IncomingHttpHeaders | Record<string, string>): void {
  if (value(headers, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true') {
    throw errors.notImplemented(`${NOT_YET}: x-amz-bucket-object-lock-enabled`);
  }
  for (const name of ['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date']) {
    if (value(headers, name) !== undefined) throw errors.notImplemented(`${NOT_YET}: ${name}`);
  }
  const hold = value(headers, 'x-amz-object-lock-legal-hold');
  if (hold !== undefined && hold.trim().toUpperCase() !== 'OFF') {
    throw errors.notImplemented(`${NOT_YET}: x-amz-object-lock-legal-hold`);
  }
}
