/**
 * Storage backends: where blob bytes live. See backend.ts for the contract,
 * config.ts for the YAML section, placement.ts / breaker.ts / failover.ts for
 * choosing and reading replicas, guarded.ts for a backend behind its breaker.
 */
import type { Backend, UsageSink } from './backend.js';
import type { BackendDecl } from './config.js';
import { FsBackend } from './fs-backend.js';
import { S3Backend } from './s3-backend.js';

export * from './backend.js';
export * from './breaker.js';
export * from './config.js';
export * from './failover.js';
export * from './fs-backend.js';
export * from './guarded.js';
export * from './placement.js';
export * from './s3-backend.js';

export interface OpenBackendOptions {
  usage?: UsageSink;
  /** fs: the metadata says this backend holds blobs, so its folder must already carry the marker. */
  requireExisting?: boolean;
}

/** Builds the backend a config entry declares (fs: folders and marker checked or created). */
export async function openBackend(decl: BackendDecl, opts: OpenBackendOptions = {}): Promise<Backend> {
  if (decl.type === 'fs') {
    const b = new FsBackend({ name: decl.name, root: decl.path, usage: opts.usage });
    await b.init({ requireExisting: opts.requireExisting });
    return b;
  }
  return new S3Backend({
    name: decl.name,
    endpoint: decl.endpoint,
    region: decl.region,
    bucket: decl.bucket,
    prefix: decl.prefix,
    forcePathStyle: decl.forcePathStyle,
    credentials: decl.credentials,
    partSize: decl.partSize,
    queueSize: decl.uploadConcurrency,
    maxAttempts: decl.maxAttempts,
    timeouts: decl.timeouts,
    checksums: decl.checksums,
    usage: opts.usage,
  });
}
