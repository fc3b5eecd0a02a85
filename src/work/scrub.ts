/**
 * Integrity scrub: walks every blob in (tenant, hash) order at a bounded
 * rate, re-hashes its file with BLAKE3 and records the result. A blob whose
 * bytes no longer match its address (or whose file is missing) is marked
 * corrupt and logged; `anvil admin scrub status` lists them. Repair from a
 * replica arrives with replication; here detection is the job.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import type { CoreContext } from '../core/context.js';

export interface ScrubStatus {
  blobs: number;
  verified: number;
  corrupt: Array<{ tenantId: string; hash: string; fileId: string }>;
}

export async function hashFile(path: string): Promise<string> {
  const hasher = new Blake3Hasher();
  for await (const chunk of fs.createReadStream(path, { highWaterMark: 1 << 20 })) hasher.update(chunk as Buffer);
  return hasher.digest('hex');
}

export class Scrubber {
  private cursor: { tenant: string; hash: string } | undefined;

  constructor(
    private readonly ctx: CoreContext,
    private readonly log?: Logger,
  ) {}

  /**
   * Verifies blobs until about `budgetBytes` were read or the end of the
   * blobs is reached (the next slice starts over). Returns bytes read.
   */
  async runSlice(budgetBytes: number): Promise<number> {
    const db = this.ctx.meta.regional;
    let read = 0;
    while (read < budgetBytes) {
      let q = db.selectFrom('blobs').select(['tenant_id', 'hash', 'file_id', 'size']).orderBy('tenant_id').orderBy('hash').limit(50);
      const c = this.cursor;
      if (c) q = q.where((eb) => eb.or([eb('tenant_id', '>', c.tenant), eb.and([eb('tenant_id', '=', c.tenant), eb('hash', '>', c.hash)])]));
      const rows = await q.execute();
      if (rows.length === 0) {
        this.cursor = undefined; // a full pass is done; the next slice starts a new one
        return read;
      }
      for (const row of rows) {
        this.cursor = { tenant: row.tenant_id, hash: row.hash };
        read += Number(row.size);
        await this.verify(row.tenant_id, row.hash, row.file_id);
        if (read >= budgetBytes) break;
      }
    }
    return read;
  }

  async verify(tenantId: string, hash: string, fileId: string): Promise<boolean> {
    let actual: string | null;
    try {
      actual = await hashFile(this.ctx.blobs.blobPath(tenantId, hash, fileId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      actual = null;
    }
    const ok = actual === hash;
    if (!ok) this.log?.error({ tenantId, hash, fileId, actual }, actual === null ? 'scrub: blob file missing' : 'scrub: blob corrupt');
    await this.ctx.meta.regional
      .updateTable('blobs')
      .set({ verified_at: Date.now(), corrupt: ok ? 0 : 1 })
      .where('tenant_id', '=', tenantId)
      .where('hash', '=', hash)
      .where('file_id', '=', fileId)
      .execute();
    return ok;
  }

  async status(): Promise<ScrubStatus> {
    const db = this.ctx.meta.regional;
    const counts = await db
      .selectFrom('blobs')
      .select((eb) => [eb.fn.countAll<number>().as('blobs'), eb.fn.count<number>('verified_at').as('verified')])
      .executeTakeFirstOrThrow();
    const corrupt = await db.selectFrom('blobs').select(['tenant_id', 'hash', 'file_id']).where('corrupt', '=', 1).execute();
    return {
      blobs: Number(counts.blobs),
      verified: Number(counts.verified),
      corrupt: corrupt.map((r) => ({ tenantId: r.tenant_id, hash: r.hash, fileId: r.file_id })),
    };
  }
}
