/** Migrations of the control-plane schema (tenants, keys, buckets, users, tasks), in order. Never edit one that shipped; add the next. */
import { sql, type Kysely, type Migration } from 'kysely';
import type { EngineKind } from '../engine.js';

export function controlMigrations(kind: EngineKind): Record<string, Migration> {
  const autoId = kind === 'postgres' ? sql`bigserial` : sql`integer`;
  return {
    '001-init': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('tenants')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('canonical_id', 'text', (c) => c.notNull().unique())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('access_keys')
          .addColumn('access_key_id', 'text', (c) => c.primaryKey())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('secret_enc', 'text', (c) => c.notNull())
          .addColumn('master_key_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('access_keys_tenant').on('access_keys').column('tenant_id').execute();
        await db.schema
          .createTable('buckets')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('region', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('buckets_tenant_name').on('buckets').columns(['tenant_id', 'name']).execute();
      },
    },
    '002-bucket-tags-cors': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('buckets').addColumn('tags', 'text').execute();
        await db.schema.alterTable('buckets').addColumn('cors', 'text').execute();
      },
    },
    '003-tasks': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('tasks')
          .addColumn('id', autoId, (c) => c.primaryKey().notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('priority', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('max_attempts', 'integer', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('next_run_at', 'bigint', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_expires_at', 'bigint')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tasks_due').on('tasks').columns(['status', 'priority', 'next_run_at']).execute();
      },
    },
    '004-access-control': {
      async up(db: Kysely<any>) {
        // A key with policies is scoped to them; NULL means tenant-wide (every action on the tenant's buckets).
        await db.schema.alterTable('access_keys').addColumn('policies', 'text').execute();
        await db.schema.alterTable('access_keys').addColumn('name', 'text').execute();
        // Who created the key (a user id or an access key id): keys made under `grant` die with their maker's rights.
        await db.schema.alterTable('access_keys').addColumn('created_by', 'text').execute();
        await db.schema.alterTable('buckets').addColumn('acl', 'text', (c) => c.notNull().defaultTo('private')).execute();
        await db.schema.alterTable('buckets').addColumn('policy', 'text').execute();
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('policies', 'text')
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('users_tenant_email').unique().on('users').columns(['tenant_id', 'email']).execute();
        await db.schema
          .createTable('app_passwords')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('policies', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .execute();
        await db.schema.createIndex('app_passwords_user_name').on('app_passwords').columns(['user_id', 'name']).execute();
        // A session is one refresh-token family: login starts it, each refresh rotates its token.
        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('app_password_id', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .addColumn('revoked_reason', 'text')
          .addColumn('client_address', 'text')
          .addColumn('user_agent', 'text')
          .execute();
        await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
        await db.schema
          .createTable('refresh_tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .execute();
        await db.schema.createIndex('refresh_tokens_session').on('refresh_tokens').column('session_id').execute();
        // Failed logins per account and per client address, in the DB so every node sees them.
        await db.schema
          .createTable('login_failures')
          .addColumn('subject', 'text', (c) => c.primaryKey())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('window_started_at', 'bigint', (c) => c.notNull())
          .addColumn('locked_until', 'bigint')
          .execute();
        // Server-wide secrets (the token-signing key), encrypted under the master key like access keys.
        await db.schema
          .createTable('server_secrets')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value_enc', 'text', (c) => c.notNull())
          .addColumn('master_key_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '005-app-password-names': {
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
    },
      '006-backends': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('buckets').addColumn('replication', 'integer').execute();
        await db.schema
          .createTable('backend_states')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('draining', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
  };
}
