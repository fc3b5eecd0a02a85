/**
 * Migrations of the data-plane schema (objects, blobs, uploads,
 * cleanup queue, usage), in order, one per file. The
 * keys are the names Kysely records in a deployment's migration table: never
 * rename one. Never edit a migration that shipped; add the next file and its
 * line here.
 */
import type { Migration } from 'kysely';

import type { EngineKind } from '../../handles.js';
import * as m001 from './001-init.js';
import * as m002 from './002-object-tags.js';
import * as m003 from './003-cleanup-queue-and-intents.js';
import * as m004 from './004-blob-verification.js';
import * as m005 from './005-object-acl.js';
import * as m006 from './006-object-listing-index.js';
import * as m007 from './007-backends.js';
import * as m008 from './008-multipart-completions.js';
import * as m009 from './009-versions.js';
import * as m011 from './011-branches.js';
import * as m012 from './012-tenant-usage.js';
import * as m013 from './013-bucket-events.js';

export function dataMigrations(kind: EngineKind): Record<string, Migration> {
  return {
    '001-init': m001.migration(kind),
    '002-object-tags': m002.migration,
    '003-cleanup-queue-and-intents': m003.migration(kind),
    '004-blob-verification': m004.migration,
    '005-object-acl': m005.migration,
    '006-object-listing-index': m006.migration(kind),
    '007-backends': m007.migration,
    '008-multipart-completions': m008.migration(kind),
    '009-versions': m009.migration(kind),
    '011-branches': m011.migration(kind),
    '012-tenant-usage': m012.migration,
    '013-bucket-events': m013.migration(kind),
  };
}
