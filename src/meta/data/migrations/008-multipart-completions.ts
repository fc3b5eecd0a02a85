/** Data-plane migration 008-multipart-completions. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

import { keyType } from '../../column-types.js';
import type { EngineKind } from '../../handles.js';

export function migration(kind: EngineKind): Migration {
  return {
    async up(db: Kysely<any>) {
      // What a completed upload answered, so a retried Complete can answer it again (for a bounded time).
      await db.schema
        .createTable('multipart_completions')
        .addColumn('upload_id', 'text', (c) => c.primaryKey())
        .addColumn('bucket_id', 'text', (c) => c.notNull())
        .addColumn('key', keyType(kind), (c) => c.notNull())
        .addColumn('parts_digest', 'text', (c) => c.notNull())
        .addColumn('etag', 'text', (c) => c.notNull())
        .addColumn('checksums', 'text', (c) => c.notNull())
        .addColumn('headers', 'text', (c) => c.notNull())
        .addColumn('completed_at', 'bigint', (c) => c.notNull())
        .execute();
      // The pruning of records past the retry window walks this index.
      await db.schema.createIndex('multipart_completions_completed_at').on('multipart_completions').column('completed_at').execute();
    },
  };
}
