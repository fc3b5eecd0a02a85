/** Control-plane migration 005-app-password-names. Shipped: never edit it; add the next one. */
import { type Kysely, type Migration, sql } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    // One active app password per name and user, enforced by the database so two nodes cannot both create it.
    await db.schema
      .createIndex('app_passwords_active_name')
      .unique()
      .on('app_passwords')
      .columns(['user_id', 'name'])
      .where(sql.ref('revoked_at'), 'is', null)
      .execute();
  },
};
