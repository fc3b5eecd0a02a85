/** A bucket as stored in the control plane (its row; configs are JSON columns), and as addressed. */
import type { Selectable } from 'kysely';

import type { RefLevel } from '../branches/branches.js';
import type { BucketTable } from '../schema.js';

/**
 * A bucket addressed through a branch, tag or commit alias (`bucket--ref`,
 * core/branches/): the bucket's settings with the ref's timeline as its id
 * (the data plane keys version rows by timeline), and the levels a read
 * consults.
 */
export interface RefView {
  /** The bucket's own id and name (its settings live there). */
  bucketId: string;
  bucketName: string;
  /** `time`: any ref as of a point in time (`bucket--ref--at-<time>`), read-only. */
  kind: 'branch' | 'tag' | 'commit' | 'time';
  /** The branch or tag name, or the commit id. */
  ref: string;
  /** Level 0 is the ref's own timeline (ceiling null: a branch's head), then its ancestors up to their fork points. */
  levels: RefLevel[];
  /** Tags, commits and points in time are read-only. */
  readOnly: boolean;
  /** For tags and commits: the commit read. */
  commitId?: string;
}

export type Bucket = Selectable<BucketTable> & { view?: RefView };
