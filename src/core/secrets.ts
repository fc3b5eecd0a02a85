/**
 * Moved to crypto/master-keys.ts (the master keyring is key material, used
 * by crypto/ and blobs/ below core). Re-exported here only until the callers
 * outside identity switch their import; then delete this file.
 */
export * from '../crypto/master-keys.js';
