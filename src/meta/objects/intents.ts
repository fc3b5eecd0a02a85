/**
 * Write intents: a row per write in progress, recorded before the write's
 * first file exists, so the reconciler can tell this node's writes from
 * orphans if the process dies midway.
 */
import { type DataDb, engineOf } from '../handles.js';

/**
 * Intents tell one node's writes in progress from another's dead ones in a
 * shared data folder (PostgreSQL clusters). On SQLite a single process owns
 * the folder, so every file no row names at start-up is an orphan anyway,
 * and an intent row would only add a synchronous commit to every write.
 */
export function keepsWriteIntents(db: DataDb): boolean {
  return engineOf(db) === 'postgres';
}

export async function insertWriteIntent(db: DataDb, id: string, nodeId: string, tenantId: string): Promise<void> {
  await db.insertInto('write_intents').values({ id, node_id: nodeId, tenant_id: tenantId, created_at: Date.now() }).execute();
}

export async function deleteWriteIntent(db: DataDb, id: string): Promise<void> {
  await db.deleteFrom('write_intents').where('id', '=', id).execute();
}
