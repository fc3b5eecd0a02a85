/**
 * Secrets at rest: nothing in the metadata database reveals an access-key
 * secret, the token-signing key, a password, an app password or a refresh
 * token. The test reads the raw storage (every byte of the SQLite files; every
 * text column of the global tables on PostgreSQL) and, for what is
 * encrypted, proves the master key is what stands between the bytes and the
 * secret.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { expect, it } from 'vitest';

import { SessionService } from '../../src/core/sessions.js';
import { TokenSigner } from '../../src/core/tokens.js';
import { UserService } from '../../src/core/users.js';
import { decryptSecret, parseMasterKey } from '../../src/crypto/master-keys.js';
import { describeEachEngine, useAnvil } from '../support/anvil.js';
describeEachEngine('secrets at rest', (engine) => {
  const t = useAnvil(engine);

  /** Everything the database holds, as one string per table row / file. */
  async function rawStorage(): Promise<string> {
    if (engine === 'sqlite') {
      // The WAL holds recent pages: read it too, bytes as latin1 so nothing is lost.
      const db = t.config.databaseUrl.replace(/^sqlite:/, '');
      return [db, `${db}-wal`]
        .filter((f) => fs.existsSync(f))
        .map((f) => fs.readFileSync(f).toString('latin1'))
        .join('\n');
    }
    const out: string[] = [];
    for (const table of ['access_keys', 'users', 'app_passwords', 'sessions', 'refresh_tokens', 'server_secrets'] as const) {
      out.push(JSON.stringify(await t.anvil.meta.control.selectFrom(table).selectAll().execute()));
    }
    return out.join('\n');
  }

  it('stores no secret in a form readable without the master key', async () => {
    const tenants = t.anvil.services.tenants;
    await tenants.createTenant('vault');
    const key = await tenants.createKey('vault', {
      imported: { accessKeyId: 'AKVAULTKEY0001', secretAccessKey: 'plain-secret-marker-0123456789' },
    });
    const users = new UserService(t.anvil.meta.control, t.anvil.meta.kind, tenants);
    const signer = new TokenSigner(tenants);
    const sessions = new SessionService(t.anvil.meta.control, t.anvil.meta.kind, users, signer);
    const password = 'password-marker-correct-horse';
    const user = await users.createUser('vault', { email: 'keeper@vault.test', password, role: 'member' });
    const app = await users.createAppPassword(user.id, 'tool');
    const tokens = await sessions.login({ tenant: 'vault', email: 'keeper@vault.test', password });
    const jwtKey = await tenants.serverSecret('jwt-signing-key', () => 'unused');
    const [refreshId, refreshSecret] = tokens.refreshToken.split('.');

    const raw = await rawStorage();
    expect(raw).toContain('AKVAULTKEY0001'); // the raw read really sees the tables
    expect(raw).toContain(refreshId);
    for (const secret of [
      key.secretAccessKey,
      password,
      app.password,
      refreshSecret,
      jwtKey,
      Buffer.from(jwtKey, 'base64').toString('hex'),
    ]) {
      expect(raw).not.toContain(secret);
    }

    // What is encrypted opens with the master key and with no other key.
    const row = await t.anvil.meta.control
      .selectFrom('access_keys')
      .selectAll()
      .where('access_key_id', '=', 'AKVAULTKEY0001')
      .executeTakeFirstOrThrow();
    const master = parseMasterKey(fs.readFileSync(path.join(t.dataDir, 'master.key'), 'utf8'));
    expect(row.master_key_id).toBe(master.id);
    expect(decryptSecret(master, row.secret_enc)).toBe(key.secretAccessKey);
    const wrong = parseMasterKey(crypto.randomBytes(32).toString('hex'));
    expect(() => decryptSecret(wrong, row.secret_enc)).toThrow();
    const stored = await t.anvil.meta.control
      .selectFrom('server_secrets')
      .selectAll()
      .where('name', '=', 'jwt-signing-key')
      .executeTakeFirstOrThrow();
    expect(decryptSecret(master, stored.value_enc)).toBe(jwtKey);
    expect(() => decryptSecret(wrong, stored.value_enc)).toThrow();
    // Passwords are scrypt hashes, not ciphertexts: not even the master key reverses them.
    const userRow = await t.anvil.meta.control
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(userRow.password_hash).toMatch(/^scrypt\$1\$/);
  });
});
