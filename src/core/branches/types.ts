/** What the branch service answers with, and the errors it throws. */
import { fail } from '../../errors.js';
import type { CommitRow } from '../../meta/branches/branches.js';

/** How deep a branch may read through ancestors (each level is one more seek per read). */
export const MAX_DEPTH = 8;

/** A branch made this deep is flattened in the background (a durable task), so chains stay short. */
export const FLATTEN_DEPTH = 4;

export interface BranchInfo {
  name: string;
  /** The branch it was made from (null for main, or when that branch is gone). */
  parent: string | null;
  forkSeq: number | null;
  depth: number;
  /** Its ancestors' rows were copied in: reads stop at it. */
  flattened: boolean;
  headCommit: string | null;
  createdAt: Date;
  createdBy: string;
}

export interface CommitInfo {
  id: string;
  /** The branch the commit was made on (null once that branch is gone). */
  branch: string | null;
  seq: number;
  generation: number;
  parents: string[];
  author: string;
  message: string;
  createdAt: Date;
}

export interface TagInfo {
  name: string;
  commit: string;
  createdAt: Date;
  createdBy: string;
}

export const branchErrors = {
  noSuchBranch: (bucket: string, name: string) =>
    fail.notFound('NoSuchBranch', `Bucket ${bucket} has no branch "${name}".`, { BucketName: bucket, Branch: name }),
  noSuchRef: (bucket: string, ref: string) =>
    fail.notFound('NoSuchRef', `Bucket ${bucket} has no branch, tag or commit "${ref}".`, { BucketName: bucket, Ref: ref }),
  noSuchTag: (bucket: string, name: string) => fail.notFound('NoSuchTag', `Bucket ${bucket} has no tag "${name}".`, { BucketName: bucket }),
  refExists: (bucket: string, name: string) =>
    fail.conflict('RefAlreadyExists', `Bucket ${bucket} already has a branch or tag named "${name}".`, { BucketName: bucket }),
  notVersioning: (bucket: string) =>
    fail.conflict(
      'InvalidBucketState',
      `Branches keep history: enable versioning on bucket ${bucket} first (PutBucketVersioning Status=Enabled).`,
    ),
  tooDeep: (name: string) =>
    fail.conflict(
      'BranchTooDeep',
      `Branch ${name} already reads through ${MAX_DEPTH - 1} ancestors; flatten it first (POST …/branches/${name}/flatten, done in the background for branches ${FLATTEN_DEPTH} deep) or branch from a shallower ref.`,
    ),
};

export function commitInfo(row: CommitRow, branchOf: Map<string, string>): CommitInfo {
  return {
    id: row.id,
    branch: branchOf.get(row.timeline_id) ?? null,
    seq: Number(row.seq),
    generation: Number(row.generation),
    parents: JSON.parse(row.parents) as string[],
    author: row.author,
    message: row.message,
    createdAt: new Date(Number(row.created_at)),
  };
}
