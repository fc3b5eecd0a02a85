/**
 * Password hashing for console users: scrypt (node:crypto, memory-hard, no
 * native dependency) in a self-describing, versioned format:
 *
 *   scrypt$1$N=32768,r=8,p=1$<salt base64>$<hash base64>
 *
 * The parameters travel with each hash, so raising them later only needs a
 * new CURRENT: old hashes still verify, needsRehash() reports them, and
 * login rewrites them with the new parameters while it holds the plaintext.
 */
import crypto from 'node:crypto';

const SCHEME = 'scrypt';
const VERSION = '1';

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** ~32 MiB and tens of milliseconds per hash: the OWASP-recommended floor for scrypt. */
const CURRENT: ScryptParams = { N: 32768, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * Stored hashes are trusted, but a corrupted or hostile row must not make a
 * login allocate gigabytes: parameters beyond these bounds fail verification.
 */
const MAX_N = 1 << 20;
const MAX_MEMORY = 256 * 1024 * 1024;

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

/** scrypt needs about 128·N·r bytes; Node's default maxmem (32 MiB) is exactly too small for N=32768, r=8. */
function maxmemFor({ N, r }: ScryptParams): number {
  return 128 * N * r * 2;
}

function scrypt(password: string, salt: Buffer, params: ScryptParams, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password, salt, keylen, { ...params, maxmem: maxmemFor(params) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** NFC so that the same visible password typed on different systems hashes the same. */
function normalize(password: string): string {
  return password.normalize('NFC');
}

function parse(stored: string): Parsed | null {
  const parts = stored.split('$');
  if (parts.length !== 5 || parts[0] !== SCHEME || parts[1] !== VERSION) return null;
  const m = /^N=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})$/.exec(parts[2]);
  if (!m) return null;
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const powerOfTwo = params.N > 1 && (params.N & (params.N - 1)) === 0;
  if (!powerOfTwo || params.N > MAX_N || params.r < 1 || params.p < 1 || params.p > 16) return null;
  if (128 * params.N * params.r > MAX_MEMORY) return null;
  const salt = Buffer.from(parts[3], 'base64');
  const hash = Buffer.from(parts[4], 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 128) return null;
  return { params, salt, hash };
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(SALT_BYTES);
  const hash = await scrypt(normalize(password), salt, CURRENT, HASH_BYTES);
  const { N, r, p } = CURRENT;
  return `${SCHEME}$${VERSION}$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Constant-time comparison; an unknown scheme, version or malformed hash is simply `false`. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const candidate = await scrypt(normalize(password), parsed.salt, parsed.params, parsed.hash.length);
  return crypto.timingSafeEqual(candidate, parsed.hash);
}

/** True when the hash was made with weaker parameters than today's (or is unreadable): rewrite it at next login. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  if (!parsed) return true;
  const { N, r, p } = parsed.params;
  return N < CURRENT.N || r < CURRENT.r || p < CURRENT.p || parsed.hash.length < HASH_BYTES;
}
