/**
 * Data-plane migration 013-bucket-events. Shipped: never edit it; add the next one.
 *
 * The change sequence (ARCHITECTURE.md § Events): one compact row per
 * mutation of a timeline, written in the transaction of the change and keyed
 * by the sequence number the change took (`sub` orders the bucket-level
 * events that name a point without taking a seq of their own: a branch or a
 * tag made or deleted). The change feed reads them in key order; the webhook
 * outbox will read the same rows.
 */
import { type Kysely, type Migration, sql } from 'kysely';

import type { EngineKind } from '../../handles.js';

export function migration(kind: EngineKind): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('bucket_events')
        .addColumn('timeline_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('sub', 'integer', (c) => c.notNull().defaultTo(0))
        // The bucket's own id (a branch's events name it too) and its tenant.
        .addColumn('bucket_id', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        // `s3:ObjectCreated:Put`, `anvil:Branch:Created`, … (core/events/names.ts).
        .addColumn('name', 'text', (c) => c.notNull())
        // Object events: the key (byte order on PostgreSQL, as every key column), version, size, ETag.
        .addColumn('key', kind === 'postgres' ? sql`text COLLATE "C"` : 'text')
        .addColumn('version_id', 'text')
        .addColumn('size', 'bigint')
        .addColumn('etag', 'text')
        // JSON: what else the event says (a commit's id and message, an ACL, a retention).
        .addColumn('detail', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('bucket_events_pk', ['timeline_id', 'seq', 'sub'])
        .execute();
      // The retention job finds what is old without scanning the rest.
      await db.schema.createIndex('bucket_events_created').on('bucket_events').column('created_at').execute();
      // Per timeline, the last event pruned: a cursor below it has missed events (410 Gone).
      await db.schema
        .createTable('event_horizons')
        .addColumn('timeline_id', 'text', (c) => c.primaryKey())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('sub', 'integer', (c) => c.notNull())
        .execute();
    },
  };
}
