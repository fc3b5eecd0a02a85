/**
 * Console users of a tenant and their app passwords.
 *
 * A user logs in with email + password (scrypt, core/passwords.ts) or with
 * one of their app passwords: generated, high-entropy secrets for tools and
 * scripts, optionally narrowed to a subset of the user's rights. Sessions are
 * in core/sessions.ts; this module only revokes them when the user's
 * credentials or standing change.
 */
import crypto from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { withTransaction, type EngineKind } from '../meta/engine.js';
import type { ControlSchema, UserRole, UserTable } from '../meta/schema.js';
import { AuthError } from './auth-errors.js';
import { hashPassword, needsRehash, verifyPassword } from './passwords.js';
import { parsePolicies, Permissions, PolicyError, type PolicyStatement } from './policy.js';
import type { TenantService } from './tenants.js';

export interface User {
  id: string;
  tenantId: string;
  email: string;
  role: 'admin' | 'member';
  policies: PolicyStatement[] | null;
  disabled: boolean;
  createdAt: Date;
}

export interface AppPasswordInfo {
  id: string;
  name: string;
  policies: PolicyStatement[] | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

type Db = Kysely<ControlSchema> | Transaction<ControlSchema>;
export type UserRow = Selectable<UserTable>;

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;
export const APP_PASSWORD_PREFIX = 'anvil-app-';

// Deliberately loose (RFC 5322 is not worth enforcing): one @, a 1-64 character
// local part and a dot-separated domain, no spaces, controls or quoting
// characters. "admin@localhost" is allowed.
const EMAIL_LOCAL = /^[^\s@\p{Cc}"<>()[\],;:\\]{1,64}$/u;
const EMAIL_DOMAIN_LABEL = /^[^\s@\p{Cc}"<>()[\],;:\\.]{1,63}$/u;

function validEmail(email: string): boolean {
  const parts = email.split('@');
  if (email.length > 254 || parts.length !== 2) return false;
  return EMAIL_LOCAL.test(parts[0]) && parts[1].split('.').every((label) => EMAIL_DOMAIN_LABEL.test(label));
}
const APP_PASSWORD_NAME = /^[^\p{Cc}]{1,64}$/u;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A users row as a User (sessions.ts reads users joined with sessions). */
export function userFromRow(row: UserRow): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    email: row.email,
    role: row.role,
    policies: row.policies === null ? null : parsePolicies(row.policies),
    disabled: Number(row.disabled) === 1,
    createdAt: new Date(Number(row.created_at)),
  };
}

function checkPassword(password: string): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new AuthError('InvalidRequest', `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`, 400);
  }
}

function checkedPolicies(policies: PolicyStatement[] | null | undefined): PolicyStatement[] | null {
  if (policies === undefined || policies === null) return null;
  try {
    return parsePolicies(policies);
  } catch (err) {
    if (err instanceof PolicyError) throw new AuthError('InvalidRequest', err.message, 400);
    throw err;
  }
}

/** Unique-index violations on either engine (a concurrent insert won the race). */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * App passwords are 160 random bits, base32 (lower-case, no ambiguous 0/1/8/9),
 * so they survive copy-paste and shells without quoting.
 */
function generateAppPassword(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = crypto.randomBytes(20);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return APP_PASSWORD_PREFIX + out;
}

/**
 * App passwords are stored as SHA-256, not scrypt: they are 160-bit random
 * secrets, so a stolen hash cannot be brute-forced either way, and a slow
 * hash would only add tens of milliseconds of CPU to every tool's login.
 */
export function hashAppPassword(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Marks every live session of a user revoked; returns how many. */
export async function revokeUserSessions(db: Db, userId: string, reason: string, now: number): Promise<number> {
  const res = await db
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Computed once per process: unknown users are "verified" against it so they cost as much as real ones. */
let dummyHash: Promise<string> | undefined;
function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomBytes(16).toString('hex'));
  return dummyHash;
}

export class UserService {
  private readonly now: () => number;

  constructor(
    private readonly db: Kysely<ControlSchema>,
    private readonly kind: EngineKind,
    private readonly tenants: TenantService,
    opts: { now?: () => number } = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  async createUser(
    tenantName: string,
    input: { email: string; password: string; role: 'admin' | 'member'; policies?: PolicyStatement[] | null },
  ): Promise<User> {
    const tenant = await this.tenants.findTenant(tenantName);
    if (!tenant) throw new AuthError('NotFound', `no tenant named ${tenantName}`, 404);
    const email = normalizeEmail(input.email);
    if (!validEmail(email)) throw new AuthError('InvalidRequest', 'email address is not valid', 400);
    if (input.role !== 'admin' && input.role !== 'member') throw new AuthError('InvalidRequest', 'role must be admin or member', 400);
    checkPassword(input.password);
    // Admins are unrestricted whatever is stored; members' statements are their rights (none when null).
    const policies = checkedPolicies(input.policies);
    if (await this.findUser(tenantName, email)) throw new AuthError('Conflict', `user ${email} already exists`, 409);
    const row: UserRow = {
      id: crypto.randomUUID(),
      tenant_id: tenant.id,
      email,
      password_hash: await hashPassword(input.password),
      role: input.role,
      policies: policies && JSON.stringify(policies),
      disabled: 0,
      created_at: this.now(),
    };
    try {
      await this.db.insertInto('users').values(row).execute();
    } catch (err) {
      // The unique (tenant_id, email) index settles a race with a concurrent create.
      if (isUniqueViolation(err)) throw new AuthError('Conflict', `user ${email} already exists`, 409);
      throw err;
    }
    return userFromRow(row);
  }

  async listUsers(tenantName: string): Promise<User[]> {
    const tenant = await this.tenants.findTenant(tenantName);
    if (!tenant) throw new AuthError('NotFound', `no tenant named ${tenantName}`, 404);
    const rows = await this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenant.id).orderBy('email').execute();
    return rows.map(userFromRow);
  }

  async getUser(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && userFromRow(row);
  }

  async findUser(tenantName: string, email: string): Promise<User | undefined> {
    const row = await this.findUserRow(tenantName, email);
    return row && userFromRow(row);
  }

  private async findUserRow(tenantName: string, email: string): Promise<UserRow | undefined> {
    return this.db
      .selectFrom('users')
      .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
      .selectAll('users')
      .where('tenants.name', '=', tenantName)
      .where('users.email', '=', normalizeEmail(email))
      .executeTakeFirst();
  }

  /** Deletes the user with their sessions, refresh tokens and app passwords (explicitly: no reliance on FK cascades). */
  async deleteUser(id: string): Promise<boolean> {
    return withTransaction(this.kind, this.db, async (trx) => {
      await trx
        .deleteFrom('refresh_tokens')
        .where('session_id', 'in', (eb) => eb.selectFrom('sessions').select('id').where('user_id', '=', id))
        .execute();
      await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
      await trx.deleteFrom('app_passwords').where('user_id', '=', id).execute();
      const res = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  /** A new password ends every session: whoever knew the old one is logged out. App passwords stay (revoke them separately). */
  async setPassword(userId: string, password: string): Promise<void> {
    checkPassword(password);
    const hash = await hashPassword(password);
    await withTransaction(this.kind, this.db, async (trx) => {
      const res = await trx.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new AuthError('NotFound', 'no such user', 404);
      await revokeUserSessions(trx, userId, 'password-changed', this.now());
    });
  }

  async setDisabled(userId: string, disabled: boolean): Promise<void> {
    await withTransaction(this.kind, this.db, async (trx) => {
      const res = await trx.updateTable('users').set({ disabled: disabled ? 1 : 0 }).where('id', '=', userId).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new AuthError('NotFound', 'no such user', 404);
      if (disabled) await revokeUserSessions(trx, userId, 'user-disabled', this.now());
    });
  }

  /**
   * Changes a user's role and/or policies. Sessions read the user's current
   * rights on every request (SessionService.authenticate), so none needs revoking.
   */
  async setRoleAndPolicies(userId: string, change: { role?: UserRole; policies?: PolicyStatement[] | null }): Promise<void> {
    const set: { role?: UserRole; policies?: string | null } = {};
    if (change.role !== undefined) set.role = change.role;
    if (change.policies !== undefined) set.policies = change.policies === null ? null : JSON.stringify(parsePolicies(change.policies));
    if (Object.keys(set).length === 0) return;
    const res = await this.db.updateTable('users').set(set).where('id', '=', userId).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new AuthError('NotFound', 'no such user', 404);
  }

  permissionsOf(user: User): Permissions {
    return user.role === 'admin' ? Permissions.ALL : new Permissions(user.policies ?? []);
  }

  /**
   * Checks a login's credentials: the account password or one of the user's
   * active app passwords. Returns null for any failure (unknown tenant, unknown
   * user, wrong password) after comparable work, so callers cannot tell them
   * apart by answer or by time. Does not look at `disabled` (the caller says
   * so only after a correct password). Rewrites outdated password hashes.
   */
  async checkCredentials(
    tenantName: string,
    email: string,
    password: string,
  ): Promise<{ user: User; appPasswordId: string | null } | null> {
    const row = await this.findUserRow(tenantName, email);
    if (!row) {
      await verifyPassword(password, await dummyPasswordHash());
      return null;
    }
    // App passwords first: a cheap hash comparison, so tools do not pay for scrypt on every login.
    const candidate = Buffer.from(hashAppPassword(password), 'hex');
    const apps = await this.db
      .selectFrom('app_passwords')
      .select(['id', 'secret_hash'])
      .where('user_id', '=', row.id)
      .where('revoked_at', 'is', null)
      .execute();
    const app = apps.find((a) => {
      const stored = Buffer.from(a.secret_hash, 'hex');
      return stored.length === candidate.length && crypto.timingSafeEqual(stored, candidate);
    });
    if (app) return { user: userFromRow(row), appPasswordId: app.id };
    if (!(await verifyPassword(password, row.password_hash))) return null;
    if (needsRehash(row.password_hash)) {
      // Conditional on the old hash, so a concurrent setPassword is never overwritten.
      await this.db
        .updateTable('users')
        .set({ password_hash: await hashPassword(password) })
        .where('id', '=', row.id)
        .where('password_hash', '=', row.password_hash)
        .execute();
    }
    return { user: userFromRow(row), appPasswordId: null };
  }

  async createAppPassword(
    userId: string,
    name: string,
    policies?: PolicyStatement[] | null,
  ): Promise<{ id: string; name: string; password: string }> {
    const user = await this.getUser(userId);
    if (!user) throw new AuthError('NotFound', 'no such user', 404);
    const label = name.trim();
    if (!APP_PASSWORD_NAME.test(label)) throw new AuthError('InvalidRequest', 'app password name must be 1-64 printable characters', 400);
    const requested = checkedPolicies(policies);
    let stored: PolicyStatement[] | null = null;
    if (requested !== null) {
      try {
        stored = this.scopeWithinUser(user, requested);
      } catch (err) {
        if (err instanceof PolicyError) throw new AuthError('Forbidden', err.message, 403);
        throw err;
      }
    }
    const password = generateAppPassword();
    const id = crypto.randomUUID();
    try {
      await withTransaction(this.kind, this.db, async (trx) => {
        // Names identify app passwords in the UI and in revokeAppPassword; only active ones must be unique
        // (also a partial unique index, migration 005, for concurrent creates on PostgreSQL).
        const clash = await trx
          .selectFrom('app_passwords')
          .select('id')
          .where('user_id', '=', userId)
          .where('name', '=', label)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (clash) throw new AuthError('Conflict', `an app password named ${label} already exists`, 409);
        await trx
          .insertInto('app_passwords')
          .values({
            id,
            user_id: userId,
            name: label,
            secret_hash: hashAppPassword(password),
            policies: stored && JSON.stringify(stored),
            created_at: this.now(),
            last_used_at: null,
            revoked_at: null,
          })
          .execute();
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AuthError('Conflict', `an app password named ${label} already exists`, 409);
      throw err;
    }
    return { id, name: label, password };
  }

  /**
   * The statements to store for an app password: within the user's rights
   * (Permissions.delegate), plus the user's denies. delegate() also demands
   * the `grant` action, which is right for keys handed to someone else but
   * not here: narrowing your own rights for your own tool gives nobody
   * anything new (and authenticate() intersects with the user's live rights
   * anyway). So a member without `grant` may scope an app password, but may
   * not put `grant` into it.
   */
  private scopeWithinUser(user: User, requested: PolicyStatement[]): PolicyStatement[] {
    const own = this.permissionsOf(user);
    const statements = own.statements;
    if (statements === null) return own.delegate(requested);
    const holdsGrant = statements.some((s) => s.effect === 'allow' && s.actions.includes('grant'));
    if (holdsGrant) return own.delegate(requested);
    if (requested.some((s) => s.effect === 'allow' && s.actions.includes('grant'))) {
      throw new PolicyError('cannot put grant into an app password: the user lacks the grant action');
    }
    // The synthetic grant only satisfies delegate()'s grant precondition; no requested statement can use it (checked above).
    const withGrant = new Permissions([...statements, { effect: 'allow', actions: ['grant'], resources: ['*'] }]);
    return withGrant.delegate(requested);
  }

  async listAppPasswords(userId: string): Promise<AppPasswordInfo[]> {
    const rows = await this.db
      .selectFrom('app_passwords')
      .select(['id', 'name', 'policies', 'created_at', 'last_used_at', 'revoked_at'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      policies: r.policies === null ? null : parsePolicies(r.policies),
      createdAt: new Date(Number(r.created_at)),
      lastUsedAt: r.last_used_at === null ? null : new Date(Number(r.last_used_at)),
      revokedAt: r.revoked_at === null ? null : new Date(Number(r.revoked_at)),
    }));
  }

  /** Revokes an active app password (by id, or by name) and every session opened with it, in one transaction. */
  async revokeAppPassword(userId: string, idOrName: string): Promise<boolean> {
    return withTransaction(this.kind, this.db, async (trx) => {
      const targets = await trx
        .selectFrom('app_passwords')
        .select('id')
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
        .execute();
      if (targets.length === 0) return false;
      const ids = targets.map((t) => t.id);
      const now = this.now();
      await trx.updateTable('app_passwords').set({ revoked_at: now }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
      await trx
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: 'app-password-revoked' })
        .where('app_password_id', 'in', ids)
        .where('revoked_at', 'is', null)
        .execute();
      return true;
    });
  }
}
