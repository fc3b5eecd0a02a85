/** Tenants and their access keys: the principals S3 requests authenticate as. */
import crypto from 'node:crypto';

import type { MasterKeyring } from '../crypto/master-keys.js';
import { fail } from '../errors.js';
import type { ControlDatabase } from '../meta/handles.js';
import {
  accessKeyExists,
  accessKeyForAuth,
  deleteAccessKey,
  deleteTenantRow,
  granterKey,
  granterUser,
  insertAccessKey,
  insertServerSecretIfAbsent,
  insertTenant,
  keySecretsNotUnder,
  listAccessKeyRows,
  listTenantRows,
  revokeTenantAccess,
  rewriteKeySecret,
  rewriteServerSecret,
  secretCountsByMasterKey,
  serverSecretRow,
  serverSecretsNotUnder,
  tenantById,
  tenantByName,
  type TenantLimitColumns,
  type TenantRow,
  updateTenantLimits,
} from '../meta/identity/index.js';
import { NO_TENANT_LIMITS, type TenantRateLimits } from './limits.js';
import { checkQuota, type Quota } from './objects/quota.js';
import { parsePolicies, Permissions, permissionsFromColumn, policyError, type PolicyStatement, userPermissions } from './policy.js';

export interface Tenant {
  id: string;
  name: string;
  canonicalId: string;
  displayName: string;
  /** Storage quota over all its buckets (core/objects/quota.ts); null: none. */
  quota: Quota;
  /** Its own request rate limits (core/limits.ts); null: the server's default. */
  rateLimit: TenantRateLimits;
}

/** A change of a tenant's quota and rate limits: absent fields stay, null resets one. */
export interface TenantLimitsChange {
  quota?: Partial<Quota>;
  rateLimit?: Partial<TenantRateLimits>;
}

export interface AccessKeyInfo {
  accessKeyId: string;
  tenant: string;
  createdAt: Date;
  name: string | null;
  /** null = tenant-wide. */
  policies: PolicyStatement[] | null;
  createdBy: string | null;
}

export interface CreateKeyOptions {
  /** Import this id and secret instead of generating them. */
  imported?: { accessKeyId: string; secretAccessKey: string };
  /** Scope the key to these statements (omit for a tenant-wide key). */
  policies?: PolicyStatement[];
  name?: string;
  /**
   * Who is creating the key, with their rights: the key may have at most
   * those (the `grant` rule), and keeps their denies. Omit for an operator.
   */
  grantor?: { id: string; permissions: Permissions };
}

/** A verified key's identity and rights, as S3 and the admin API need them. */
export interface KeyPrincipal {
  secret: string;
  tenantId: string;
  permissions: Permissions;
  /** The tenant's own request rate limits (null: the server default). */
  rateLimits: TenantRateLimits;
  /** Set for a user session's S3 credentials (session-credentials.ts): the key is that session, not a stored key. */
  session?: { userId: string; sessionId: string };
}

/** Keys that are not stored but derived (a session's S3 credentials): lookupKey asks these first. */
export interface TemporaryKeys {
  owns(accessKeyId: string): boolean;
  /** The key's principal; its rate limits are its tenant's, which lookupKey adds. */
  lookup(accessKeyId: string): Promise<Omit<KeyPrincipal, 'rateLimits'> | null>;
}

/** The tenant that administers the server: its unrestricted keys and admin users are root. */
export const ROOT_TENANT = 'root';

const TENANT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ACCESS_KEY_ID = /^[A-Za-z0-9._-]{3,128}$/;
/** The form of session credentials' key ids (session-credentials.ts), which no stored key may take. */
const SESSION_KEY_ID = /^ASIA[0-9A-F]{32}\d{10}$/;

const numberOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function rateLimitsOf(row: Pick<TenantRow, 'rate_limit' | 'rate_burst' | 'key_rate_limit' | 'key_rate_burst'>): TenantRateLimits {
  return {
    requestsPerSecond: numberOrNull(row.rate_limit),
    burst: numberOrNull(row.rate_burst),
    perKeyRequestsPerSecond: numberOrNull(row.key_rate_limit),
    perKeyBurst: numberOrNull(row.key_rate_burst),
  };
}

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    canonicalId: row.canonical_id,
    displayName: row.display_name,
    quota: { bytes: numberOrNull(row.quota_bytes), objects: numberOrNull(row.quota_objects) },
    rateLimit: rateLimitsOf(row),
  };
}

/** A count a limit may be: a whole number from 0 (or from 1). */
function checkCount(name: string, v: number | null | undefined, min = 0): void {
  if (v === null || v === undefined) return;
  if (!Number.isSafeInteger(v) || v < min) throw fail.invalid('InvalidRequest', `${name} must be a whole number of at least ${min}`);
}

function checkRate(name: string, v: number | null | undefined): void {
  if (v === null || v === undefined) return;
  if (!Number.isFinite(v) || v < 0 || v > 1e9)
    throw fail.invalid('InvalidRequest', `${name} must be a number of requests per second from 0`);
}

/** AWS-like ids: 20 upper-case alphanumerics starting with AK; 40-char base64-ish secrets. */
function generateAccessKeyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = crypto.randomBytes(18);
  return 'AK' + Array.from(bytes, (b) => alphabet[b % 32]).join('');
}
function generateSecret(): string {
  return crypto.randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}

export class TenantService {
  /** Session credentials, when the node has logins (set once at assembly; `anvil admin` has none). */
  temporaryKeys: TemporaryKeys | undefined;

  constructor(
    private readonly db: ControlDatabase,
    private readonly master: MasterKeyring,
  ) {}

  async createTenant(name: string): Promise<Tenant> {
    if (!TENANT_NAME.test(name)) {
      throw fail.invalid('InvalidRequest', 'tenant name must be 1-63 lower-case letters, digits, ".", "_" or "-"');
    }
    const existing = await this.findTenant(name);
    if (existing) throw fail.conflict('Conflict', `tenant ${name} already exists`);
    const row: TenantRow = {
      id: crypto.randomUUID(),
      name,
      canonical_id: crypto.randomBytes(32).toString('hex'),
      display_name: name,
      created_at: Date.now(),
      quota_bytes: null,
      quota_objects: null,
      rate_limit: null,
      rate_burst: null,
      key_rate_limit: null,
      key_rate_burst: null,
    };
    await insertTenant(this.db, row);
    return toTenant(row);
  }

  async findTenant(name: string): Promise<Tenant | undefined> {
    const row = await tenantByName(this.db, name);
    return row && toTenant(row);
  }

  async getTenantById(id: string): Promise<Tenant | undefined> {
    const row = await tenantById(this.db, id);
    return row && toTenant(row);
  }

  /** Sets a tenant's quota and rate limits (absent fields stay, null resets one); the tenant as it now is. */
  async setLimits(name: string, change: TenantLimitsChange): Promise<Tenant> {
    const tenant = await this.findTenant(name);
    if (!tenant) throw fail.notFound('NotFound', `no tenant named ${name}`);
    const q = change.quota ?? {};
    const r = change.rateLimit ?? {};
    checkQuota(q);
    checkRate('requests per second', r.requestsPerSecond);
    checkRate('requests per second per key', r.perKeyRequestsPerSecond);
    checkCount('burst', r.burst, 1);
    checkCount('burst per key', r.perKeyBurst, 1);
    const columns: TenantLimitColumns = {
      ...(q.bytes !== undefined && { quota_bytes: q.bytes }),
      ...(q.objects !== undefined && { quota_objects: q.objects }),
      ...(r.requestsPerSecond !== undefined && { rate_limit: r.requestsPerSecond }),
      ...(r.burst !== undefined && { rate_burst: r.burst }),
      ...(r.perKeyRequestsPerSecond !== undefined && { key_rate_limit: r.perKeyRequestsPerSecond }),
      ...(r.perKeyBurst !== undefined && { key_rate_burst: r.perKeyBurst }),
    };
    if (!(await updateTenantLimits(this.db, tenant.id, columns))) throw fail.notFound('NotFound', `no tenant named ${name}`);
    return (await this.findTenant(name))!;
  }

  /**
   * Deletes a tenant that owns no bucket: its keys, users and sessions go
   * with it. The root tenant is never deleted. Throws NoSuchTenant, or a
   * Conflict naming the buckets still owned (see deleteTenant in admin/ops).
   */
  async deleteTenant(name: string, ownedBuckets: number): Promise<void> {
    const t = await tenantByName(this.db, name);
    if (!t) throw fail.notFound('NotFound', `no tenant named ${name}`);
    if (t.name === ROOT_TENANT) throw fail.invalid('InvalidRequest', 'the root tenant cannot be deleted');
    if (ownedBuckets > 0) {
      throw fail.conflict('TenantNotEmpty', `tenant ${name} still owns ${ownedBuckets} bucket(s): delete them first, or delete with force`);
    }
    await deleteTenantRow(this.db, t.id);
  }

  /** Force deletion's first step: the tenant can do nothing more (keys, users, sessions gone); its buckets go next. */
  async revokeAccess(name: string): Promise<Tenant> {
    const t = await tenantByName(this.db, name);
    if (!t) throw fail.notFound('NotFound', `no tenant named ${name}`);
    if (t.name === ROOT_TENANT) throw fail.invalid('InvalidRequest', 'the root tenant cannot be deleted');
    await revokeTenantAccess(this.db, t.id);
    return (await this.findTenant(name))!;
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await listTenantRows(this.db);
    return rows.map(toTenant);
  }

  async createKey(
    tenantName: string,
    opts: CreateKeyOptions = {},
  ): Promise<{ accessKeyId: string; secretAccessKey: string; tenant: string; policies: PolicyStatement[] | null }> {
    const { imported } = opts;
    const tenant = await this.findTenant(tenantName);
    if (!tenant) throw fail.notFound('NotFound', `no tenant named ${tenantName}`);
    let policies: PolicyStatement[] | null = opts.policies ? parsePolicies(opts.policies) : null;
    if (opts.grantor) {
      // Only operators make tenant-wide keys; for a grantor, "no policy" means "all of my rights".
      if (opts.grantor.permissions.unrestricted) {
        if (policies === null) throw policyError('only a tenant admin may create a tenant-wide key; give the key policies');
      } else {
        policies = opts.grantor.permissions.delegate(policies ?? opts.grantor.permissions.statements!);
      }
    }
    const accessKeyId = imported?.accessKeyId ?? generateAccessKeyId();
    const secretAccessKey = imported?.secretAccessKey ?? generateSecret();
    if (!ACCESS_KEY_ID.test(accessKeyId)) throw fail.invalid('InvalidRequest', 'access key id must be 3-128 of A-Z a-z 0-9 . _ -');
    if (SESSION_KEY_ID.test(accessKeyId)) {
      throw fail.invalid('InvalidRequest', 'access key ids of the form ASIA + 42 digits are session credentials; choose another id');
    }
    if (secretAccessKey.length < 8 || secretAccessKey.length > 256) {
      throw fail.invalid('InvalidRequest', 'secret key must be 8-256 characters');
    }
    if (await accessKeyExists(this.db, accessKeyId)) throw fail.conflict('Conflict', `access key ${accessKeyId} already exists`);
    await insertAccessKey(this.db, {
      access_key_id: accessKeyId,
      tenant_id: tenant.id,
      secret_enc: this.master.encrypt(secretAccessKey).ciphertext,
      master_key_id: this.master.primary.id,
      created_at: Date.now(),
      policies: policies && JSON.stringify(policies),
      name: opts.name ?? null,
      created_by: opts.grantor?.id ?? null,
    });
    return { accessKeyId, secretAccessKey, tenant: tenant.name, policies };
  }

  async listKeys(tenantName?: string): Promise<AccessKeyInfo[]> {
    const rows = await listAccessKeyRows(this.db, tenantName);
    return rows.map((r) => ({
      accessKeyId: r.access_key_id,
      tenant: r.tenant,
      createdAt: new Date(Number(r.created_at)),
      name: r.name,
      policies: r.policies === null ? null : parsePolicies(r.policies),
      createdBy: r.created_by,
    }));
  }

  async deleteKey(accessKeyId: string): Promise<boolean> {
    return deleteAccessKey(this.db, accessKeyId);
  }

  /**
   * The secret and tenant of a key, read from the database on every request
   * so keys deleted by `anvil admin` stop working at once (no cache).
   */
  async lookupKey(accessKeyId: string): Promise<KeyPrincipal | null> {
    if (this.temporaryKeys?.owns(accessKeyId)) {
      const key = await this.temporaryKeys.lookup(accessKeyId);
      if (!key) return null;
      // A session's requests count against its tenant's rate limits like a stored key's.
      const tenant = await tenantById(this.db, key.tenantId);
      return { ...key, rateLimits: tenant ? rateLimitsOf(tenant) : NO_TENANT_LIMITS };
    }
    const row = await accessKeyForAuth(this.db, accessKeyId);
    if (!row) return null;
    let permissions = permissionsFromColumn(row.policies);
    if (row.created_by !== null) permissions = permissions.intersect(await this.creatorRights(row.created_by, row.tenant_id, 0));
    return {
      secret: this.master.decrypt(row.secret_enc, row.master_key_id),
      tenantId: row.tenant_id,
      permissions,
      rateLimits: rateLimitsOf(row),
    };
  }

  /**
   * The current rights of whoever created a key under `grant` ('user:<id>' or
   * 'key:<access key id>'): a granted key never outlives or outgrows its
   * maker. A deleted or disabled maker leaves it no rights at all.
   */
  private async creatorRights(createdBy: string, tenantId: string, depth: number): Promise<Permissions> {
    const none = new Permissions([]);
    if (depth > 8) return none;
    const [kind, id] = [createdBy.slice(0, createdBy.indexOf(':')), createdBy.slice(createdBy.indexOf(':') + 1)];
    if (kind === 'user') {
      const user = await granterUser(this.db, id);
      if (!user || user.disabled || user.tenant_id !== tenantId) return none;
      return userPermissions(user.role, user.policies);
    }
    if (kind === 'key') {
      const key = await granterKey(this.db, id);
      if (!key || key.tenant_id !== tenantId) return none;
      const own = permissionsFromColumn(key.policies);
      return key.created_by === null ? own : own.intersect(await this.creatorRights(key.created_by, tenantId, depth + 1));
    }
    return none;
  }

  /**
   * Re-encrypts every stored secret (access keys, server secrets) that is not
   * under the primary master key. Each row is rewritten on its own, so the
   * rotation can run while servers serve: a server holding both keys reads
   * either form. Returns how many rows were rewritten.
   */
  async reencryptSecrets(): Promise<number> {
    const primary = this.master.primary.id;
    let rewritten = 0;
    for (const k of await keySecretsNotUnder(this.db, primary)) {
      const plain = this.master.decrypt(k.secret_enc, k.master_key_id);
      const to = { secretEnc: this.master.encrypt(plain).ciphertext, masterKeyId: primary };
      rewritten += await rewriteKeySecret(this.db, k.access_key_id, k.master_key_id, to);
    }
    for (const s of await serverSecretsNotUnder(this.db, primary)) {
      const plain = this.master.decrypt(s.value_enc, s.master_key_id);
      const to = { valueEnc: this.master.encrypt(plain).ciphertext, masterKeyId: primary };
      rewritten += await rewriteServerSecret(this.db, s.name, s.master_key_id, to);
    }
    return rewritten;
  }

  get primaryMasterKeyId(): string {
    return this.master.primary.id;
  }

  /** How many stored secrets are under each master key id (rotation progress). */
  async secretsByMasterKey(): Promise<Record<string, number>> {
    return secretCountsByMasterKey(this.db);
  }

  /**
   * A server-wide secret (such as the token-signing key), created on first
   * use and stored encrypted under the master key. Concurrent first uses on
   * several nodes agree: the first insert wins and everyone reads it back.
   */
  async serverSecret(name: string, generate: () => string): Promise<string> {
    let row = await serverSecretRow(this.db, name);
    if (!row) {
      const enc = this.master.encrypt(generate());
      await insertServerSecretIfAbsent(this.db, { name, value_enc: enc.ciphertext, master_key_id: enc.keyId, created_at: Date.now() });
      row = await serverSecretRow(this.db, name);
    }
    return this.master.decrypt(row!.value_enc, row!.master_key_id);
  }
}
