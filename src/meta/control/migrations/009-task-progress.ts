/** Control-plane migration 009-task-progress. Shipped: never edit it; add the next one. */
import type { Kysely, Migration } from 'kysely';

export const migration: Migration = {
  async up(db: Kysely<any>) {
    // How far a running (or finished) task got, as its handler reports it: done of total
    // (total null when unknown), since when (this attempt's start), for rate and ETA.
    await db.schema.alterTable('tasks').addColumn('progress_done', 'bigint').execute();
    await db.schema.alterTable('tasks').addColumn('progress_total', 'bigint').execute();
    await db.schema.alterTable('tasks').addColumn('progress_started_at', 'bigint').execute();
    await db.schema.alterTable('tasks').addColumn('progress_at', 'bigint').execute();
  },
};
