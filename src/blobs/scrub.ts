/**
 * Integrity scrub and repair. Walks every blob in (tenant, hash) order at a
 * bounded rate and checks each replica: the stored bytes are read whole,
 * decrypted when encrypted (every frame must authenticate) and BLAKE3-hashed;
 * the hash must be the blob's address. Then:
 *
 * - a replica that is missing or fails the check is rewritten from a good
 *   one (at the same locator: a backend's put replaces atomically);
 * - a blob with fewer replicas than it should have (a backend was removed,
 *   or a bucket asked for more) gets new ones where placement puts them;
 * - a blob with no good replica at all is marked corrupt, logged, and listed
 *   by `anvil admin scrub status`.
 *
 * Replicas a read found bad (blob_locations.state) are repaired first, at
 * the start of every slice. A backend that cannot be reached is skipped,
 * never taken for lost: its replicas count until an operator removes it.
 */
import { pipeline } from 'node:stream';

import { Blake3Hasher } from '@napi-rs/blake-hash';
import type { Logger } from 'pino';

import { BackendNotFound, BackendUnavailable } from '../backends/index.js';
import { createDecryptStream } from '../crypto/framed.js';
import { type BlobCursor, blobsAfter, blobsWithBadReplicas, countBadReplicas, markScrubbed, scrubCounts } from '../meta/blobs/index.js';
import type { MetaDatabases } from '../meta/engine.js';
import { LOCATION_OK, locatorOf, SSE_C_KEY_ID, type StoredBlob, storedSizeOf } from './address.js';
import { commitMove, copyVerified } from './moves.js';
import type { Replicas } from './replicas/replicas.js';

/** What the scrub needs: the data database and the replicas it checks and repairs. */
export interface ScrubDeps {
  meta: MetaDatabases;
  replicas: Replicas;
}

export interface ScrubStatus {
  blobs: number;
  verified: number;
  corrupt: Array<{ tenantId: string; hash: string; fileId: string }>;
  /** Replicas marked bad and not yet repaired. */
  badReplicas: number;
}

export type ReplicaCheck = 'ok' | 'bad' | 'unavailable';

export interface BlobCheck {
  good: string[];
  bad: string[];
  unavailable: string[];
  repaired: string[];
  added: string[];
}

export class Scrubber {
  private cursor: BlobCursor | undefined;

  constructor(
    private readonly ctx: ScrubDeps,
    private readonly log?: Logger,
  ) {}

  /**
   * Repairs replicas reads found bad, then verifies blobs until about
   * `budgetBytes` were read or the end of the blobs is reached (the next
   * slice starts over). Returns bytes read.
   */
  async runSlice(budgetBytes: number): Promise<number> {
    const db = this.ctx.meta.data;
    let read = 0;
    for (const m of await blobsWithBadReplicas(db, 50)) read += await this.checkBlob(m.tenantId, m.hash);
    while (read < budgetBytes) {
      const rows = await blobsAfter(db, this.cursor, 50);
      if (rows.length === 0) {
        this.cursor = undefined; // a full pass is done; the next slice starts a new one
        return read;
      }
      for (const row of rows) {
        this.cursor = row;
        read += await this.checkBlob(row.tenantId, row.hash);
        if (read >= budgetBytes) break;
      }
    }
    return read;
  }

  /** Runs whole passes until every blob was checked once (admin and tests). */
  async runPass(): Promise<void> {
    this.cursor = undefined;
    while ((await this.runSlice(Number.MAX_SAFE_INTEGER)) > 0 && this.cursor !== undefined);
    this.cursor = undefined;
  }

  /** Checks, repairs and completes one blob's replicas; returns the bytes read. */
  async checkBlob(tenantId: string, hash: string): Promise<number> {
    const replicas = this.ctx.replicas;
    const blob = (await replicas.lookup(this.ctx.meta.data, tenantId, [hash])).get(hash);
    if (!blob) return 0;
    const result = await this.verifyAndRepair(blob);
    const ok = result.good.length > 0 || result.unavailable.length > 0;
    await markScrubbed(this.ctx.meta.data, blob, ok);
    return storedSizeOf(blob) * blob.locations.length;
  }

  async verifyAndRepair(blob: StoredBlob): Promise<BlobCheck> {
    const replicas = this.ctx.replicas;
    const out: BlobCheck = { good: [], bad: [], unavailable: [], repaired: [], added: [] };
    for (const loc of blob.locations) {
      const r = await this.checkReplica(blob, loc.backend);
      out[r === 'ok' ? 'good' : r].push(loc.backend);
    }
    if (out.bad.length > 0) {
      this.log?.error({ tenantId: blob.tenantId, hash: blob.hash, fileId: blob.fileId, bad: out.bad }, 'scrub: replica missing or corrupt');
    }
    const bytes = storedSizeOf(blob);
    if (out.good.length > 0) {
      for (const target of out.bad) {
        try {
          await replicas.copy(blob, out.good[0], target, bytes);
          if ((await this.checkReplica(blob, target)) !== 'ok') continue;
          await replicas.markLocations(blob, [target], LOCATION_OK);
          out.repaired.push(target);
          this.log?.info({ tenantId: blob.tenantId, hash: blob.hash, backend: target, from: out.good[0] }, 'scrub: replica repaired');
        } catch (err) {
          this.log?.warn({ err, tenantId: blob.tenantId, hash: blob.hash, backend: target }, 'scrub: repair failed');
        }
      }
    } else if (out.bad.length > 0 && out.unavailable.length === 0) {
      this.log?.error({ tenantId: blob.tenantId, hash: blob.hash }, 'scrub: no good replica left');
    }
    // Too few replicas (a backend was removed, or a bucket wants more): add them elsewhere.
    const want = blob.replication;
    const have = blob.locations.length;
    if (out.good.length > 0 && have < want) {
      try {
        const targets = await replicas.place(
          bytes,
          want - have,
          blob.locations.map((l) => l.backend),
        );
        await copyVerified(replicas, this, blob, out.good[0], targets, this.log);
        const added = await commitMove(replicas, blob, targets, [], this.log, 'scrub');
        if (added) out.added.push(...targets);
        if (added) this.log?.info({ tenantId: blob.tenantId, hash: blob.hash, added: targets }, 'scrub: re-replicated');
      } catch (err) {
        this.log?.warn({ err, tenantId: blob.tenantId, hash: blob.hash, want, have }, 'scrub: cannot add replicas now');
      }
    }
    return out;
  }

  /** Reads one replica whole and checks it against the blob's hash (decrypting every frame first when encrypted). */
  async checkReplica(blob: StoredBlob, backend: string): Promise<ReplicaCheck> {
    const b = this.ctx.replicas.backends.get(backend);
    if (!b) return 'unavailable';
    try {
      const stored = await b.get(locatorOf(blob));
      // Without the customer's key, an SSE-C blob is checked as stored: its address is the hash of
      // its stored bytes. Any other blob is checked as plaintext (decrypted first when encrypted).
      const sseC = blob.encMasterKeyId === SSE_C_KEY_ID;
      const key = sseC ? undefined : this.ctx.replicas.dataKeyFor(blob);
      const checked = key ? pipeline(stored, createDecryptStream(key, { plainSize: blob.size }), () => undefined) : stored;
      const hasher = new Blake3Hasher();
      let size = 0;
      for await (const chunk of checked) {
        hasher.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return size === (sseC ? storedSizeOf(blob) : blob.size) && hasher.digest('hex') === blob.hash ? 'ok' : 'bad';
    } catch (err) {
      if (err instanceof BackendUnavailable) return 'unavailable';
      if (err instanceof BackendNotFound) return 'bad';
      return 'bad'; // a frame that does not authenticate, a short or long replica
    }
  }

  async status(): Promise<ScrubStatus> {
    const db = this.ctx.meta.data;
    return { ...(await scrubCounts(db)), badReplicas: await countBadReplicas(db) };
  }
}
