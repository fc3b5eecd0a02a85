/** Data-plane migration 003-cleanup-queue-and-intents. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

import { autoIdType } from '../../column-types.js';
import type { EngineKind } from '../../handles.js';

export function migration(kind: EngineKind): Migration {
  return {
    async up(db: Kysely<any>) {
      // Blobs whose last reference went away: their rows and files are removed by a worker.
      await db.schema
        .createTable('cleanup_queue')
        .addColumn('id', autoIdType(kind), (c) => c.primaryKey().notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('file_id', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('cleanup_queue_due').on('cleanup_queue').columns(['next_attempt_at', 'id']).execute();
      await db.schema
        .createTable('cleanup_dead_letters')
        .addColumn('id', autoIdType(kind), (c) => c.primaryKey().notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('file_id', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('failed_at', 'bigint', (c) => c.notNull())
        .execute();
      // A write in progress: its files (tmp/<id>, blobs/…/<hash>.<id>) belong to node_id until it commits.
      await db.schema
        .createTable('write_intents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('write_intents_node').on('write_intents').column('node_id').execute();
    },
  };
}
