/** A bucket as stored in the control plane (its row; configs are JSON columns). */
import type { Selectable } from 'kysely';

import type { BucketTable } from '../schema.js';

export type Bucket = Selectable<BucketTable>;
