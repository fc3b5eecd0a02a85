import crypto from 'node:crypto';

import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { toAdminError } from '../../src/admin/errors.js';
import type { AuthErrorCode } from '../../src/core/auth-errors.js';
import { hashPassword, needsRehash, verifyPassword } from '../../src/core/passwords.js';
import type { PolicyStatement } from '../../src/core/policy.js';
import { type SessionOptions, SessionService } from '../../src/core/sessions.js';
import { TokenSigner } from '../../src/core/tokens.js';
import { type User, UserService } from '../../src/core/users.js';
import { AnvilError } from '../../src/errors.js';
import { describeEachEngine, startTestAnvil, type TestAnvil } from '../support/anvil.js';

const TENANT = 'acme';
const PASSWORD = 'correct horse battery';

/** An identity failure as the tests check it: its code (the domain error's reason), the admin API's status for it, Retry-After. */
interface AuthFailure {
  code: string;
  status: number;
  message: string;
  retryAfterSeconds?: number;
}

function asAuthFailure(err: unknown): AuthFailure {
  expect(err).toBeInstanceOf(AnvilError);
  const e = err as AnvilError;
  return { code: e.reason, status: toAdminError(e).status, message: e.message, retryAfterSeconds: e.retryAfterSeconds };
}

/** Awaits a promise that must reject with an identity failure of this code. */
async function authError(p: Promise<unknown>, code: AuthErrorCode): Promise<AuthFailure> {
  const err = await p.then(
    (v) => {
      throw new Error(`expected AuthError ${code}, got a result: ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  const failure = asAuthFailure(err);
  expect(failure.code).toBe(code);
  return failure;
}

/** The way older releases would have hashed (weaker N), built by hand to prove the format is self-describing. */
function legacyHash(password: string, N = 16384): string {
  const salt = crypto.randomBytes(16);
  const hash = crypto.scryptSync(password, salt, 32, { N, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `scrypt$1$N=${N},r=8,p=1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

describe('password hashing', () => {
  it('writes a versioned scrypt format that verifies only the right password', async () => {
    const stored = await hashPassword(PASSWORD);
    expect(stored).toMatch(/^scrypt\$1\$N=32768,r=8,p=1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(stored).not.toContain(PASSWORD);
    expect(await verifyPassword(PASSWORD, stored)).toBe(true);
    expect(await verifyPassword(PASSWORD + ' ', stored)).toBe(false);
    expect(await verifyPassword('Correct horse battery', stored)).toBe(false);
    // Salted: the same password never hashes the same twice.
    expect(await hashPassword(PASSWORD)).not.toBe(stored);
    expect(needsRehash(stored)).toBe(false);
  });

  it('verifies older parameters, flags them for rehash, and refuses unknown versions and garbage', async () => {
    const old = legacyHash(PASSWORD);
    expect(await verifyPassword(PASSWORD, old)).toBe(true);
    expect(await verifyPassword('wrong password', old)).toBe(false);
    expect(needsRehash(old)).toBe(true);
    const current = await hashPassword(PASSWORD);
    expect(await verifyPassword(PASSWORD, current.replace('scrypt$1$', 'scrypt$2$'))).toBe(false);
    expect(await verifyPassword(PASSWORD, 'not a hash')).toBe(false);
    expect(await verifyPassword(PASSWORD, '')).toBe(false);
    // Absurd parameters in a stored row must not be run (memory bomb).
    expect(await verifyPassword(PASSWORD, current.replace('N=32768', 'N=1073741824'))).toBe(false);
    expect(needsRehash('not a hash')).toBe(true);
  });
});

describeEachEngine('users, sessions, access tokens and app passwords', (engine) => {
  let t: TestAnvil;
  let users: UserService;
  let signer: TokenSigner;
  let sessions: SessionService;
  let counter = 0;
  const uniqueEmail = () => `user${++counter}-${crypto.randomBytes(3).toString('hex')}@example.com`;

  /** A separate service set with its own manual clock (signer and sessions share it). */
  function clocked(opts: Omit<SessionOptions, 'now'> = {}) {
    const clock = { now: Date.now() };
    const now = () => clock.now;
    const s = new TokenSigner(t.anvil.services.tenants, { now });
    return { clock, signer: s, sessions: new SessionService(t.anvil.meta.control, t.anvil.meta.kind, users, s, { ...opts, now }) };
  }

  async function newUser(role: 'admin' | 'member' = 'member', policies?: PolicyStatement[] | null): Promise<User> {
    return users.createUser(TENANT, { email: uniqueEmail(), password: PASSWORD, role, policies });
  }

  const db = () => t.anvil.meta.control;

  beforeAll(async () => {
    t = await startTestAnvil(engine);
    await t.anvil.services.tenants.createTenant(TENANT);
    users = new UserService(t.anvil.meta.control, t.anvil.meta.kind, t.anvil.services.tenants);
    signer = new TokenSigner(t.anvil.services.tenants);
    sessions = new SessionService(t.anvil.meta.control, t.anvil.meta.kind, users, signer);
  });
  afterAll(async () => t?.stop());

  describe('users', () => {
    it('creates users with lower-cased emails and hashed passwords, and finds them', async () => {
      const user = await users.createUser(TENANT, { email: '  Alice.Smith@Example.COM ', password: PASSWORD, role: 'member' });
      expect(user.email).toBe('alice.smith@example.com');
      expect(user.role).toBe('member');
      expect(user.disabled).toBe(false);
      expect(user.policies).toBeNull();
      const tenant = await t.anvil.services.tenants.findTenant(TENANT);
      expect(user.tenantId).toBe(tenant!.id);
      const row = await db().selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
      expect(row.password_hash.startsWith('scrypt$1$')).toBe(true);
      expect(row.password_hash).not.toContain(PASSWORD);
      expect((await users.findUser(TENANT, 'ALICE.smith@example.com'))?.id).toBe(user.id);
      expect((await users.getUser(user.id))?.email).toBe('alice.smith@example.com');
      expect((await users.listUsers(TENANT)).map((u) => u.id)).toContain(user.id);
      expect(await users.findUser('no-such-tenant', 'alice.smith@example.com')).toBeUndefined();
    });

    it('enforces email, password, uniqueness and tenant rules', async () => {
      for (const email of ['no-at-sign', 'two@@example.com', 'a b@example.com', 'a@b..com', '@example.com', 'a@', 'a@.com', 'a@com.']) {
        const err = await authError(users.createUser(TENANT, { email, password: PASSWORD, role: 'member' }), 'InvalidRequest');
        expect(err.status).toBe(400);
      }
      expect((await users.createUser(TENANT, { email: 'admin@localhost', password: PASSWORD, role: 'admin' })).email).toBe(
        'admin@localhost',
      );
      const email = uniqueEmail();
      await authError(users.createUser(TENANT, { email, password: '123456789', role: 'member' }), 'InvalidRequest');
      await authError(users.createUser(TENANT, { email, password: 'x'.repeat(1025), role: 'member' }), 'InvalidRequest');
      await users.createUser(TENANT, { email, password: '1234567890', role: 'member' });
      const dup = await authError(users.createUser(TENANT, { email: email.toUpperCase(), password: PASSWORD, role: 'member' }), 'Conflict');
      expect(dup.status).toBe(409);
      const missing = await authError(
        users.createUser('no-such-tenant', { email: uniqueEmail(), password: PASSWORD, role: 'member' }),
        'NotFound',
      );
      expect(missing.status).toBe(404);
      await authError(
        users.createUser(TENANT, {
          email: uniqueEmail(),
          password: PASSWORD,
          role: 'member',
          policies: [{ effect: 'allow', actions: ['fly'], resources: ['*'] }] as never,
        }),
        'InvalidRequest',
      );
    });

    it('gives admins every right and members exactly their statements', async () => {
      const admin = await newUser('admin');
      const member = await newUser('member', [{ effect: 'allow', actions: ['read'], resources: ['docs/*'] }]);
      const bare = await newUser('member');
      const obj = (bucket: string, key: string) => ({ kind: 'object' as const, bucket, key });
      expect(users.permissionsOf(admin).allows('write', obj('anything', 'x'))).toBe(true);
      expect(users.permissionsOf(member).allows('read', obj('docs', 'a'))).toBe(true);
      expect(users.permissionsOf(member).allows('write', obj('docs', 'a'))).toBe(false);
      expect(users.permissionsOf(bare).allows('read', obj('docs', 'a'))).toBe(false);
    });
  });

  describe('login and access tokens', () => {
    it('returns a token pair whose access token verifies on any node and authenticates', async () => {
      const user = await newUser('admin');
      const pair = await sessions.login({
        tenant: TENANT,
        email: user.email.toUpperCase(),
        password: PASSWORD,
        clientAddress: '192.0.2.1',
        userAgent: 'vitest',
      });
      expect(pair.tokenType).toBe('Bearer');
      expect(pair.expiresIn).toBe(900);
      expect(pair.refreshToken).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      const claims = await signer.verify(pair.accessToken);
      expect(claims).toEqual({ sub: user.id, tid: user.tenantId, sid: pair.sessionId, role: 'admin' });
      // Another node: its own signer, same database → same server secret.
      expect((await new TokenSigner(t.anvil.services.tenants).verify(pair.accessToken)).sub).toBe(user.id);
      const principal = await sessions.authenticate(pair.accessToken);
      expect(principal.userId).toBe(user.id);
      expect(principal.tenantId).toBe(user.tenantId);
      expect(principal.sessionId).toBe(pair.sessionId);
      expect(principal.appPasswordId).toBeNull();
      expect(principal.permissions.unrestricted).toBe(true);
      const [info] = await sessions.listSessions(user.id, pair.sessionId);
      expect(info).toMatchObject({
        id: pair.sessionId,
        clientAddress: '192.0.2.1',
        userAgent: 'vitest',
        appPasswordName: null,
        current: true,
      });
    });

    it('refuses tampered tokens and tokens signed with another key', async () => {
      const user = await newUser();
      const pair = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      const [h, p, s] = pair.accessToken.split('.');
      const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
      await authError(signer.verify(`${h}.${p}.${flipped}`), 'InvalidToken');
      const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), role: 'admin' })).toString(
        'base64url',
      );
      await authError(sessions.authenticate(`${h}.${forgedPayload}.${s}`), 'InvalidToken');
      const foreign = await new SignJWT({ tid: user.tenantId, sid: pair.sessionId, role: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user.id)
        .setIssuer('anvil')
        .setAudience('anvil-admin')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(crypto.randomBytes(32));
      await authError(sessions.authenticate(foreign), 'InvalidToken');
      await authError(sessions.authenticate('not-a-jwt'), 'InvalidToken');
    });

    it('answers a wrong password, an unknown email and an unknown tenant alike, in comparable time', async () => {
      const user = await newUser();
      const wrong = await authError(
        sessions.login({ tenant: TENANT, email: user.email, password: 'wrong password!' }),
        'InvalidCredentials',
      );
      const unknown = await authError(sessions.login({ tenant: TENANT, email: uniqueEmail(), password: PASSWORD }), 'InvalidCredentials');
      const noTenant = await authError(sessions.login({ tenant: 'nope', email: user.email, password: PASSWORD }), 'InvalidCredentials');
      expect(wrong.status).toBe(401);
      expect(unknown.message).toBe(wrong.message);
      expect(noTenant.message).toBe(wrong.message);
      const time = async (email: string) => {
        const start = performance.now();
        await sessions.login({ tenant: TENANT, email, password: 'wrong password!' }).catch(() => undefined);
        return performance.now() - start;
      };
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const known: number[] = [];
      const missing: number[] = [];
      for (let i = 0; i < 3; i++) {
        const other = await newUser();
        known.push(await time(other.email));
        missing.push(await time(uniqueEmail()));
      }
      // Without the dummy verification an unknown user answers in ~1 ms against tens for scrypt.
      expect(median(missing)).toBeGreaterThan(median(known) * 0.3);
    });

    it('expires access tokens after their TTL while the session lives on through refresh', async () => {
      const s = clocked({ accessTtlSeconds: 60 });
      const user = await newUser();
      const pair = await s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      expect(pair.expiresIn).toBe(60);
      s.clock.now += 59_000;
      expect((await s.sessions.authenticate(pair.accessToken)).userId).toBe(user.id);
      s.clock.now += 2_000;
      const err = await authError(s.sessions.authenticate(pair.accessToken), 'TokenExpired');
      expect(err.status).toBe(401);
      const next = await s.sessions.refresh(pair.refreshToken);
      expect((await s.sessions.authenticate(next.accessToken)).sessionId).toBe(pair.sessionId);
    });

    it('rehashes an outdated password hash at login', async () => {
      const user = await newUser();
      await db()
        .updateTable('users')
        .set({ password_hash: legacyHash(PASSWORD) })
        .where('id', '=', user.id)
        .execute();
      await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      const row = await db().selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
      expect(row.password_hash).toContain('N=32768');
      expect(needsRehash(row.password_hash)).toBe(false);
      expect(await verifyPassword(PASSWORD, row.password_hash)).toBe(true);
    });
  });

  describe('failed-login throttling', () => {
    it('locks an account after 5 failures, refusing even the right password, until the lock expires', async () => {
      const s = clocked();
      const user = await newUser();
      for (let i = 0; i < 5; i++) {
        await authError(s.sessions.login({ tenant: TENANT, email: user.email, password: `wrong ${i} password` }), 'InvalidCredentials');
        s.clock.now += 1000;
      }
      const locked = await authError(s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD }), 'TooManyAttempts');
      expect(locked.status).toBe(429);
      expect(locked.retryAfterSeconds).toBeGreaterThan(0);
      expect(locked.retryAfterSeconds).toBeLessThanOrEqual(900);
      // Case of the email does not open a second counter.
      await authError(s.sessions.login({ tenant: TENANT, email: user.email.toUpperCase(), password: PASSWORD }), 'TooManyAttempts');
      s.clock.now += 800_000;
      const later = await authError(s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD }), 'TooManyAttempts');
      expect(later.retryAfterSeconds).toBeLessThan(locked.retryAfterSeconds!);
      s.clock.now += 100_001;
      const pair = await s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      expect((await s.sessions.authenticate(pair.accessToken)).userId).toBe(user.id);
    });

    it('counts failures inside the window only, and a success clears the account counter', async () => {
      const s = clocked();
      const user = await newUser();
      const fail = () =>
        authError(s.sessions.login({ tenant: TENANT, email: user.email, password: 'not the password' }), 'InvalidCredentials');
      // 4 failures, then the window passes, then 4 more: never 5 inside one window.
      for (let i = 0; i < 4; i++) await fail();
      s.clock.now += 901_000;
      for (let i = 0; i < 4; i++) await fail();
      await s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      // That success cleared the counter: 4 more failures do not add up to a lock either.
      for (let i = 0; i < 4; i++) await fail();
      await s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      // And the fifth inside the window does lock.
      for (let i = 0; i < 5; i++) await fail();
      await authError(s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD }), 'TooManyAttempts');
    });

    it('limits failures per client address across different accounts', async () => {
      const s = clocked({ throttle: { maxPerAddress: 3 } });
      const victims = [await newUser(), await newUser(), await newUser()];
      const target = await newUser();
      for (const v of victims) {
        await authError(
          s.sessions.login({ tenant: TENANT, email: v.email, password: 'guess guess', clientAddress: '198.51.100.7' }),
          'InvalidCredentials',
        );
      }
      const err = await authError(
        s.sessions.login({ tenant: TENANT, email: target.email, password: PASSWORD, clientAddress: '198.51.100.7' }),
        'TooManyAttempts',
      );
      expect(err.retryAfterSeconds).toBeGreaterThan(0);
      // The same client over IPv4-mapped IPv6 is the same address.
      await authError(
        s.sessions.login({ tenant: TENANT, email: target.email, password: PASSWORD, clientAddress: '::ffff:198.51.100.7' }),
        'TooManyAttempts',
      );
      // Another address is not affected, nor are the victims' accounts (one failure each).
      await s.sessions.login({ tenant: TENANT, email: target.email, password: PASSWORD, clientAddress: '198.51.100.8' });
      await s.sessions.login({ tenant: TENANT, email: victims[0].email, password: PASSWORD, clientAddress: '198.51.100.8' });
      s.clock.now += 901_000;
      await s.sessions.login({ tenant: TENANT, email: target.email, password: PASSWORD, clientAddress: '198.51.100.7' });
    });

    it('keeps the counters in the database, where every node sees them', async () => {
      const a = clocked();
      const user = await newUser();
      for (let i = 0; i < 5; i++)
        await authError(a.sessions.login({ tenant: TENANT, email: user.email, password: 'wrong wrong' }), 'InvalidCredentials');
      const row = await db()
        .selectFrom('login_failures')
        .selectAll()
        .where('subject', '=', `account:${TENANT}:${user.email}`)
        .executeTakeFirstOrThrow();
      expect(Number(row.failures)).toBe(5);
      expect(Number(row.locked_until)).toBeGreaterThan(a.clock.now);
      // A second "node" (another service instance) refuses too.
      const b = clocked();
      await authError(b.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD }), 'TooManyAttempts');
    });

    it('says AccountDisabled only after a correct password', async () => {
      const user = await newUser();
      const pair = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      await users.setDisabled(user.id, true);
      await authError(sessions.authenticate(pair.accessToken), 'SessionRevoked');
      await authError(sessions.login({ tenant: TENANT, email: user.email, password: 'wrong password' }), 'InvalidCredentials');
      const err = await authError(sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD }), 'AccountDisabled');
      expect(err.status).toBe(403);
      await authError(sessions.refresh(pair.refreshToken), 'SessionRevoked');
      await users.setDisabled(user.id, false);
      await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
    });
  });

  describe('refresh tokens', () => {
    it('rotates; reusing an old token revokes the whole family', async () => {
      const user = await newUser();
      const first = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      const second = await sessions.refresh(first.refreshToken);
      expect(second.sessionId).toBe(first.sessionId);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect((await sessions.authenticate(second.accessToken)).sessionId).toBe(first.sessionId);
      const third = await sessions.refresh(second.refreshToken);
      const reused = await authError(sessions.refresh(first.refreshToken), 'RefreshTokenReused');
      expect(reused.status).toBe(401);
      // The newest token of the family is dead too, and so are its access tokens.
      await authError(sessions.refresh(third.refreshToken), 'SessionRevoked');
      await authError(sessions.authenticate(third.accessToken), 'SessionRevoked');
      const row = await db().selectFrom('sessions').selectAll().where('id', '=', first.sessionId).executeTakeFirstOrThrow();
      expect(row.revoked_reason).toBe('refresh-token-reuse');
      expect(await sessions.listSessions(user.id)).toEqual([]);
    });

    it('refuses unknown, forged and expired refresh tokens without harming the session', async () => {
      const s = clocked({ refreshTtlSeconds: 3600 });
      const user = await newUser();
      const pair = await s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      const [id] = pair.refreshToken.split('.');
      await authError(s.sessions.refresh('garbage'), 'InvalidToken');
      await authError(s.sessions.refresh(`${crypto.randomBytes(16).toString('base64url')}.secret`), 'InvalidToken');
      await authError(s.sessions.refresh(`${id}.${crypto.randomBytes(32).toString('base64url')}`), 'InvalidToken');
      // A guessed secret did not count as reuse: the real token still works.
      const next = await s.sessions.refresh(pair.refreshToken);
      s.clock.now += 3601_000;
      await authError(s.sessions.refresh(next.refreshToken), 'InvalidToken');
    });

    it('lets exactly one of two concurrent refreshes with the same token succeed', async () => {
      const user = await newUser();
      for (let round = 0; round < 4; round++) {
        const pair = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
        const results = await Promise.allSettled([sessions.refresh(pair.refreshToken), sessions.refresh(pair.refreshToken)]);
        const ok = results.filter((r) => r.status === 'fulfilled');
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(ok).toHaveLength(1);
        expect(failed).toHaveLength(1);
        expect(asAuthFailure(failed[0].reason).code).toBe('RefreshTokenReused');
        const used = await db().selectFrom('refresh_tokens').selectAll().where('session_id', '=', pair.sessionId).execute();
        // The presented token plus exactly one successor.
        expect(used).toHaveLength(2);
      }
    });
  });

  describe('logout and revocation', () => {
    it('logout revokes that session at once and leaves the others', async () => {
      const user = await newUser();
      const a = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      const b = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      await sessions.authenticate(a.accessToken);
      await sessions.logout(a.refreshToken);
      const err = await authError(sessions.authenticate(a.accessToken), 'SessionRevoked');
      expect(err.status).toBe(401);
      await authError(sessions.refresh(a.refreshToken), 'SessionRevoked');
      expect((await sessions.authenticate(b.accessToken)).sessionId).toBe(b.sessionId);
      expect((await sessions.listSessions(user.id)).map((x) => x.id)).toEqual([b.sessionId]);
      await authError(sessions.logout('garbage'), 'InvalidToken');
    });

    it('logoutAll and revokeSession end sessions of that user only', async () => {
      const user = await newUser();
      const other = await newUser();
      const mine = await Promise.all([1, 2, 3].map(() => sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD })));
      const theirs = await sessions.login({ tenant: TENANT, email: other.email, password: PASSWORD });
      expect(await sessions.revokeSession(other.id, mine[0].sessionId)).toBe(false);
      expect(await sessions.revokeSession(user.id, mine[0].sessionId)).toBe(true);
      expect(await sessions.revokeSession(user.id, mine[0].sessionId)).toBe(false);
      await authError(sessions.authenticate(mine[0].accessToken), 'SessionRevoked');
      expect(await sessions.logoutAll(user.id)).toBe(2);
      for (const p of mine) await authError(sessions.authenticate(p.accessToken), 'SessionRevoked');
      expect(await sessions.listSessions(user.id)).toEqual([]);
      expect((await sessions.authenticate(theirs.accessToken)).userId).toBe(other.id);
    });

    it('setPassword revokes every session and swaps the password', async () => {
      const user = await newUser();
      const pair = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      await authError(users.setPassword(user.id, 'short'), 'InvalidRequest');
      await sessions.authenticate(pair.accessToken);
      await users.setPassword(user.id, 'a brand new password');
      await authError(sessions.authenticate(pair.accessToken), 'SessionRevoked');
      await authError(sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD }), 'InvalidCredentials');
      await sessions.login({ tenant: TENANT, email: user.email, password: 'a brand new password' });
      await authError(users.setPassword(crypto.randomUUID(), 'a brand new password'), 'NotFound');
    });

    it('deleting a user kills its tokens, sessions and app passwords', async () => {
      const user = await newUser('member', [{ effect: 'allow', actions: ['read'], resources: ['*'] }]);
      const app = await users.createAppPassword(user.id, 'sync');
      const pair = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      const appPair = await sessions.login({ tenant: TENANT, email: user.email, password: app.password });
      expect(await users.deleteUser(user.id)).toBe(true);
      await authError(sessions.authenticate(pair.accessToken), 'InvalidToken');
      await authError(sessions.authenticate(appPair.accessToken), 'InvalidToken');
      await authError(sessions.refresh(pair.refreshToken), 'InvalidToken');
      await authError(sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD }), 'InvalidCredentials');
      expect(await db().selectFrom('sessions').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
      expect(await db().selectFrom('app_passwords').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
      expect(
        await db().selectFrom('refresh_tokens').select('id').where('session_id', 'in', [pair.sessionId, appPair.sessionId]).execute(),
      ).toEqual([]);
      expect(await users.getUser(user.id)).toBeUndefined();
      expect(await users.deleteUser(user.id)).toBe(false);
    });
  });

  describe('app passwords', () => {
    const photos: PolicyStatement[] = [{ effect: 'allow', actions: ['read', 'list'], resources: ['photos/*'] }];
    const obj = (key: string) => ({ kind: 'object' as const, bucket: 'photos', key });

    it('logs in with the intersection of user and app-password rights, and dies with the app password', async () => {
      const user = await newUser('member', photos);
      const app = await users.createAppPassword(user.id, 'camera upload', [
        { effect: 'allow', actions: ['read'], resources: ['photos/2024/*'] },
      ]);
      expect(app.name).toBe('camera upload');
      expect(app.password).toMatch(/^anvil-app-[a-z2-7]{32}$/);
      const stored = await db().selectFrom('app_passwords').selectAll().where('id', '=', app.id).executeTakeFirstOrThrow();
      expect(stored.secret_hash).not.toContain(app.password);
      expect(stored.secret_hash).toBe(crypto.createHash('sha256').update(app.password).digest('hex'));

      const appPair = await sessions.login({ tenant: TENANT, email: user.email, password: app.password });
      expect((await signer.verify(appPair.accessToken)).apw).toBe(app.id);
      const scoped = await sessions.authenticate(appPair.accessToken);
      expect(scoped.appPasswordId).toBe(app.id);
      expect(scoped.permissions.allows('read', obj('2024/a'))).toBe(true);
      expect(scoped.permissions.allows('read', obj('2023/a'))).toBe(false);
      expect(scoped.permissions.allows('list', { kind: 'prefix', bucket: 'photos', prefix: '2024/' })).toBe(false);
      expect(scoped.permissions.allows('write', obj('2024/a'))).toBe(false);
      // The user's own session keeps the user's full rights.
      const own = await sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      const full = await sessions.authenticate(own.accessToken);
      expect(full.appPasswordId).toBeNull();
      expect(full.permissions.allows('read', obj('2023/a'))).toBe(true);
      expect(full.permissions.allows('list', { kind: 'prefix', bucket: 'photos', prefix: '2024/' })).toBe(true);

      const [info] = await users.listAppPasswords(user.id);
      expect(info).toMatchObject({ id: app.id, name: 'camera upload', revokedAt: null });
      expect(info.lastUsedAt).toBeInstanceOf(Date);
      expect(info.policies).toEqual([{ effect: 'allow', actions: ['read'], resources: ['photos/2024/*'] }]);
      expect(JSON.stringify(info)).not.toContain(app.password);
      const listed = await sessions.listSessions(user.id);
      expect(listed.find((x) => x.id === appPair.sessionId)?.appPasswordName).toBe('camera upload');

      await authError(users.createAppPassword(user.id, 'camera upload'), 'Conflict');
      expect(await users.revokeAppPassword(user.id, 'camera upload')).toBe(true);
      expect(await users.revokeAppPassword(user.id, app.id)).toBe(false);
      await authError(sessions.authenticate(appPair.accessToken), 'SessionRevoked');
      await authError(sessions.refresh(appPair.refreshToken), 'SessionRevoked');
      await authError(sessions.login({ tenant: TENANT, email: user.email, password: app.password }), 'InvalidCredentials');
      expect((await users.listAppPasswords(user.id))[0].revokedAt).toBeInstanceOf(Date);
      // The user's own session is untouched; the name is free again.
      expect((await sessions.authenticate(own.accessToken)).userId).toBe(user.id);
      await users.createAppPassword(user.id, 'camera upload');
    });

    it('an unscoped app password carries the user rights and follows them when they change', async () => {
      const user = await newUser('member', photos);
      const app = await users.createAppPassword(user.id, 'backup');
      const pair = await sessions.login({ tenant: TENANT, email: user.email, password: app.password });
      const p = await sessions.authenticate(pair.accessToken);
      expect(p.permissions.allows('read', obj('2023/a'))).toBe(true);
      expect(p.permissions.allows('read', { kind: 'object', bucket: 'docs', key: 'a' })).toBe(false);
      // Narrowing the user narrows the live app-password session on the next request.
      await db()
        .updateTable('users')
        .set({ policies: JSON.stringify([]) })
        .where('id', '=', user.id)
        .execute();
      expect((await sessions.authenticate(pair.accessToken)).permissions.allows('read', obj('2023/a'))).toBe(false);
    });

    it('refuses an app password wider than its user', async () => {
      const user = await newUser('member', photos);
      const wider = await authError(
        users.createAppPassword(user.id, 'w', [{ effect: 'allow', actions: ['write'], resources: ['photos/*'] }]),
        'Forbidden',
      );
      expect(wider.status).toBe(403);
      await authError(users.createAppPassword(user.id, 'x', [{ effect: 'allow', actions: ['read'], resources: ['docs/*'] }]), 'Forbidden');
      await authError(users.createAppPassword(user.id, 'y', [{ effect: 'allow', actions: ['read'], resources: ['*'] }]), 'Forbidden');
      await authError(
        users.createAppPassword(user.id, 'z', [{ effect: 'allow', actions: ['grant'], resources: ['photos/*'] }]),
        'Forbidden',
      );
      expect(await users.listAppPasswords(user.id)).toEqual([]);
      // A denied statement inside the rights is fine, and the user's own denies are kept.
      const denier = await newUser('member', [...photos, { effect: 'deny', actions: ['read'], resources: ['photos/private/*'] }]);
      await users.createAppPassword(denier.id, 'ok', [{ effect: 'allow', actions: ['read'], resources: ['photos/*'] }]);
      const [info] = await users.listAppPasswords(denier.id);
      expect(info.policies).toContainEqual({ effect: 'deny', actions: ['read'], resources: ['photos/private/*'] });
      // Admins may scope app passwords however they like.
      const admin = await newUser('admin');
      await users.createAppPassword(admin.id, 'anything', [{ effect: 'allow', actions: ['write', 'grant'], resources: ['*'] }]);
      await authError(users.createAppPassword(crypto.randomUUID(), 'ghost'), 'NotFound');
      await authError(users.createAppPassword(admin.id, ''), 'InvalidRequest');
    });

    it('concurrent creates of one name: exactly one wins (the database enforces it)', async () => {
      const user = await newUser();
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => users.createAppPassword(user.id, 'racer')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(asAuthFailure(r.reason).code).toBe('Conflict');
      expect((await users.listAppPasswords(user.id)).filter((a) => a.name === 'racer')).toHaveLength(1);
    });
  });

  describe('housekeeping', () => {
    it('prune deletes expired tokens, long-dead sessions and stale counters, and nothing live', async () => {
      const s = clocked({ refreshTtlSeconds: 3600 });
      const user = await newUser();
      const dead = await s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      await authError(s.sessions.login({ tenant: TENANT, email: uniqueEmail(), password: 'nope nope' }), 'InvalidCredentials');
      s.clock.now += 2 * 24 * 3600_000;
      const live = await s.sessions.login({ tenant: TENANT, email: user.email, password: PASSWORD });
      expect(await s.sessions.prune()).toBeGreaterThanOrEqual(3);
      expect(await db().selectFrom('sessions').select('id').where('id', '=', dead.sessionId).execute()).toEqual([]);
      expect(await db().selectFrom('refresh_tokens').select('id').where('session_id', '=', dead.sessionId).execute()).toEqual([]);
      expect((await s.sessions.authenticate(live.accessToken)).sessionId).toBe(live.sessionId);
      await s.sessions.refresh(live.refreshToken);
    });
  });
});
