/**
 * Failed-login counters per subject ('account:<tenant>:<email>' or
 * 'address:<ip>'), shared by every node through the database.
 */
import { sql } from 'kysely';

import type { ControlDb } from '../handles.js';

/** The latest lock among these subjects still in force at `now`, if any (epoch ms). */
export async function lockedUntil(db: ControlDb, subjects: string[], now: number): Promise<number | undefined> {
  const rows = await db
    .selectFrom('login_failures')
    .select(['locked_until'])
    .where('subject', 'in', subjects)
    .where('locked_until', '>', now)
    .execute();
  if (rows.length === 0) return undefined;
  return Math.max(...rows.map((r) => Number(r.locked_until)));
}

/**
 * Counts one failure in one atomic upsert, so concurrent failures on several
 * nodes all count: a failure after the window restarts it at 1; reaching
 * `max` inside the window locks the subject until `lockUntil`. (In ON
 * CONFLICT DO UPDATE every right-hand side sees the old row, on both
 * engines.) Returns the failures counted in the current window.
 */
export async function recordLoginFailure(
  db: ControlDb,
  subject: string,
  opts: { max: number; now: number; windowMs: number; lockUntil: number },
): Promise<number> {
  const { max, now, lockUntil } = opts;
  const windowOver = sql<boolean>`login_failures.window_started_at <= ${now - opts.windowMs}`;
  const failures = sql<number>`case when ${windowOver} then 1 else login_failures.failures + 1 end`;
  const row = await db
    .insertInto('login_failures')
    .values({ subject, failures: 1, window_started_at: now, locked_until: max <= 1 ? lockUntil : null })
    .onConflict((oc) =>
      oc.column('subject').doUpdateSet({
        failures,
        window_started_at: sql<number>`case when ${windowOver} then ${now} else login_failures.window_started_at end`,
        locked_until: sql<number | null>`case when ${failures} >= ${max} then ${lockUntil} else login_failures.locked_until end`,
      }),
    )
    .returning('failures')
    .executeTakeFirstOrThrow();
  return Number(row.failures);
}

/** Takes back one counted attempt (and the lock it may have set, if it alone reached `max`). */
export async function releaseLoginAttempt(db: ControlDb, subject: string, max: number): Promise<void> {
  await db
    .updateTable('login_failures')
    .set({
      failures: sql<number>`case when failures > 0 then failures - 1 else 0 end`,
      locked_until: sql<number | null>`case when failures - 1 >= ${max} then locked_until else null end`,
    })
    .where('subject', '=', subject)
    .execute();
}

export async function clearLoginFailures(db: ControlDb, subject: string): Promise<void> {
  await db.deleteFrom('login_failures').where('subject', '=', subject).execute();
}

/** Deletes counters whose window ended before `windowStartBefore` and that hold no lock at `now`; returns how many. */
export async function pruneLoginFailures(db: ControlDb, windowStartBefore: number, now: number): Promise<number> {
  const res = await db
    .deleteFrom('login_failures')
    .where('window_started_at', '<', windowStartBefore)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
