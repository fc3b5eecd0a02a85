/** Helpers shared by the storage-backend integration tests: temp fs backends and polling. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type BackendsConfig, UNLIMITED } from '../../src/backends/config.js';

export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `anvil-backend-${name}-`));
}

/** Every file under a folder (recursively). */
export function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).map((p) => path.join(root, p)).filter((p) => fs.statSync(p).isFile());
}

/** The blob files an fs backend holds. */
export function blobFilesIn(backendRoot: string): string[] {
  return filesUnder(path.join(backendRoot, 'blobs'));
}

/** fs backends in fresh temp folders (spread placement), with optional quotas. */
export function fsBackends(
  names: string[],
  quota: Record<string, number> = {},
  replication = 1,
): { storage: BackendsConfig; roots: Record<string, string> } {
  const roots: Record<string, string> = {};
  for (const n of names) roots[n] = tempDir(n);
  return {
    roots,
    storage: {
      placement: 'spread',
      replication,
      isDefault: false,
      backends: names.map((name) => ({ type: 'fs' as const, name, path: roots[name], quotaBytes: quota[name] ?? UNLIMITED })),
    },
  };
}

/** Polls until check() holds, failing after timeoutMs. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A body of `size` bytes with `marker` all over it, so a plaintext leak at rest cannot hide. */
export function markedBody(marker: string, size: number, seed: string): Buffer {
  const unit = Buffer.from(`${marker}:${seed}:`);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += unit.length) unit.copy(out, i);
  return out;
}
