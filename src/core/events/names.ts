/**
 * The names of the change sequence's events: S3's where S3 has one (so a
 * notification configuration's `s3:ObjectCreated:*` means what it means on
 * S3), `anvil:` for what S3 has no name for (branches, commits, Object Lock).
 */
export const EVENTS = {
  put: 's3:ObjectCreated:Put',
  post: 's3:ObjectCreated:Post',
  copy: 's3:ObjectCreated:Copy',
  complete: 's3:ObjectCreated:CompleteMultipartUpload',
  deleted: 's3:ObjectRemoved:Delete',
  markerCreated: 's3:ObjectRemoved:DeleteMarkerCreated',
  tagsPut: 's3:ObjectTagging:Put',
  tagsDeleted: 's3:ObjectTagging:Delete',
  aclPut: 's3:ObjectAcl:Put',
  retentionPut: 'anvil:ObjectRetention:Put',
  legalHoldPut: 'anvil:ObjectLegalHold:Put',
  /** A key a merge (or revert) wrote on the destination branch, or removed there (a delete marker). */
  mergeCreated: 'anvil:ObjectCreated:Merge',
  mergeRemoved: 'anvil:ObjectRemoved:Merge',
  commitCreated: 'anvil:Commit:Created',
  merged: 'anvil:Merge:Completed',
  reverted: 'anvil:Revert:Completed',
  branchCreated: 'anvil:Branch:Created',
  branchDeleted: 'anvil:Branch:Deleted',
  tagCreated: 'anvil:Tag:Created',
  tagDeleted: 'anvil:Tag:Deleted',
} as const;

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];

/** How an object came to be: the event of the write that made it. */
export type CreatedEvent =
  typeof EVENTS.put | typeof EVENTS.post | typeof EVENTS.copy | typeof EVENTS.complete | typeof EVENTS.mergeCreated;
