/**
 * Reads of blobs stored without encryption (encrypt_at_rest: false) with
 * their bytes damaged on disk: a flipped byte or a truncated file must never
 * be served as a complete, good-looking response. A whole read is checked
 * against the blob's BLAKE3 address as it streams and is aborted (the socket
 * destroyed, never a clean end) on a mismatch; a short file aborts at once;
 * with a second replica the read fails over to it. A real server, the real
 * SDK, and raw HTTP to see exactly how a response ends.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { describe, expect, it } from 'vitest';

import { LOCATION_BAD, locatorOf, type StoredBlob } from '../../src/blobs/index.js';
import { Scrubber } from '../../src/blobs/scrub.js';
import { anvilPerTest, describeEachEngine, type EngineName, s3Error, type TestAnvil } from '../support/anvil.js';
import { fsBackends } from '../support/backends.js';
import { sdkSigner } from '../support/sdk-signer.js';

const MiB = 1024 * 1024;
/** Far longer than any of these reads takes; only a hang reaches it. */
const HANG_BOUND_MS = 20_000;

interface RawResult {
  status: number;
  contentLength: number;
  received: Buffer;
  /** 'end': the body ended cleanly; 'aborted': the connection was cut (or errored) mid-body. */
  ending: 'end' | 'aborted' | 'hung';
}

/** A signed GET over a fresh connection, reporting exactly how the response ended. */
async function rawGet(t: TestAnvil, path: string, headers: Record<string, string> = {}): Promise<RawResult> {
  const u = new URL(path, t.endpoint);
  const query = Object.fromEntries(u.searchParams);
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query,
    headers: { host: u.host, ...headers },
  });
  const signed = await sdkSigner({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, t.config.region).sign(request);
  return new Promise<RawResult>((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), method: 'GET', path, headers: signed.headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (ending: RawResult['ending']) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ending === 'hung') req.destroy();
        resolve({
          status: res.statusCode!,
          contentLength: Number(res.headers['content-length'] ?? -1),
          received: Buffer.concat(chunks),
          ending,
        });
      };
      const timer = setTimeout(() => finish('hung'), HANG_BOUND_MS);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(res.complete ? 'end' : 'aborted'));
      res.on('aborted', () => finish('aborted'));
      res.on('error', () => finish('aborted'));
      res.on('close', () => finish(res.complete ? 'end' : 'aborted'));
    });
    req.end();
  });
}

/** Reads a whole object with the SDK; rejects if the body does not arrive complete. */
async function sdkGet(t: TestAnvil, bucket: string, key: string, range?: string): Promise<Buffer> {
  const res = await t.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** The blob row (with its replicas) of an object of one blob. */
async function blobOf(t: TestAnvil, size: number): Promise<StoredBlob> {
  const row = await t.anvil.meta.data.selectFrom('blobs').selectAll().where('size', '=', size).executeTakeFirstOrThrow();
  return (await t.anvil.core.blobs.replicas.lookup(t.anvil.meta.data, row.tenant_id, [row.hash])).get(row.hash)!;
}

function flipByte(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0x5a;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

describeEachEngine('plaintext blobs: damaged bytes are never served as good', (engine: EngineName) => {
  const { start, dirs } = anvilPerTest(engine, { config: { encryptAtRest: false } });

  /** One plaintext object of `size` random bytes and the path of its (only) blob file. */
  async function stored(t: TestAnvil, bucket: string, key: string, size: number): Promise<{ data: Buffer; file: string }> {
    await t.s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
    const data = crypto.randomBytes(size);
    await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    const blob = await blobOf(t, size);
    const file = t.anvil.core.blobs.staging.blobPath(blob.tenantId, blob.hash, blob.fileId);
    // Stored as plaintext: the file is the body itself (what makes a flipped byte invisible to AES-GCM).
    expect(fs.readFileSync(file).equals(data)).toBe(true);
    return { data, file };
  }

  describe('one replica', () => {
    it('a flipped byte in a large blob aborts the whole GET before its last bytes: raw HTTP and the SDK', async () => {
      const t = await start();
      const size = 5 * MiB + 777;
      const { file } = await stored(t, 'rot', 'large', size);
      flipByte(file, 3 * MiB + 5);

      const raw = await rawGet(t, '/rot/large');
      expect(raw.status).toBe(200);
      expect(raw.contentLength).toBe(size);
      expect(raw.ending).toBe('aborted');
      expect(raw.received.length).toBeLessThan(size);

      await expect(sdkGet(t, 'rot', 'large')).rejects.toThrow();
      // The server keeps serving.
      const fine = await stored(t, 'rot', 'fine', 2 * MiB);
      expect((await sdkGet(t, 'rot', 'fine')).equals(fine.data)).toBe(true);
    });

    it('a flipped last byte is caught too: the final chunk is never sent', async () => {
      const t = await start();
      const size = 3 * MiB;
      const { data, file } = await stored(t, 'rot', 'tail', size);
      flipByte(file, size - 1);
      const raw = await rawGet(t, '/rot/tail');
      expect(raw.ending).toBe('aborted');
      expect(raw.received.length).toBeLessThan(size);
      // What did arrive is a prefix of the true body (nothing past the damage was sent).
      expect(raw.received.equals(data.subarray(0, raw.received.length))).toBe(true);
    });

    it('a flipped byte in a small blob answers an error before any byte, for the whole object and for a range of it', async () => {
      const t = await start();
      const { file } = await stored(t, 'rot', 'small', 100_000);
      flipByte(file, 99_000);
      const err = await s3Error(sdkGet(t, 'rot', 'small'));
      expect(err.$metadata.httpStatusCode).toBe(503);
      // A range far from the damage: the small blob is read whole and checked, so it is refused too.
      const ranged = await s3Error(sdkGet(t, 'rot', 'small', 'bytes=0-99'));
      expect(ranged.$metadata.httpStatusCode).toBe(503);
    });

    it('a truncated large blob aborts the connection at once instead of hanging, whole or ranged', async () => {
      const t = await start();
      const size = 4 * MiB + 100;
      const { file } = await stored(t, 'cut', 'large', size);
      fs.truncateSync(file, 2 * MiB + 3);

      const raw = await rawGet(t, '/cut/large');
      expect(raw.status).toBe(200);
      expect(raw.contentLength).toBe(size);
      expect(raw.ending).toBe('aborted');
      expect(raw.received.length).toBeLessThan(size);

      // A range across the cut: unverified by hash, but its length is checked.
      const ranged = await rawGet(t, '/cut/large', { range: `bytes=${MiB}-${3 * MiB}` });
      expect(ranged.status).toBe(206);
      expect(ranged.ending).toBe('aborted');
      expect(ranged.received.length).toBeLessThan(2 * MiB + 1);

      await expect(sdkGet(t, 'cut', 'large')).rejects.toThrow();
      // A range wholly past the cut: refused before the headers.
      const past = await s3Error(sdkGet(t, 'cut', 'large', `bytes=${3 * MiB}-${3 * MiB + 10}`));
      expect(past.$metadata.httpStatusCode).toBe(503);
    });

    it('a truncated small blob answers an error, never a short body', async () => {
      const t = await start();
      const { file } = await stored(t, 'cut', 'small', 50_000);
      fs.truncateSync(file, 20_000);
      expect((await s3Error(sdkGet(t, 'cut', 'small'))).$metadata.httpStatusCode).toBe(503);
      expect((await s3Error(sdkGet(t, 'cut', 'small', 'bytes=0-9'))).$metadata.httpStatusCode).toBe(503);
    });

    it('ranges of a large blob are length-checked but not hash-checked (as the README says); the whole GET is', async () => {
      const t = await start();
      const size = 3 * MiB;
      const { data, file } = await stored(t, 'rot', 'ranged', size);
      flipByte(file, 2 * MiB);
      // This pins the documented limit: a range within a large plaintext blob is served as stored.
      const res = await sdkGet(t, 'rot', 'ranged', `bytes=${2 * MiB - 10}-${2 * MiB + 10}`);
      expect(res.length).toBe(21);
      expect(res.equals(data.subarray(2 * MiB - 10, 2 * MiB + 11))).toBe(false);
      await expect(sdkGet(t, 'rot', 'ranged')).rejects.toThrow();
    });

    it('a multipart object with a damaged part: the whole GET aborts, and so does a GET of that part', async () => {
      const t = await start();
      await t.s3.send(new CreateBucketCommand({ Bucket: 'mpu' }));
      const parts = [crypto.randomBytes(5 * MiB), crypto.randomBytes(2 * MiB + 1)];
      const { UploadId } = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'obj' }));
      const etags: string[] = [];
      for (const [i, p] of parts.entries()) {
        etags.push((await t.s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'obj', UploadId, PartNumber: i + 1, Body: p }))).ETag!);
      }
      await t.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'mpu',
          Key: 'obj',
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      const second = await blobOf(t, parts[1].length);
      flipByte(t.anvil.core.blobs.staging.blobPath(second.tenantId, second.hash, second.fileId), 1000);
      const raw = await rawGet(t, '/mpu/obj');
      expect(raw.status).toBe(200);
      expect(raw.ending).toBe('aborted');
      expect(raw.received.length).toBeLessThan(7 * MiB + 1);
      const part2 = await rawGet(t, '/mpu/obj?partNumber=2');
      expect(part2.status).toBe(206);
      expect(part2.ending).toBe('aborted');
      // The undamaged part still reads whole.
      const part1 = await t.s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'obj', PartNumber: 1 }));
      expect(Buffer.from(await part1.Body!.transformToByteArray()).equals(parts[0])).toBe(true);
    });
  });

  describe('two replicas', () => {
    async function startReplicated(): Promise<{ t: TestAnvil; roots: Record<string, string> }> {
      const { storage, roots } = fsBackends(['a', 'b']);
      dirs.push(...Object.values(roots));
      const t = await start({ storage: { ...storage, replication: 2 } });
      await t.s3.send(new CreateBucketCommand({ Bucket: 'rep' }));
      return { t, roots };
    }

    /** The file of the replica a read tries first (the one whose damage the client would meet). */
    function firstReplicaFile(t: TestAnvil, roots: Record<string, string>, blob: StoredBlob): { backend: string; file: string } {
      const plan = (
        t.anvil.core.blobs.replicas as unknown as { readPlan(b: StoredBlob, n: number): Array<{ backend: { name: string } }> }
      ).readPlan(blob, blob.size);
      const backend = plan[0].backend.name;
      return { backend, file: `${roots[backend]}/blobs/${locatorOf(blob)}` };
    }

    async function stateOf(t: TestAnvil, blob: StoredBlob, backend: string): Promise<number> {
      const row = await t.anvil.meta.data
        .selectFrom('blob_locations')
        .select('state')
        .where('tenant_id', '=', blob.tenantId)
        .where('hash', '=', blob.hash)
        .where('backend', '=', backend)
        .executeTakeFirstOrThrow();
      return Number(row.state);
    }

    it('a small object with one corrupt replica is served correctly at once; the replica is marked and repaired', async () => {
      const { t, roots } = await startReplicated();
      const data = crypto.randomBytes(150_000);
      await t.s3.send(new PutObjectCommand({ Bucket: 'rep', Key: 'small', Body: data }));
      const blob = await blobOf(t, data.length);
      const first = firstReplicaFile(t, roots, blob);
      flipByte(first.file, 77);
      expect((await sdkGet(t, 'rep', 'small')).equals(data)).toBe(true);
      await expect.poll(() => stateOf(t, blob, first.backend)).toBe(LOCATION_BAD);
      await new Scrubber(t.anvil.core.blobs).runPass();
      expect(fs.readFileSync(first.file).equals(data)).toBe(true);
      expect((await new Scrubber(t.anvil.core.blobs).status()).badReplicas).toBe(0);
    });

    it('a large object whose first replica is truncated is served whole from the other (failover from the same byte)', async () => {
      const { t, roots } = await startReplicated();
      const data = crypto.randomBytes(4 * MiB + 3);
      await t.s3.send(new PutObjectCommand({ Bucket: 'rep', Key: 'cut', Body: data }));
      const blob = await blobOf(t, data.length);
      const first = firstReplicaFile(t, roots, blob);
      fs.truncateSync(first.file, MiB + 17);
      expect((await sdkGet(t, 'rep', 'cut')).equals(data)).toBe(true);
      await expect.poll(() => stateOf(t, blob, first.backend)).toBe(LOCATION_BAD);
    });

    it('a large object whose first replica has a flipped byte: that read aborts, the replica is marked, the retry is served correctly', async () => {
      const { t, roots } = await startReplicated();
      const data = crypto.randomBytes(4 * MiB + 3);
      await t.s3.send(new PutObjectCommand({ Bucket: 'rep', Key: 'rot', Body: data }));
      const blob = await blobOf(t, data.length);
      const first = firstReplicaFile(t, roots, blob);
      flipByte(first.file, 2 * MiB);
      // Bytes were on their way before the end of the blob showed the damage: that response must fail.
      const raw = await rawGet(t, '/rep/rot');
      expect(raw.ending).toBe('aborted');
      expect(raw.received.length).toBeLessThan(data.length);
      // Marked before the response was aborted, so a client's retry already goes to the good replica.
      expect(await stateOf(t, blob, first.backend)).toBe(LOCATION_BAD);
      expect((await sdkGet(t, 'rep', 'rot')).equals(data)).toBe(true);
      await new Scrubber(t.anvil.core.blobs).runPass();
      expect(fs.readFileSync(first.file).equals(data)).toBe(true);
      expect((await sdkGet(t, 'rep', 'rot')).equals(data)).toBe(true);
    });
  });
});
