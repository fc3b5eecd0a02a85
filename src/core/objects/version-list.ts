/** What a ListObjectVersions page asks and answers (objects/list-versions.ts, branches/list-versions.ts). */
export interface VersionListQuery {
  prefix: string;
  delimiter: string;
  keyMarker: string;
  versionIdMarker?: string;
  maxKeys: number;
}

export interface VersionEntry {
  key: string;
  versionId: string;
  isLatest: boolean;
  isDeleteMarker: boolean;
  lastModified: Date;
  etag: string;
  size: number;
}

export interface VersionListResult {
  entries: VersionEntry[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}
