/**
 * Data-plane migration 011-branches. Shipped: never edit it; add the next one.
 * (Numbered 011: 010 is taken by the tenant-usage migration of the limits work.)
 *
 * A bucket's history as timelines (ARCHITECTURE.md § Branches): a branch is a
 * timeline whose version rows are object_versions rows under its own id
 * (object_versions.bucket_id names the timeline; `main` is the bucket's own
 * id), read through to its ancestors as of its fork points.
 */
import type { Kysely, Migration } from 'kysely';

import type { EngineKind } from '../../handles.js';

export function migration(_kind: EngineKind): Migration {
  return {
    async up(db: Kysely<any>) {
      // A timeline's changes in sequence order: a diff or a merge reads the rows written between
      // two points (cost proportional to the changes, never to the bucket's size).
      await db.schema.createIndex('object_versions_seq').on('object_versions').columns(['bucket_id', 'seq']).execute();
      // A branch: a name of a bucket for a timeline. `main` is the bucket's own timeline.
      await db.schema
        .createTable('branches')
        .addColumn('bucket_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('timeline_id', 'text', (c) => c.notNull())
        // The timeline this one forked from and the last sequence number of it that shows through.
        .addColumn('parent_id', 'text')
        .addColumn('fork_seq', 'bigint')
        .addColumn('depth', 'integer', (c) => c.notNull())
        // 1 once its ancestors' rows were copied in (core/branches/flatten.ts): reads stop at it.
        .addColumn('flattened', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('head_commit', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('branches_pk', ['bucket_id', 'name'])
        .execute();
      await db.schema.createIndex('branches_timeline').on('branches').column('timeline_id').unique().execute();
      await db.schema.createIndex('branches_parent').on('branches').columns(['parent_id', 'fork_seq']).execute();
      // What a read on a timeline consults, in order (written once, when the branch is made):
      // level 0 is the timeline itself, level i its i-th ancestor up to `ceiling`. A flattened
      // branch keeps them as its lineage (diffs find changed keys through it) but reads level 0 only.
      await db.schema
        .createTable('branch_levels')
        .addColumn('timeline_id', 'text', (c) => c.notNull())
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('ancestor_id', 'text', (c) => c.notNull())
        .addColumn('ceiling', 'bigint')
        .addPrimaryKeyConstraint('branch_levels_pk', ['timeline_id', 'level'])
        .execute();
      // A commit names a point (timeline, seq); it copies nothing.
      await db.schema
        .createTable('commits')
        .addColumn('bucket_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('timeline_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        // 1 + the largest generation of its parents: merge bases are searched in this order.
        .addColumn('generation', 'bigint', (c) => c.notNull())
        // JSON array of parent commit ids (first parent first).
        .addColumn('parents', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('commits_pk', ['bucket_id', 'id'])
        .execute();
      // Retain points of a timeline (a version alive at one of them is kept), and `log` order.
      await db.schema.createIndex('commits_timeline_seq').on('commits').columns(['timeline_id', 'seq']).execute();
      await db.schema
        .createTable('tags')
        .addColumn('bucket_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('commit_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tags_pk', ['bucket_id', 'name'])
        .execute();
    },
  };
}
