/** Tenants and their access keys: the principals S3 requests authenticate as. */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { GlobalSchema, TenantTable } from '../meta/schema.js';
import { decryptSecret, encryptSecret, type MasterKey } from './secrets.js';

export interface Tenant {
  id: string;
  name: string;
  canonicalId: string;
  displayName: string;
}

export interface AccessKeyInfo {
  accessKeyId: string;
  tenant: string;
  createdAt: Date;
}

export class AdminError extends Error {}

const TENANT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ACCESS_KEY_ID = /^[A-Za-z0-9._-]{3,128}$/;

function toTenant(row: TenantTable): Tenant {
  return { id: row.id, name: row.name, canonicalId: row.canonical_id, displayName: row.display_name };
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
  constructor(
    private readonly db: Kysely<GlobalSchema>,
    private readonly master: MasterKey,
  ) {}

  async createTenant(name: string): Promise<Tenant> {
    if (!TENANT_NAME.test(name)) {
      throw new AdminError('tenant name must be 1-63 lower-case letters, digits, ".", "_" or "-"');
    }
    const existing = await this.findTenant(name);
    if (existing) throw new AdminError(`tenant ${name} already exists`);
    const row: TenantTable = {
      id: crypto.randomUUID(),
      name,
      canonical_id: crypto.randomBytes(32).toString('hex'),
      display_name: name,
      created_at: Date.now(),
    };
    await this.db.insertInto('tenants').values(row).execute();
    return toTenant(row);
  }

  async findTenant(name: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toTenant(row);
  }

  async getTenantById(id: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toTenant(row);
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await this.db.selectFrom('tenants').selectAll().orderBy('name').execute();
    return rows.map(toTenant);
  }

  async createKey(
    tenantName: string,
    imported?: { accessKeyId: string; secretAccessKey: string },
  ): Promise<{ accessKeyId: string; secretAccessKey: string; tenant: string }> {
    const tenant = await this.findTenant(tenantName);
    if (!tenant) throw new AdminError(`no tenant named ${tenantName}`);
    const accessKeyId = imported?.accessKeyId ?? generateAccessKeyId();
    const secretAccessKey = imported?.secretAccessKey ?? generateSecret();
    if (!ACCESS_KEY_ID.test(accessKeyId)) throw new AdminError('access key id must be 3-128 of A-Z a-z 0-9 . _ -');
    if (secretAccessKey.length < 8 || secretAccessKey.length > 256) {
      throw new AdminError('secret key must be 8-256 characters');
    }
    const clash = await this.db
      .selectFrom('access_keys')
      .select('access_key_id')
      .where('access_key_id', '=', accessKeyId)
      .executeTakeFirst();
    if (clash) throw new AdminError(`access key ${accessKeyId} already exists`);
    await this.db
      .insertInto('access_keys')
      .values({
        access_key_id: accessKeyId,
        tenant_id: tenant.id,
        secret_enc: encryptSecret(this.master, secretAccessKey),
        master_key_id: this.master.id,
        created_at: Date.now(),
      })
      .execute();
    return { accessKeyId, secretAccessKey, tenant: tenant.name };
  }

  async listKeys(tenantName?: string): Promise<AccessKeyInfo[]> {
    let q = this.db
      .selectFrom('access_keys')
      .innerJoin('tenants', 'tenants.id', 'access_keys.tenant_id')
      .select(['access_keys.access_key_id', 'tenants.name', 'access_keys.created_at']);
    if (tenantName) q = q.where('tenants.name', '=', tenantName);
    const rows = await q.orderBy('tenants.name').orderBy('access_keys.access_key_id').execute();
    return rows.map((r) => ({ accessKeyId: r.access_key_id, tenant: r.name, createdAt: new Date(Number(r.created_at)) }));
  }

  async deleteKey(accessKeyId: string): Promise<boolean> {
    const res = await this.db.deleteFrom('access_keys').where('access_key_id', '=', accessKeyId).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /**
   * The secret and tenant of a key, read from the database on every request
   * so keys deleted by `anvil admin` stop working at once (no cache).
   */
  async lookupKey(accessKeyId: string): Promise<{ secret: string; tenantId: string } | null> {
    const row = await this.db
      .selectFrom('access_keys')
      .select(['secret_enc', 'tenant_id'])
      .where('access_key_id', '=', accessKeyId)
      .executeTakeFirst();
    if (!row) return null;
    return { secret: decryptSecret(this.master, row.secret_enc), tenantId: row.tenant_id };
  }
}
