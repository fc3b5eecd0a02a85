/** Data-plane migration 006-object-listing-index. Shipped: never edit it; add the next one. */
import { type Kysely, type Migration, sql } from 'kysely';

import type { EngineKind } from '../../handles.js';

export function migration(kind: EngineKind): Migration {
  return {
    async up(db: Kysely<any>) {
      // Listing reads only this index: live latest versions with the columns a listing returns
      // (an index-only range scan, and one index seek per entry of a delimiter walk).
      // The SQL keeps its shipped text byte for byte, indentation included (SQLite stores DDL as written).
      if (kind === 'postgres') {
        await sql`CREATE INDEX object_versions_listing ON object_versions (bucket_id, key)
            INCLUDE (size, etag, created_at) WHERE is_latest = 1 AND is_delete_marker = 0`.execute(db);
      } else {
        await sql`CREATE INDEX object_versions_listing ON object_versions (bucket_id, key, size, etag, created_at)
            WHERE is_latest = 1 AND is_delete_marker = 0`.execute(db);
      }
    },
  };
}
