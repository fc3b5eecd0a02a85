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

/**
 * The master key that encrypts new secrets (primary) and every key that may
 * still have encrypted stored ones (previous keys, kept during a rotation).
 * Each ciphertext row names its key's id, so decryption picks the right one.
 */
export class MasterKeyring {
  private readonly byId = new Map<string, MasterKey>();

  constructor(
    readonly primary: MasterKey,
    previous: MasterKey[] = [],
    /** Re-reads the keys (the data folder's files) when a row names a key we do not know: another node rotated. */
    private readonly reload?: () => MasterKeyring,
  ) {
    for (const k of [primary, ...previous]) this.byId.set(k.id, k);
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  encrypt(plaintext: string): { ciphertext: string; keyId: string } {
    return { ciphertext: encryptSecret(this.primary, plaintext), keyId: this.primary.id };
  }

  decrypt(ciphertext: string, keyId: string): string {
    let key = this.byId.get(keyId);
    if (!key && this.reload) {
      const fresh = this.reload();
      for (const k of fresh.byId.values()) this.byId.set(k.id, k);
      key = this.byId.get(keyId);
    }
    if (!key) throw new Error(`secret is encrypted with master key ${keyId}, which this server does not have`);
    return decryptSecret(key, ciphertext);
  }
}

export const MASTER_KEY_FILE = 'master.key';
/** Previous master keys, one per line, kept until every secret is re-encrypted (`anvil admin rotate-master-key`). */
export const PREVIOUS_MASTER_KEYS_FILE = 'master.key.previous';

/** Where the previous keys of a key file are kept: beside it (`master.key.previous` in the data folder). */
export function previousKeysFileOf(keyFile: string): string {
  return `${keyFile}.previous`;
}

function readPreviousKeys(keyFile: string, configured: string | undefined): MasterKey[] {
  const out: MasterKey[] = [];
  const file = previousKeysFileOf(keyFile);
  const text = [configured ?? '', fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''].join('\n');
  for (const line of text.split(/[\n,]/)) if (line.trim()) out.push(parseMasterKey(line));
  return out;
}

/**
 * The keyring: the configured primary key (ANVIL_MASTER_KEY) or the key file
 * (`master_key_file`, else the data folder's `master.key`; generated when
 * `generate` says this is a first start), plus previous keys from
 * ANVIL_PREVIOUS_MASTER_KEYS and the file beside the key file
 * (`master.key.previous`).
 */
export function loadMasterKeyring(
  configured: string | undefined,
  previous: string | undefined,
  keyFile: string,
  opts: { generate?: boolean } = {},
): MasterKeyring {
  const first = loadOrCreateMasterKey(configured, keyFile, opts.generate ?? false);
  // Later re-reads (another node rotated the key) never generate one.
  const load = (primary = loadOrCreateMasterKey(configured, keyFile, false)): MasterKeyring =>
    new MasterKeyring(primary, readPreviousKeys(keyFile, previous), () => load());
  return load(first);
}

/** A key file that is not there when a key must be read from it. */
export class MissingMasterKeyError extends Error {
  constructor(readonly file: string) {
    super(`the master key file ${file} does not exist`);
  }
}

/** Uses the configured key, else the key file, else (with `generate`) generates it there (mode 0600, its folder 0700). */
export function loadOrCreateMasterKey(configured: string | undefined, file: string, generate: boolean): MasterKey {
  if (configured) return parseMasterKey(configured);
  if (fs.existsSync(file)) return parseMasterKey(fs.readFileSync(file, 'utf8'));
  if (!generate) throw new MissingMasterKeyError(file);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
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
