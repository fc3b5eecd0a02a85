/**
 * One request's stream is killed in every way a client or network can kill
 * it — mid-headers, mid-body (PUT, aws-chunked frame, multipart part, form
 * upload, Complete and DeleteObjects documents), during a GET, a reader that
 * stops reading and then vanishes, half-closed and reset sockets, slow
 * headers — while other requests run on the same server. On both engines:
 * the others complete with the right bytes, the server keeps serving, no
 * process-level error escapes, the killed request leaves no object, part or
 * staged file behind (polled with a bound), and nothing else changed.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';

import { describeEachEngine, type TestAnvil } from '../support/anvil.js';
import { crc32Base64, encodeSigned, encodeUnsigned } from '../support/aws-chunked.js';
import { expectNoStagedFiles, fuzzSuite, md5Hex, Sentinels } from '../support/fuzz.js';
import { sdkSigner } from '../support/sdk-signer.js';
import { objectPath, requestHead, send, sign } from '../support/wire.js';

const BUCKET = 'faults';
/** Large enough that loopback socket buffers cannot hold it: a reader that stops reading stalls the server's writes. */
const BIG = 32 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeEachEngine('killed request streams', (engine) => {
  let t: TestAnvil;
  let sentinels: Sentinels;
  let big: Buffer;
  const sockets = new Set<net.Socket>();

  const watch = fuzzSuite(engine, {
    bucket: BUCKET,
    ready: (suite) => ({ t, sentinels } = suite),
    seed: async () => {
      await sentinels.put('sentinel', randomBytes(64 * 1024));
      big = randomBytes(BIG);
      await sentinels.put('big', big);
    },
    afterEach: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    afterAll: () => {
      for (const s of sockets) s.destroy();
    },
  });

  /**
   * Requests that must be unaffected: PUTs of fresh random objects, each read
   * back and compared, and full reads of the sentinel, all in flight while
   * the fault happens. Resolves once every one has been checked.
   */
  function backgroundTraffic(label: string): Promise<void> {
    const jobs: Array<Promise<void>> = [];
    for (let i = 0; i < 4; i++) {
      jobs.push(
        (async () => {
          const key = `bg-${label}-${i}-${randomBytes(3).toString('hex')}`;
          const body = randomBytes(128 * 1024 + i * 70_001);
          const put = await t.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
          expect(put.ETag, key).toBe(`"${md5Hex(body)}"`);
          const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
          expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body), `bytes of ${key}`).toBe(true);
          await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
        })(),
      );
    }
    for (let i = 0; i < 2; i++) {
      jobs.push(
        (async () => {
          const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'sentinel' }));
          expect(Buffer.from(await got.Body!.transformToByteArray()).equals(sentinels.body('sentinel')!)).toBe(true);
        })(),
      );
    }
    return Promise.all(jobs).then(() => undefined);
  }

  /** Opens a raw connection to the server (closed after the test whatever happens). */
  function connect(): Promise<net.Socket> {
    const url = new URL(t.endpoint);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port), allowHalfOpen: true });
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  function write(socket: net.Socket, data: Buffer | string): Promise<void> {
    return new Promise((resolve) => (socket.write(data) ? resolve() : socket.once('drain', () => resolve())));
  }

  /** Resolves with everything the server sends until it closes the connection (or `ms` pass). */
  function collect(socket: net.Socket, ms = 5000): Promise<string> {
    return new Promise((resolve) => {
      const parts: Buffer[] = [];
      const done = () => {
        clearTimeout(timer);
        resolve(Buffer.concat(parts).toString('latin1'));
      };
      const timer = setTimeout(done, ms);
      socket.on('data', (d: Buffer) => parts.push(d));
      socket.once('close', done);
      socket.once('end', done);
    });
  }

  /** A signed request head for a raw socket. */
  async function head(method: string, path: string, opts: Parameters<typeof sign>[3] = {}): Promise<string> {
    const s = await sign(t, method, path, opts);
    return requestHead(method, s.pathAndQuery, s.headers);
  }

  async function exists(key: string): Promise<boolean> {
    try {
      await t.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      return true;
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
      throw err;
    }
  }

  /** Runs `fault` while background traffic is in flight, then proves the others were unaffected and the server is whole. */
  async function underLoad(
    label: string,
    fault: () => Promise<void>,
    opts: { allow?: (key: string) => boolean; inspect?: () => Promise<void> } = {},
  ): Promise<void> {
    // The background requests are always awaited, even when the fault's own check fails, so that
    // none of them outlives its test.
    const others = backgroundTraffic(label);
    const [faulted, background] = await Promise.allSettled([fault(), others]);
    if (faulted.status === 'rejected') throw faulted.reason;
    if (background.status === 'rejected') throw background.reason;
    await watch.assertNone(label);
    await expectNoStagedFiles(t);
    await opts.inspect?.();
    await sentinels.assertIntact((k) => k.startsWith('bg-') || (opts.allow?.(k) ?? false));
  }

  type Kill = 'destroy' | 'reset' | 'half-close';
  function kill(socket: net.Socket, how: Kill): void {
    if (how === 'destroy') socket.destroy();
    else if (how === 'reset') socket.resetAndDestroy();
    else socket.end();
  }

  it('a client that disconnects in the middle of its request headers', async () => {
    await underLoad('mid-headers', async () => {
      for (const how of ['destroy', 'reset', 'half-close'] as const) {
        const socket = await connect();
        const full = await head('PUT', objectPath(BUCKET, 'never'), { headers: { 'content-length': '10' } });
        await write(socket, full.slice(0, Math.floor(full.length / 2)));
        await sleep(20);
        kill(socket, how);
      }
    });
    expect(await exists('never')).toBe(false);
  });

  for (const how of ['destroy', 'reset', 'half-close'] as const) {
    it(`a PUT whose connection is ${how === 'half-close' ? 'half-closed' : how === 'reset' ? 'reset' : 'destroyed'} in the middle of its body`, async () => {
      const key = `killed-put-${how}`;
      await underLoad(`put-${how}`, async () => {
        const socket = await connect();
        const answer = collect(socket);
        await write(socket, await head('PUT', objectPath(BUCKET, key), { headers: { 'content-length': String(1024 * 1024) } }));
        await write(socket, randomBytes(300 * 1024));
        await sleep(50);
        kill(socket, how);
        // A half-closed request is one the server can see is incomplete: it may answer 400 before closing.
        const text = await answer;
        if (text) expect(text).toMatch(/^HTTP\/1\.1 4\d\d/);
      });
      expect(await exists(key)).toBe(false);
    });
  }

  for (const mode of ['signed', 'unsigned-trailer'] as const) {
    for (const how of ['destroy', 'reset', 'half-close'] as const) {
      it(`an aws-chunked (${mode}) PUT cut inside a chunk frame (${how})`, async () => {
        const key = `killed-chunked-${mode}-${how}`;
        const payload = randomBytes(512 * 1024);
        await underLoad(`chunked-${mode}-${how}`, async () => {
          const headers: Record<string, string> = {
            'content-encoding': 'aws-chunked',
            'x-amz-decoded-content-length': String(payload.length),
          };
          if (mode === 'unsigned-trailer') headers['x-amz-trailer'] = 'x-amz-checksum-crc32';
          const s = await sign(t, 'PUT', objectPath(BUCKET, key), {
            headers,
            payloadHash: mode === 'signed' ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
            unsignable: ['content-length'],
          });
          const body =
            mode === 'signed'
              ? await encodeSigned(
                  payload,
                  s.seed,
                  {
                    signer: sdkSigner({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, t.config.region),
                    signingDate: s.signingDate,
                    region: t.config.region,
                  },
                  { chunkSize: 64 * 1024, trailer: false },
                )
              : encodeUnsigned(payload, { chunkSize: 64 * 1024, trailers: { 'x-amz-checksum-crc32': crc32Base64(payload) } });
          const socket = await connect();
          await write(socket, requestHead('PUT', s.pathAndQuery, { ...s.headers, 'content-length': String(body.length) }));
          // Inside the third chunk's data: two chunks (and their signatures) were good.
          await write(socket, body.subarray(0, 2 * (64 * 1024 + 90) + 1000));
          await sleep(50);
          kill(socket, how);
        });
        expect(await exists(key)).toBe(false);
      });
    }
  }

  it('an UploadPart cut mid-body leaves no part, and the upload still completes with a retried part', async () => {
    const key = 'multipart-killed';
    const created = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const uploadId = created.UploadId!;
    const part = randomBytes(5 * 1024 * 1024 + 17);
    await underLoad('upload-part', async () => {
      for (const how of ['destroy', 'reset', 'half-close'] as const) {
        const socket = await connect();
        await write(
          socket,
          await head('PUT', objectPath(BUCKET, key), {
            query: { partNumber: '1', uploadId },
            headers: { 'content-length': String(part.length) },
          }),
        );
        await write(socket, part.subarray(0, 2 * 1024 * 1024));
        await sleep(30);
        kill(socket, how);
      }
    });
    const list = await sign(t, 'GET', objectPath(BUCKET, key), { query: { uploadId } });
    const listed = await send(t, 'GET', list.pathAndQuery, list.headers);
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain('<Part>');
    const done = await t.s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: part }));
    await t.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: done.ETag }] },
      }),
    );
    const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(part)).toBe(true);
  });

  it('a CompleteMultipartUpload and a DeleteObjects cut mid-document change nothing', async () => {
    const key = 'complete-killed';
    const created = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const p1 = await t.s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId!, PartNumber: 1, Body: 'only part' }),
    );
    await underLoad('documents', async () => {
      const complete = Buffer.from(
        `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${p1.ETag}</ETag></Part></CompleteMultipartUpload>`,
      );
      const del = Buffer.from('<Delete><Object><Key>sentinel</Key></Object><Object><Key>big</Key></Object></Delete>');
      for (const how of ['destroy', 'reset', 'half-close'] as const) {
        let socket = await connect();
        await write(
          socket,
          await head('POST', objectPath(BUCKET, key), {
            query: { uploadId: created.UploadId! },
            headers: { 'content-length': String(complete.length) },
          }),
        );
        await write(socket, complete.subarray(0, 40));
        await sleep(20);
        kill(socket, how);
        socket = await connect();
        const md5 = createHash('md5').update(del).digest('base64');
        await write(
          socket,
          await head('POST', objectPath(BUCKET), {
            query: { delete: '' },
            headers: { 'content-length': String(del.length), 'content-md5': md5 },
          }),
        );
        await write(socket, del.subarray(0, 50));
        await sleep(20);
        kill(socket, how);
      }
    });
    expect(await exists(key)).toBe(false);
    const parts = await sign(t, 'GET', objectPath(BUCKET, key), { query: { uploadId: created.UploadId! } });
    expect((await send(t, 'GET', parts.pathAndQuery, parts.headers)).status).toBe(200);
  });

  it('a browser form upload (POST Object) cut in the middle of its file', async () => {
    await underLoad('post-object', async () => {
      for (const how of ['destroy', 'reset', 'half-close'] as const) {
        const boundary = 'xYzZy';
        const file = randomBytes(600 * 1024);
        const headPart = `--${boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\nform-killed\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: application/octet-stream\r\n\r\n`;
        const total = headPart.length + file.length + `\r\n--${boundary}--\r\n`.length;
        const socket = await connect();
        await write(
          socket,
          requestHead('POST', `/${BUCKET}`, {
            host: new URL(t.endpoint).host,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(total),
          }),
        );
        await write(socket, headPart);
        await write(socket, file.subarray(0, 200 * 1024));
        await sleep(20);
        kill(socket, how);
      }
    });
    expect(await exists('form-killed')).toBe(false);
  });

  for (const how of ['destroy', 'reset'] as const) {
    it(`a GET whose reader ${how === 'reset' ? 'resets' : 'drops'} the connection mid-response`, async () => {
      await underLoad(`get-${how}`, async () => {
        const socket = await connect();
        let received = 0;
        const enough = new Promise<void>((resolve) =>
          socket.on('data', (d: Buffer) => {
            received += d.length;
            if (received > 1024 * 1024) resolve();
          }),
        );
        await write(socket, await head('GET', objectPath(BUCKET, 'big')));
        await enough;
        kill(socket, how);
      });
    });
  }

  it('a GET whose reader stops reading (backpressure), then vanishes', async () => {
    await underLoad('backpressure', async () => {
      const socket = await connect();
      let received = 0;
      const started = new Promise<void>((resolve) =>
        socket.on('data', (d: Buffer) => {
          received += d.length;
          if (received > 64 * 1024) {
            socket.pause();
            resolve();
          }
        }),
      );
      await write(socket, await head('GET', objectPath(BUCKET, 'big')));
      await started;
      // The server's writes now stall on a full socket while the background traffic runs.
      await sleep(1500);
      expect(received, 'the stalled reader was sent everything: no backpressure was exercised').toBeLessThan(BIG);
      socket.destroy();
    });
  });

  it('a reader that half-closes after its request still gets the whole answer', async () => {
    await underLoad('half-closed-reader', async () => {
      const socket = await connect();
      const answer = collect(socket, 20_000);
      await write(socket, await head('GET', objectPath(BUCKET, 'sentinel')));
      socket.end();
      const text = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 200/);
      const body = Buffer.from(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1');
      expect(body.equals(sentinels.body('sentinel')!)).toBe(true);
    });
  });

  it('a writer that half-closes after a complete PUT gets its answer, and the object is stored', async () => {
    const body = randomBytes(100 * 1024);
    await underLoad(
      'half-closed-writer',
      async () => {
        const socket = await connect();
        const answer = collect(socket, 20_000);
        await write(
          socket,
          await head('PUT', objectPath(BUCKET, 'half-closed-put'), { headers: { 'content-length': String(body.length) } }),
        );
        await write(socket, body);
        socket.end();
        expect(await answer).toMatch(/^HTTP\/1\.1 200/);
      },
      {
        allow: (k) => k === 'half-closed-put',
        inspect: async () => {
          const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'half-closed-put' }));
          expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
        },
      },
    );
  });

  it('slowloris: many connections sending their headers a byte at a time do not hold up the others', async () => {
    const slow: net.Socket[] = [];
    for (let i = 0; i < 30; i++) slow.push(await connect());
    const request = await head('GET', objectPath(BUCKET, 'sentinel'));
    let stop = false;
    const dribble = Promise.all(
      slow.map(async (socket) => {
        for (let i = 0; !stop && i < request.length - 4; i++) {
          socket.write(request[i]);
          await sleep(50);
        }
      }),
    );
    await underLoad('slowloris', async () => {
      await sleep(300);
    });
    // And the others keep being served while the slow ones are still open.
    await underLoad('slowloris-2', async () => undefined);
    stop = true;
    await dribble;
    for (const s of slow) s.destroy();
  });

  it('a CopyObject of a large object whose client vanishes right after sending it', async () => {
    await underLoad(
      'copy',
      async () => {
        for (const how of ['destroy', 'reset'] as const) {
          const socket = await connect();
          await write(socket, await head('PUT', objectPath(BUCKET, `copy-${how}`), { headers: { 'x-amz-copy-source': `${BUCKET}/big` } }));
          await sleep(5);
          kill(socket, how);
        }
      },
      {
        allow: (k) => k.startsWith('copy-'),
        // The copy may have been made or not; if it was, it is whole.
        inspect: async () => {
          for (const how of ['destroy', 'reset']) {
            if (!(await exists(`copy-${how}`))) continue;
            const got = await t.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `copy-${how}` }));
            expect(Buffer.from(await got.Body!.transformToByteArray()).equals(big)).toBe(true);
          }
        },
      },
    );
  });

  it('garbage after a valid request on the same connection is refused without harm', async () => {
    await underLoad('pipelined-garbage', async () => {
      const socket = await connect();
      const answer = collect(socket);
      await write(socket, (await head('GET', objectPath(BUCKET, 'sentinel'))) + 'NOT HTTP AT ALL\r\n\u0000\u0001\r\n\r\n');
      // Node's parser reads both at once: the connection may be refused whole (400) before the GET is answered.
      const text = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 (200|400)/);
    });
  });
});
