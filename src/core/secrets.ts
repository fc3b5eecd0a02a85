/**
 * Encryption of secrets at rest (access-key secrets) with the master key:
 * AES-256-GCM, random 96-bit IV, stored as base64(iv | tag | ciphertext).
 * The master key's id (a hash prefix) is stored beside each ciphertext so a
 * later rotation knows which key encrypted what.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface MasterKey {
  id: string;
  key: Buffer;
}

export function parseMasterKey(text: string): MasterKey {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else {
    const b = Buffer.from(t, 'base64');
    if (b.length === 32) key = b;
  }
  if (!key) throw new Error('master key must be 32 bytes, given as 64 hex characters or base64');
  return { id: crypto.createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

/** Uses the configured key, else the one in the data folder, else generates it there (mode 0600). */
export function loadOrCreateMasterKey(configured: string | undefined, dataDir: string): MasterKey {
  if (configured) return parseMasterKey(configured);
  const file = path.join(dataDir, 'master.key');
  if (fs.existsSync(file)) return parseMasterKey(fs.readFileSync(file, 'utf8'));
  fs.mkdirSync(dataDir, { recursive: true });
  const hex = crypto.randomBytes(32).toString('hex');
  // 'wx' fails if another process created it meanwhile; then read theirs.
  try {
    fs.writeFileSync(file, hex + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return parseMasterKey(fs.readFileSync(file, 'utf8'));
  }
  return parseMasterKey(hex);
}

export function encryptSecret(master: MasterKey, plaintext: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', master.key, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

export function decryptSecret(master: MasterKey, stored: string): string {
  const raw = Buffer.from(stored, 'base64');
  const decipher = crypto.createDecipheriv('aes-256-gcm', master.key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
