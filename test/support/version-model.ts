/**
 * What a versioned bucket must hold, built from the answers a client got:
 * the crash test's model of a key's history under concurrent writes and
 * deletes and SIGKILLs.
 *
 * Facts come only from acknowledged responses (a PUT's x-amz-version-id, a
 * delete marker's id, a delete by version id). A request that got no answer
 * (the server died under it) stays pending: after the restart it may have
 * landed or not, and the listing decides, once. `resolve` checks a complete
 * ListObjectVersions against the model:
 *
 * - every acknowledged version or marker not acknowledged-deleted is listed,
 *   with its ETag and size; nothing acknowledged-deleted comes back;
 * - anything else listed is the work of one pending request (a PUT whose
 *   body has that ETag and size, or a plain delete), each used at most once;
 * - no version id appears twice (in a key or across the bucket);
 * - a key's entries are in id order (newest first), exactly one is the
 *   latest and it is the first;
 * - ids follow real time: a request sent after another was acknowledged has
 *   the newer id (across restarts too: a version that landed before a kill
 *   is older than anything written after it).
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** A broken promise of the server's (as opposed to a request that died with it): fails the test. */
export class ModelViolation extends Error {
  override name = 'ModelViolation';
}

export interface Listed {
  key: string;
  versionId: string;
  isLatest: boolean;
  marker: boolean;
  etag?: string;
  size?: number;
}

export interface KnownVersion {
  key: string;
  versionId: string;
  marker: boolean;
  /** sha256 of the body (versions only). */
  sha?: string;
  etag?: string;
  size?: number;
  sentAt: number;
  /** When the answer came, or for a request that landed unanswered, when the server was killed. */
  ackedAt: number;
  acknowledged: boolean;
  /** Read back by version id since it became known. */
  verified: boolean;
}

/** Settles a write with its answer (version id and ETag), or as refused (nothing written). */
export type WriteAck = ((versionId: string | undefined, etag: string | undefined) => void) & { refused(): void };

type Pending =
  | { kind: 'put'; sha: string; etag: string; size: number; sentAt: number }
  | { kind: 'marker'; sentAt: number }
  | { kind: 'delete'; versionId: string; sentAt: number };

interface KeyHistory {
  known: Map<string, KnownVersion>;
  gone: Set<string>;
  pending: Set<Pending>;
}

export interface ResolveResult {
  /** Versions and markers that became known since the last resolve (to read back by id). */
  fresh: KnownVersion[];
  /** Requests that died with the server and had landed / had not. */
  landed: number;
  lost: number;
}

const now = () => performance.now();

export class VersionModel {
  readonly keys = new Map<string, KeyHistory>();
  acknowledged = 0;

  private history(key: string): KeyHistory {
    let h = this.keys.get(key);
    if (!h) this.keys.set(key, (h = { known: new Map(), gone: new Set(), pending: new Set() }));
    return h;
  }

  /** The versions and markers of a key that are certain to exist. */
  known(key: string): KnownVersion[] {
    return [...this.history(key).known.values()];
  }

  /** A PUT about to be sent; call the returned function with its answer. */
  put(key: string, body: Buffer): WriteAck {
    const md5 = crypto.createHash('md5').update(body).digest('hex');
    return this.write(key, { sha: crypto.createHash('sha256').update(body).digest('hex'), etag: `"${md5}"`, size: body.length });
  }

  /**
   * A write of known content about to be sent (a PUT, a Complete, a copy of a
   * known version); call the returned function with its answer.
   */
  write(key: string, c: { sha: string; etag: string; size: number }): WriteAck {
    const op: Pending = { kind: 'put', ...c, sentAt: now() };
    const h = this.history(key);
    h.pending.add(op);
    const ack = (versionId: string | undefined, etag: string | undefined) => {
      if (!versionId) throw new ModelViolation(`write of ${key}: acknowledged without x-amz-version-id`);
      if (etag !== op.etag) throw new ModelViolation(`write of ${key}: ETag ${etag}, expected ${op.etag}`);
      h.pending.delete(op);
      this.learn(key, { versionId, marker: false, sha: op.sha, etag: op.etag, size: op.size, sentAt: op.sentAt }, true);
    };
    return Object.assign(ack, { refused: () => void h.pending.delete(op) });
  }

  /** Whether a version may be gone by now (it is not known, or a delete of it is under way). */
  mayBeGone(key: string, versionId: string): boolean {
    const h = this.history(key);
    return !h.known.has(versionId) || [...h.pending].some((p) => p.kind === 'delete' && p.versionId === versionId);
  }

  /** A delete without a version id (a delete marker is due); call the returned function with its answer. */
  deleteToMarker(key: string): (isMarker: boolean | undefined, versionId: string | undefined) => void {
    const op: Pending = { kind: 'marker', sentAt: now() };
    const h = this.history(key);
    h.pending.add(op);
    return (isMarker, versionId) => {
      if (isMarker !== true || !versionId) {
        throw new ModelViolation(`DELETE ${key}: acknowledged with delete-marker ${isMarker}, version id ${versionId}`);
      }
      h.pending.delete(op);
      this.learn(key, { versionId, marker: true, sentAt: op.sentAt }, true);
    };
  }

  /** A delete of one version by id; call the returned function with the version id it answered. */
  deleteVersion(key: string, versionId: string): (answeredId: string | undefined) => void {
    const op: Pending = { kind: 'delete', versionId, sentAt: now() };
    const h = this.history(key);
    h.pending.add(op);
    return (answeredId) => {
      if (answeredId !== versionId) throw new ModelViolation(`DELETE ${key}?versionId=${versionId}: answered version id ${answeredId}`);
      h.pending.delete(op);
      h.known.delete(versionId);
      h.gone.add(versionId);
      this.acknowledged++;
    };
  }

  private learn(key: string, v: Omit<KnownVersion, 'key' | 'ackedAt' | 'acknowledged' | 'verified'>, acknowledged: boolean, at = now()) {
    const h = this.history(key);
    if ([...this.keys.values()].some((o) => o.known.has(v.versionId) || o.gone.has(v.versionId))) {
      throw new ModelViolation(`${key}: version id ${v.versionId} handed out twice`);
    }
    h.known.set(v.versionId, { ...v, key, ackedAt: at, acknowledged, verified: false });
    if (acknowledged) this.acknowledged++;
  }

  /**
   * Checks a complete listing (every page, in the order received) taken after
   * a restart, with no request in flight; pending requests are settled by
   * what it shows. `killedAt` is when the server died (from `now()`).
   */
  resolve(listing: Listed[], killedAt: number): ResolveResult {
    const problems: string[] = [];
    const result: ResolveResult = { fresh: [], landed: 0, lost: 0 };
    const seenIds = new Map<string, string>();
    const byKey = new Map<string, Listed[]>();
    for (const l of listing) {
      const other = seenIds.get(l.versionId);
      if (other !== undefined) problems.push(`version id ${l.versionId} listed twice (${other} and ${l.key})`);
      seenIds.set(l.versionId, l.key);
      const list = byKey.get(l.key) ?? [];
      list.push(l);
      byKey.set(l.key, list);
    }
    for (const key of byKey.keys()) this.history(key);

    for (const [key, h] of this.keys) {
      const listed = byKey.get(key) ?? [];
      for (let i = 1; i < listed.length; i++) {
        if (!(listed[i - 1].versionId < listed[i].versionId)) {
          problems.push(`${key}: listed out of order: ${listed[i - 1].versionId} before ${listed[i].versionId}`);
        }
      }
      const latest = listed.filter((l) => l.isLatest);
      if (listed.length > 0 && (latest.length !== 1 || !listed[0].isLatest)) {
        problems.push(
          `${key}: ${latest.length} IsLatest among ${listed.length} (first ${listed[0].versionId} IsLatest=${listed[0].isLatest})`,
        );
      }
      const listedIds = new Map(listed.map((l) => [l.versionId, l]));
      const pendingDeletes = new Set([...h.pending].flatMap((p) => (p.kind === 'delete' ? [p.versionId] : [])));

      for (const v of [...h.known.values()]) {
        const l = listedIds.get(v.versionId);
        if (!l) {
          if (pendingDeletes.has(v.versionId)) {
            h.known.delete(v.versionId);
            h.gone.add(v.versionId);
          } else {
            problems.push(
              `${key}: ${v.acknowledged ? 'acknowledged' : 'seen'} ${v.marker ? 'delete marker' : 'version'} ${v.versionId} lost`,
            );
          }
          continue;
        }
        if (l.marker !== v.marker) problems.push(`${key}: ${v.versionId} listed as ${l.marker ? 'a marker' : 'a version'}`);
        if (!v.marker && (l.etag !== v.etag || l.size !== v.size)) {
          problems.push(`${key}: ${v.versionId} listed with ETag ${l.etag} size ${l.size}, written ${v.etag} size ${v.size}`);
        }
      }
      const puts = [...h.pending].filter((p): p is Extract<Pending, { kind: 'put' }> => p.kind === 'put');
      const markers = [...h.pending].filter((p) => p.kind === 'marker');
      for (const l of listed) {
        if (h.known.has(l.versionId)) continue;
        if (h.gone.has(l.versionId)) {
          problems.push(`${key}: ${l.versionId} came back after its delete was acknowledged`);
          continue;
        }
        // Unknown: it must be the work of a request that died unanswered.
        let source: Pending | undefined;
        if (l.marker) source = markers.shift();
        else {
          const i = puts.findIndex((p) => p.etag === l.etag && p.size === l.size);
          if (i >= 0) source = puts.splice(i, 1)[0];
        }
        if (!source) {
          problems.push(
            `${key}: ${l.marker ? 'delete marker' : `version (ETag ${l.etag}, size ${l.size})`} ${l.versionId} from no request`,
          );
          continue;
        }
        result.landed++;
        this.learn(
          key,
          source.kind === 'put'
            ? { versionId: l.versionId, marker: false, sha: source.sha, etag: source.etag, size: source.size, sentAt: source.sentAt }
            : { versionId: l.versionId, marker: true, sentAt: source.sentAt },
          false,
          killedAt,
        );
      }
      result.lost += puts.length + markers.length;
      h.pending.clear();

      // Ids follow real time.
      const known = [...h.known.values()];
      for (const a of known) {
        for (const b of known) {
          if (a.ackedAt < b.sentAt && !(b.versionId < a.versionId)) {
            problems.push(`${key}: ${b.versionId} was written after ${a.versionId} had landed, but does not sort as newer`);
          }
        }
      }
      for (const v of known) if (!v.verified) result.fresh.push(v);
    }
    if (problems.length > 0) throw new ModelViolation(problems.join('\n'));
    return result;
  }
}
