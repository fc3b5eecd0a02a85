/**
 * Admission control (issue 12, finding 12): a server with small caps (4
 * connections, 2 requests in flight). Two slow uploads hold both request
 * slots: further requests are answered 503 SlowDown (S3 XML, Retry-After),
 * a request that asks for 100-continue is refused before it sends its body,
 * the metrics endpoint stays reachable and reports the counts; idle
 * connections filling the connection cap make the next connection get
 * closed unanswered. The held uploads then complete with the right bytes,
 * and new requests succeed again.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, expect, it } from 'vitest';

import { describeEachEngine, type EngineName, s3Error, useAnvil } from '../support/anvil.js';
import { waitFor } from '../support/backends.js';
import { send, sign, type WireResponse } from '../support/wire.js';

const BUCKET = 'admission';

describeEachEngine('admission control', (engine: EngineName) => {
  const t = useAnvil(engine, { config: { maxConnections: 4, maxConcurrentRequests: 2 } });
  let host: string;
  let port: number;

  beforeAll(async () => {
    ({ hostname: host } = new URL(t.endpoint));
    port = Number(new URL(t.endpoint).port);
    const created = await signed('PUT', `/${BUCKET}`);
    expect(created.status).toBe(200);
    await settled(0, 0);
  });

  /** A signed request over a fresh connection (closed after the answer). */
  async function signed(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<WireResponse> {
    const s = await sign(t, method, path, { payloadHash: 'UNSIGNED-PAYLOAD', headers });
    return send(t, method, s.pathAndQuery, s.headers, body);
  }

  /** Waits until the server counts exactly these open connections and requests in flight. */
  async function settled(connections: number, requests: number): Promise<void> {
    await waitFor(
      `${connections} connections and ${requests} requests`,
      () => t.anvil.admission.openConnections === connections && t.anvil.admission.inflightRequests === requests,
      10_000,
    );
  }

  /** A PUT that sends half its body now and the rest when told. */
  async function slowPut(key: string, body: Buffer): Promise<{ finish(): Promise<{ status: number }> }> {
    const s = await sign(t, 'PUT', `/${BUCKET}/${key}`, {
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(body.length) },
    });
    const req = http.request({ host, port, method: 'PUT', path: s.pathAndQuery, headers: s.headers, agent: false });
    const answer = new Promise<{ status: number }>((resolve, reject) => {
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode! }));
      });
      req.on('error', reject);
    });
    req.write(body.subarray(0, body.length / 2));
    return {
      finish() {
        req.end(body.subarray(body.length / 2));
        return answer;
      },
    };
  }

  async function scrape(): Promise<string> {
    const res = await send(t, 'GET', '/-/metrics', {});
    expect(res.status).toBe(200);
    return res.text;
  }

  function metric(text: string, name: string): number | undefined {
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  }

  it('past the request cap answers 503 SlowDown, past the connection cap closes; the held requests finish and service resumes', async () => {
    const bodies = [crypto.randomBytes(256 * 1024), crypto.randomBytes(300 * 1024)];
    const held = [await slowPut('held-0', bodies[0]), await slowPut('held-1', bodies[1])];
    await settled(2, 2);

    // The request cap is reached: a GET, a PUT with a body and an SDK call are refused with S3's SlowDown.
    const get = await signed('GET', `/${BUCKET}/held-0`);
    expect(get.status).toBe(503);
    expect(get.code).toBe('SlowDown');
    expect(get.text).toMatch(/<RequestId>[0-9A-F]{16}<\/RequestId>/);
    expect(get.headers['retry-after']).toBe('1');
    expect(get.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
    const put = await signed('PUT', `/${BUCKET}/refused`, Buffer.from('not stored'), { 'content-length': '10' });
    expect(put.status).toBe(503);
    expect(put.code).toBe('SlowDown');
    expect(put.headers.connection).toBe('close');
    const sdk = new S3Client({
      endpoint: t.endpoint,
      region: t.config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
      maxAttempts: 1,
    });
    try {
      const err = await s3Error(sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'held-1' })));
      expect(err.name).toBe('SlowDown');
      expect(err.$metadata.httpStatusCode).toBe(503);
    } finally {
      sdk.destroy();
    }

    // A PUT that waits for 100-continue is refused before it sends a byte of its body.
    const expecting = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      void sign(t, 'PUT', `/${BUCKET}/expecting`, {
        payloadHash: 'UNSIGNED-PAYLOAD',
        headers: { 'content-length': String(1024 * 1024), expect: '100-continue' },
      }).then((s) => {
        let continued = false;
        const req = http.request({ host, port, method: 'PUT', path: s.pathAndQuery, headers: s.headers, agent: false });
        req.on('continue', () => {
          continued = true;
          req.end(Buffer.alloc(1024 * 1024));
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, continued }));
        });
        req.on('error', reject);
        req.flushHeaders();
      }, reject);
    });
    expect(expecting).toEqual({ status: 503, continued: false });

    // Metrics are exempt, and report the two held requests and the refusals.
    await settled(2, 2);
    let text = await scrape();
    expect(metric(text, 'anvil_http_inflight_requests')).toBe(2);
    expect(metric(text, 'anvil_http_open_connections')).toBe(3); // the two uploads and the scrape itself
    expect(metric(text, 'anvil_http_rejected_total{kind="request"}')).toBe(4);
    expect(metric(text, 'anvil_http_rejected_total{kind="connection"}')).toBe(0);

    // Two idle connections fill the connection cap: the next one is closed without an answer.
    const idle = [net.connect(port, host), net.connect(port, host)];
    for (const s of idle) s.on('error', () => undefined);
    await settled(4, 2);
    const refused = await signed('GET', `/${BUCKET}/held-0`).then(
      (res) => res,
      (err: NodeJS.ErrnoException) => err,
    );
    expect(refused).toBeInstanceOf(Error);
    expect((refused as NodeJS.ErrnoException).code ?? (refused as Error).message).toMatch(/ECONNRESET|socket hang up|EPIPE/);
    await waitFor('the refused connection to be counted', () => t.anvil.admission.rejectedConnections === 1, 10_000);
    for (const s of idle) s.destroy();
    await settled(2, 2);
    text = await scrape();
    expect(metric(text, 'anvil_http_rejected_total{kind="connection"}')).toBe(1);

    // The held uploads complete, whole and correct.
    const done = await Promise.all(held.map((h) => h.finish()));
    expect(done.map((d) => d.status)).toEqual([200, 200]);
    await settled(0, 0);
    for (const [i, body] of bodies.entries()) {
      const res = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `held-${i}` }));
      expect(Buffer.from(await res.Body!.transformToByteArray()).equals(body)).toBe(true);
    }
    // The refused PUT stored nothing.
    expect((await s3Error(t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'refused' })))).name).toBe('NoSuchKey');

    // New requests succeed again, up to the cap at once.
    const again = await Promise.all([
      t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'after-0', Body: 'zero' })),
      t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'after-1', Body: 'one' })),
    ]);
    expect(again.every((r) => r.$metadata.httpStatusCode === 200)).toBe(true);
    expect(await (await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'after-1' }))).Body!.transformToString()).toBe('one');
    text = await scrape();
    expect(metric(text, 'anvil_http_inflight_requests')).toBe(0);
    expect(metric(text, 'anvil_http_rejected_total{kind="request"}')).toBe(4);
  }, 60_000);
});
