/**
 * Migrations of the control-plane schema (tenants, keys, buckets, users,
 * sessions, tasks, backend states), in order, one per file. The
 * keys are the names Kysely records in a deployment's migration table: never
 * rename one. Never edit a migration that shipped; add the next file and its
 * line here.
 */
import type { Migration } from 'kysely';

import type { EngineKind } from '../../handles.js';
import * as m001 from './001-init.js';
import * as m002 from './002-bucket-tags-cors.js';
import * as m003 from './003-tasks.js';
import * as m004 from './004-access-control.js';
import * as m005 from './005-app-password-names.js';
import * as m006 from './006-backends.js';
import * as m007 from './007-versioning.js';
import * as m008 from './008-limits.js';
import * as m009 from './009-task-progress.js';

export function controlMigrations(kind: EngineKind): Record<string, Migration> {
  return {
    '001-init': m001.migration,
    '002-bucket-tags-cors': m002.migration,
    '003-tasks': m003.migration(kind),
    '004-access-control': m004.migration,
    '005-app-password-names': m005.migration,
    '006-backends': m006.migration,
    '007-versioning': m007.migration,
    '008-limits': m008.migration,
    '009-task-progress': m009.migration,
  };
}
