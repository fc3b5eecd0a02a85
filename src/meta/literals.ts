/** SQL literals shared by queries of several areas. */
import { sql } from 'kysely';

/**
 * The flags of the partial index on latest versions, as SQL literals: bound as
 * parameters, SQLite (built with STAT4) cannot prove at prepare time that the
 * partial index applies and re-prepares the statement on every execution
 * (about 3x the cost of the lookup itself).
 */
export const LATEST = sql.lit(1);
export const NOT_DELETED = sql.lit(0);
