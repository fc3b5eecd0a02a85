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

import { type EngineKind, withTransaction } from '../meta/engine.js';
import type { ControlDatabase } from '../meta/handles.js';
import {
  activeAppPasswordHashes,
  activeAppPasswordNamed,
  deleteUserRows,
  insertAppPassword,
  insertUser,
  isUniqueViolation,
  listAppPasswordRows,
  listUserRows,
  replacePasswordHash,
  revokeAppPasswordRows,
  revokeUserSessions,
  updateUser,
  type UserRow,
  userRowByEmail,
  userRowById,
} from '../meta/identity/index.js';
import type { UserRole } from '../meta/schema.js';
import { authError } from './auth-errors.js';
import { hashPassword, needsRehash, verifyPassword } from './passwords.js';
import { isPolicyError, parsePolicies, Permissions, policyError, type PolicyStatement } from './policy.js';
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

export type { UserRow };

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
    throw authError('InvalidRequest', `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
}

function checkedPolicies(policies: PolicyStatement[] | null | undefined): PolicyStatement[] | null {
  if (policies === undefined || policies === null) return null;
  try {
    return parsePolicies(policies);
  } catch (err) {
    if (isPolicyError(err)) throw authError('InvalidRequest', err.message);
    throw err;
  }
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

/** Computed once per process: unknown users are "verified" against it so they cost as much as real ones. */
let dummyHash: Promise<string> | undefined;
function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomBytes(16).toString('hex'));
  return dummyHash;
}

export class UserService {
  private readonly now: () => number;

  constructor(
    private readonly db: ControlDatabase,
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
    if (!tenant) throw authError('NotFound', `no tenant named ${tenantName}`);
    const email = normalizeEmail(input.email);
    if (!validEmail(email)) throw authError('InvalidRequest', 'email address is not valid');
    if (input.role !== 'admin' && input.role !== 'member') throw authError('InvalidRequest', 'role must be admin or member');
    checkPassword(input.password);
    // Admins are unrestricted whatever is stored; members' statements are their rights (none when null).
    const policies = checkedPolicies(input.policies);
    if (await this.findUser(tenantName, email)) throw authError('Conflict', `user ${email} already exists`);
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
      await insertUser(this.db, row);
    } catch (err) {
      // The unique (tenant_id, email) index settles a race with a concurrent create.
      if (isUniqueViolation(err)) throw authError('Conflict', `user ${email} already exists`);
      throw err;
    }
    return userFromRow(row);
  }

  async listUsers(tenantName: string): Promise<User[]> {
    const tenant = await this.tenants.findTenant(tenantName);
    if (!tenant) throw authError('NotFound', `no tenant named ${tenantName}`);
    const rows = await listUserRows(this.db, tenant.id);
    return rows.map(userFromRow);
  }

  async getUser(id: string): Promise<User | undefined> {
    const row = await userRowById(this.db, id);
    return row && userFromRow(row);
  }

  async findUser(tenantName: string, email: string): Promise<User | undefined> {
    const row = await this.findUserRow(tenantName, email);
    return row && userFromRow(row);
  }

  private async findUserRow(tenantName: string, email: string): Promise<UserRow | undefined> {
    return userRowByEmail(this.db, tenantName, normalizeEmail(email));
  }

  /** Deletes the user with their sessions, refresh tokens and app passwords (explicitly: no reliance on FK cascades). */
  async deleteUser(id: string): Promise<boolean> {
    return withTransaction(this.kind, this.db, (trx) => deleteUserRows(trx, id));
  }

  /** A new password ends every session: whoever knew the old one is logged out. App passwords stay (revoke them separately). */
  async setPassword(userId: string, password: string): Promise<void> {
    checkPassword(password);
    const hash = await hashPassword(password);
    await withTransaction(this.kind, this.db, async (trx) => {
      if (!(await updateUser(trx, userId, { password_hash: hash }))) throw authError('NotFound', 'no such user');
      await revokeUserSessions(trx, userId, 'password-changed', this.now());
    });
  }

  async setDisabled(userId: string, disabled: boolean): Promise<void> {
    await withTransaction(this.kind, this.db, async (trx) => {
      if (!(await updateUser(trx, userId, { disabled: disabled ? 1 : 0 }))) throw authError('NotFound', 'no such user');
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
    if (!(await updateUser(this.db, userId, set))) throw authError('NotFound', 'no such user');
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
    const apps = await activeAppPasswordHashes(this.db, row.id);
    const app = apps.find((a) => {
      const stored = Buffer.from(a.secret_hash, 'hex');
      return stored.length === candidate.length && crypto.timingSafeEqual(stored, candidate);
    });
    if (app) return { user: userFromRow(row), appPasswordId: app.id };
    if (!(await verifyPassword(password, row.password_hash))) return null;
    if (needsRehash(row.password_hash)) {
      // Conditional on the old hash, so a concurrent setPassword is never overwritten.
      await replacePasswordHash(this.db, row.id, row.password_hash, await hashPassword(password));
    }
    return { user: userFromRow(row), appPasswordId: null };
  }

  async createAppPassword(
    userId: string,
    name: string,
    policies?: PolicyStatement[] | null,
  ): Promise<{ id: string; name: string; password: string }> {
    const user = await this.getUser(userId);
    if (!user) throw authError('NotFound', 'no such user');
    const label = name.trim();
    if (!APP_PASSWORD_NAME.test(label)) throw authError('InvalidRequest', 'app password name must be 1-64 printable characters');
    const requested = checkedPolicies(policies);
    let stored: PolicyStatement[] | null = null;
    if (requested !== null) {
      try {
        stored = this.scopeWithinUser(user, requested);
      } catch (err) {
        if (isPolicyError(err)) throw authError('Forbidden', err.message);
        throw err;
      }
    }
    const password = generateAppPassword();
    const id = crypto.randomUUID();
    try {
      await withTransaction(this.kind, this.db, async (trx) => {
        // Names identify app passwords in the UI and in revokeAppPassword; only active ones must be unique
        // (also a partial unique index, migration 005, for concurrent creates on PostgreSQL).
        if (await activeAppPasswordNamed(trx, userId, label)) throw authError('Conflict', `an app password named ${label} already exists`);
        await insertAppPassword(trx, {
          id,
          user_id: userId,
          name: label,
          secret_hash: hashAppPassword(password),
          policies: stored && JSON.stringify(stored),
          created_at: this.now(),
          last_used_at: null,
          revoked_at: null,
        });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw authError('Conflict', `an app password named ${label} already exists`);
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
      throw policyError('cannot put grant into an app password: the user lacks the grant action');
    }
    // The synthetic grant only satisfies delegate()'s grant precondition; no requested statement can use it (checked above).
    const withGrant = new Permissions([...statements, { effect: 'allow', actions: ['grant'], resources: ['*'] }]);
    return withGrant.delegate(requested);
  }

  async listAppPasswords(userId: string): Promise<AppPasswordInfo[]> {
    const rows = await listAppPasswordRows(this.db, userId);
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
    const now = this.now();
    return withTransaction(this.kind, this.db, (trx) => revokeAppPasswordRows(trx, userId, idOrName, now));
  }
}
