/**
 * Rotating the data folder's master key without downtime:
 *
 * 1. installNewMasterKey: the current key moves to `master.key.previous` and a
 *    new one becomes `master.key` (each file written whole and fsynced, the
 *    previous file first, so a crash never loses a key that still encrypts
 *    something). Servers that meet a row under the new key re-read the files
 *    (MasterKeyring's reload), so they keep working before they restart.
 * 2. TenantService.reencryptSecrets rewrites every secret under the new key,
 *    and rewrapBlobKeys re-wraps every blob's data key (the data stays as it is).
 * 3. Once every server has restarted (so none encrypts with the old key) and
 *    a last re-encryption leaves nothing under it, dropPreviousMasterKeys
 *    removes the old key.
 *
 * With ANVIL_MASTER_KEY the operator does step 1 in the configuration
 * instead (new key in ANVIL_MASTER_KEY, old in ANVIL_PREVIOUS_MASTER_KEYS).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { rewrapDataKey } from '../crypto/keys.js';
import { MASTER_KEY_FILE, type MasterKeyring, parseMasterKey, previousKeysFileOf } from '../crypto/master-keys.js';
import type { DataDatabase } from '../meta/handles.js';
import { blobKeyCountsByMasterKey, blobKeysNotUnder, rewrapBlobKey } from '../meta/identity/index.js';

function writeDurably(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

/** `keyFile`: the key file in use (master_key_file), by default the data folder's master.key. */
export function installNewMasterKey(dataDir: string, keyFile = path.join(dataDir, MASTER_KEY_FILE)): { previousId: string; newId: string } {
  const current = keyFile;
  if (!fs.existsSync(current)) throw new Error(`no master key file ${current} to rotate`);
  const oldText = fs.readFileSync(current, 'utf8').trim();
  const old = parseMasterKey(oldText);
  const previousFile = previousKeysFileOf(keyFile);
  const kept = fs.existsSync(previousFile)
    ? fs
        .readFileSync(previousFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
    : [];
  writeDurably(previousFile, [...kept, oldText].join('\n') + '\n');
  const fresh = crypto.randomBytes(32).toString('hex');
  writeDurably(current, fresh + '\n');
  return { previousId: old.id, newId: parseMasterKey(fresh).id };
}

export function dropPreviousMasterKeys(dataDir: string, keyFile = path.join(dataDir, MASTER_KEY_FILE)): boolean {
  const file = previousKeysFileOf(keyFile);
  if (!fs.existsSync(file)) return false;
  fs.rmSync(file);
  return true;
}

/**
 * Rotation for blobs: re-wraps every blob's data key under the primary
 * master key, in batches, without touching the stored bytes (a data key is
 * the blob's identity and never changes). Each row is updated only if it is
 * still under the key it was read with, so concurrent runs are harmless.
 * Returns how many rows were re-wrapped.
 */
export async function rewrapBlobKeys(db: DataDatabase, ring: MasterKeyring): Promise<number> {
  let rewrapped = 0;
  for (;;) {
    const rows = await blobKeysNotUnder(db, ring.primary.id, 500);
    if (rows.length === 0) return rewrapped;
    for (const r of rows) {
      const next = rewrapDataKey(ring, r.enc_key!, r.enc_master_key_id!);
      const to = { encKey: next.wrapped, masterKeyId: next.masterKeyId };
      rewrapped += await rewrapBlobKey(db, { tenantId: r.tenant_id, hash: r.hash }, r.enc_master_key_id!, to);
    }
  }
}

/** Blob data keys per wrapping master key id (rotation progress). */
export async function blobKeysByMasterKey(db: DataDatabase): Promise<Record<string, number>> {
  return blobKeyCountsByMasterKey(db);
}
