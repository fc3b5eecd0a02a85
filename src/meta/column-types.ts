/** Column types that differ per engine, shared by the migrations of both schemas. */
import { type RawBuilder, sql } from 'kysely';

import type { EngineKind } from './handles.js';

/** An auto-incrementing integer id. */
export function autoIdType(kind: EngineKind): RawBuilder<unknown> {
  return kind === 'postgres' ? sql`bigserial` : sql`integer`;
}

/**
 * An object key: S3 lists keys in UTF-8 byte order. SQLite's default BINARY
 * collation is byte order already; PostgreSQL needs COLLATE "C".
 */
export function keyType(kind: EngineKind): RawBuilder<unknown> {
  return kind === 'postgres' ? sql`text collate "C"` : sql`text`;
}
