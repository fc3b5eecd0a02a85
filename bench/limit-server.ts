/**
 * The "limit" server: the most a bare node:http server on this machine can do
 * with the same durability as Anvil and none of its work (no auth, no
 * metadata, no hashing). PUT streams the body into a temp file, fsyncs it,
 * renames it into place and fsyncs the directory; GET streams the file back.
 * Multipart: parts are fsynced files, Complete writes a small manifest (no
 * copy), like a store that references its parts.
 *
 * Usage: node --import tsx bench/limit-server.ts <port> <dataDir>
 * Prints "READY <port>" on stdout once listening.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const port = Number(process.argv[2] ?? 0);
const root = path.resolve(process.argv[3] ?? './limit-data');
const tmpDir = path.join(root, '.tmp');
fs.mkdirSync(tmpDir, { recursive: true });

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Streams req into a fresh fsynced file at dest (temp + rename + dir fsync). */
async function storeBody(req: http.IncomingMessage, dest: string): Promise<number> {
  const tmp = path.join(tmpDir, crypto.randomBytes(12).toString('hex'));
  let n = 0;
  req.on('data', (c: Buffer) => {
    n += c.length;
  });
  await pipeline(req, fs.createWriteStream(tmp, { flush: true, highWaterMark: 1024 * 1024 }));
  await fsp.rename(tmp, dest);
  await fsyncDir(path.dirname(dest));
  return n;
}

function xml(res: http.ServerResponse, status: number, body: string): void {
  const buf = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': buf.length });
  res.end(buf);
}

function fail(res: http.ServerResponse, status: number, code: string): void {
  xml(res, status, `<Error><Code>${code}</Code><Message>${code}</Message></Error>`);
}

async function drain(req: http.IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const u = new URL(req.url ?? '/', 'http://x');
  const parts = u.pathname.split('/');
  const bucket = decodeURIComponent(parts[1] ?? '');
  const key = parts.length > 2 ? parts.slice(2).map(decodeURIComponent).join('/') : undefined;
  if (!bucket || bucket.startsWith('.')) return fail(res, 400, 'InvalidBucketName');
  const bucketDir = path.join(root, bucket);
  const q = u.searchParams;
  const method = req.method ?? 'GET';

  if (key === undefined) {
    if (method === 'PUT') {
      await drain(req);
      await fsp.mkdir(bucketDir, { recursive: true });
      res.writeHead(200, { 'content-length': 0 }).end();
      return;
    }
    await drain(req);
    return fail(res, 501, 'NotImplemented');
  }
  const file = path.join(bucketDir, encodeURIComponent(key));

  if (method === 'PUT' && !q.has('uploadId')) {
    await storeBody(req, file);
    res.writeHead(200, { etag: '"0"', 'content-length': 0 }).end();
    return;
  }
  if (method === 'GET' || method === 'HEAD') {
    await drain(req);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch {
      return fail(res, 404, 'NoSuchKey');
    }
    const st = await fh.stat();
    res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream', etag: '"0"' });
    if (method === 'HEAD') {
      await fh.close();
      res.end();
      return;
    }
    await pipeline(fh.createReadStream({ highWaterMark: 1024 * 1024 }), res);
    return;
  }
  if (method === 'POST' && q.has('uploads')) {
    await drain(req);
    const id = crypto.randomBytes(12).toString('hex');
    await fsp.mkdir(path.join(tmpDir, `mpu-${id}`));
    return xml(
      res,
      200,
      `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
    );
  }
  if (method === 'PUT' && q.has('uploadId')) {
    const id = q.get('uploadId') ?? '';
    const n = Number(q.get('partNumber'));
    if (!/^[0-9a-f]+$/.test(id) || !(n >= 1 && n <= 10000)) return fail(res, 400, 'InvalidArgument');
    await storeBody(req, path.join(tmpDir, `mpu-${id}`, String(n)));
    res.writeHead(200, { etag: `"${n}"`, 'content-length': 0 }).end();
    return;
  }
  if (method === 'POST' && q.has('uploadId')) {
    await drain(req);
    const id = q.get('uploadId') ?? '';
    if (!/^[0-9a-f]+$/.test(id)) return fail(res, 400, 'InvalidArgument');
    const dir = path.join(tmpDir, `mpu-${id}`);
    const names = (await fsp.readdir(dir)).sort((a, b) => Number(a) - Number(b));
    const tmp = path.join(tmpDir, crypto.randomBytes(12).toString('hex'));
    const fh = await fsp.open(tmp, 'w');
    await fh.writeFile(JSON.stringify(names.map((p) => path.join(dir, p))));
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, file);
    await fsyncDir(bucketDir);
    return xml(
      res,
      200,
      `<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"0-${names.length}"</ETag></CompleteMultipartUploadResult>`,
    );
  }
  await drain(req);
  return fail(res, 501, 'NotImplemented');
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) fail(res, 500, 'InternalError');
    else res.destroy();
    process.stderr.write(`limit-server: ${String(err)}\n`);
  });
});
server.keepAliveTimeout = 65_000;
server.requestTimeout = 0;
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`READY ${typeof addr === 'object' && addr ? addr.port : port}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
