/**
 * Vitest globalSetup: resolve a PostgreSQL admin URL for the PostgreSQL half of
 * the suite and provide it to tests as `inject('pgAdminUrl')` (string | null).
 *
 * Order: $ANVIL_TEST_DATABASE_URL (a postgres:// URL whose user may CREATE
 * DATABASE), else a throwaway cluster from the installed PostgreSQL binaries.
 * With CI=true, failing to get one fails the run; otherwise tests skip loudly.
 */
import type { TestProject } from 'vitest/node';

import { startThrowawayPostgres } from './postgres.js';

declare module 'vitest' {
  interface ProvidedContext {
    pgAdminUrl: string | null;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const isCi = process.env.CI === 'true';
  let adminUrl: string | null = null;
  let teardown: () => Promise<void> = async () => undefined;
  let reason = '';

  const envUrl = process.env.ANVIL_TEST_DATABASE_URL?.trim();
  if (envUrl) {
    if (!/^postgres(ql)?:\/\//.test(envUrl)) {
      throw new Error(`ANVIL_TEST_DATABASE_URL must be a postgres:// URL, got ${JSON.stringify(redact(envUrl))}`);
    }
    adminUrl = envUrl;
  } else {
    try {
      const pg = await startThrowawayPostgres();
      if (pg) {
        adminUrl = pg.url;
        teardown = pg.stop;
      } else {
        reason = 'no PostgreSQL server binaries found under /usr/lib/postgresql/*/bin';
      }
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
  }

  if (!adminUrl) {
    if (isCi) {
      throw new Error(
        `CI=true but no PostgreSQL is available for tests: ${reason}. ` + 'Set ANVIL_TEST_DATABASE_URL or install the postgresql package.',
      );
    }
    const bar = '!'.repeat(78);
    process.stderr.write(
      [
        '',
        bar,
        '!!  WARNING: PostgreSQL tests are SKIPPED.',
        '!!  The PostgreSQL half of the suite will NOT run in this session.',
        `!!  Reason: ${reason}`,
        '!!  Fix: install PostgreSQL (apt-get install postgresql) or set',
        '!!       ANVIL_TEST_DATABASE_URL=postgres://user:pass@host:port/postgres',
        '!!  (with CI=true this is a hard failure.)',
        bar,
        '',
        '',
      ].join('\n'),
    );
  } else if (envUrl) {
    process.stderr.write(`[anvil tests] PostgreSQL: ANVIL_TEST_DATABASE_URL (${redact(adminUrl)})\n`);
  } else {
    process.stderr.write(`[anvil tests] PostgreSQL: throwaway cluster at ${adminUrl}\n`);
  }

  project.provide('pgAdminUrl', adminUrl);
  return teardown;
}
