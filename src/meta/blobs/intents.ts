/**
 * Write intents as the start-up reconciliation reads them: which node's
 * writes in progress own which staged and blob files.
 */
import { type DataDb, engineOf } from '../handles.js';

/** Ids of this node's intents (all dead at start-up). */
export async function intentsOf(db: DataDb, nodeId: string): Promise<string[]> {
  return (await db.selectFrom('write_intents').select('id').where('node_id', '=', nodeId).execute()).map((r) => r.id);
}

/** Whether another node's intent younger than `since` owns the file with this id. */
export async function ownedByLiveWrite(db: DataDb, id: string, nodeId: string, since: number): Promise<boolean> {
  const row = await db
    .selectFrom('write_intents')
    .select('id')
    .where((eb) => eb.and([eb('id', '=', id), eb('node_id', '<>', nodeId), eb('created_at', '>', since)]))
    .executeTakeFirst();
  return row !== undefined;
}

/** Forgets this node's intents and everyone's older than `before`. */
export async function dropDeadIntents(db: DataDb, nodeId: string, before: number, hadOwn: boolean): Promise<void> {
  if (hadOwn) await db.deleteFrom('write_intents').where('node_id', '=', nodeId).execute();
  await db.deleteFrom('write_intents').where('created_at', '<=', before).execute();
}

/**
 * Whether write intents are kept on this database: on PostgreSQL several
 * nodes may share a data folder and must tell each other's writes in
 * progress from dead ones; on SQLite one process owns the folder, so every
 * file no row names at start-up is an orphan anyway.
 */
export function keepsWriteIntents(db: DataDb): boolean {
  return engineOf(db) === 'postgres';
}
