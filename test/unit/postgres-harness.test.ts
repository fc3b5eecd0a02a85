import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';

import { createTestDatabase } from '../support/postgres.js';

const adminUrl = inject('pgAdminUrl');

describe('PostgreSQL test harness', () => {
  it.skipIf(!adminUrl)('creates, uses and drops a throwaway test database', async () => {
    const db = await createTestDatabase(adminUrl!);
    const name = new URL(db.url).pathname.slice(1);
    expect(name).toMatch(/^anvil_test_[0-9a-f]+$/);
    try {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const r = await client.query<{ db: string; enc: string; c_lt: boolean; bytes: number }>(
          `SELECT current_database() AS db,
                  pg_encoding_to_char(encoding) AS enc,
                  ('B' < 'a' COLLATE "C") AS c_lt,
                  octet_length('é') AS bytes
             FROM pg_database WHERE datname = current_database()`,
        );
        expect(r.rows[0]).toEqual({ db: name, enc: 'UTF8', c_lt: true, bytes: 2 });
      } finally {
        await client.end();
      }
    } finally {
      await db.drop();
    }
    const admin = new pg.Client({ connectionString: adminUrl! });
    await admin.connect();
    try {
      const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      expect(r.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });
});
