/**
 * Files readable by no one else: the data folder and everything Anvil makes
 * in it (the database and its WAL, master.key, the root credentials, staging,
 * blobs, the lock files) are 0700 folders and 0600 files — through the real
 * command (which also sets umask 077) and through explicit modes alone (the
 * in-process server, under a permissive umask). An existing deployment's
 * folder and secret files are tightened at start, anything else loose is
 * named in a warning. The master key can live outside the data folder, and
 * a deployment whose key is missing refuses to start instead of making a
 * new one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';

import { startAnvil } from '../../src/app.js';
import { UNLIMITED } from '../../src/backends/config.js';
import { loadConfig } from '../../src/config/config.js';
import { databaseUrlFor, describeEachEngine, ROOT_KEY, ROOT_SECRET } from '../support/anvil.js';
import { runServerToExit, startServer, stopServer } from '../support/cli-server.js';

/** Every folder and file under root (root included) with its permission bits. */
function modes(root: string): Array<{ path: string; dir: boolean; mode: number }> {
  const out = [{ path: root, dir: true, mode: fs.statSync(root).mode & 0o777 }];
  for (const rel of fs.readdirSync(root, { recursive: true }) as string[]) {
    const p = path.join(root, rel);
    const st = fs.lstatSync(p);
    out.push({ path: p, dir: st.isDirectory(), mode: st.mode & 0o777 });
  }
  return out;
}

function expectPrivate(root: string): void {
  const all = modes(root);
  const loose = all.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${e.path} ${e.mode.toString(8)}`);
  expect(loose).toEqual([]);
  expect(all.some((e) => !e.dir)).toBe(true);
}

const mode = (p: string) => fs.statSync(p).mode & 0o777;

async function useBucket(endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, region = 'us-east-1') {
  const s3 = new S3Client({ endpoint, region, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  await s3.send(new CreateBucketCommand({ Bucket: 'private' }));
  await s3.send(new PutObjectCommand({ Bucket: 'private', Key: 'small', Body: 'a small body' }));
  await s3.send(new PutObjectCommand({ Bucket: 'private', Key: 'large', Body: Buffer.alloc(3 << 20, 7) }));
  expect(await (await s3.send(new GetObjectCommand({ Bucket: 'private', Key: 'small' }))).Body!.transformToString()).toBe('a small body');
  s3.destroy();
}

describeEachEngine('file permissions', (engine) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function deployment() {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-perms-'));
    // Readable by all, like a home folder: what Anvil creates below it must not be.
    fs.chmodSync(parent, 0o755);
    const dataDir = path.join(parent, 'data');
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(parent, { recursive: true, force: true });
    });
    return { parent, dataDir, db, env: { ANVIL_DATA_DIR: dataDir, ANVIL_DATABASE_URL: db.url } };
  }

  it('a first start of `anvil server` makes the data folder 0700 and every file in it 0600, blobs and staging included', async () => {
    const d = await deployment();
    const s = await startServer(d.env);
    cleanups.push(() => stopServer(s));
    const creds = JSON.parse(fs.readFileSync(path.join(d.dataDir, 'root-credentials.json'), 'utf8'));
    await useBucket(s.endpoint, creds);
    expect(fs.existsSync(path.join(d.dataDir, 'master.key'))).toBe(true);
    if (engine === 'sqlite') expect(fs.existsSync(path.join(d.dataDir, 'anvil.db-wal'))).toBe(true);
    expectPrivate(d.dataDir);
  });

  it('explicit modes alone (a permissive umask, the in-process server): every folder and file of the data folder and of a second backend', async () => {
    const d = await deployment();
    const disk2 = path.join(d.parent, 'disk2');
    const previous = process.umask(0o022);
    cleanups.push(() => void process.umask(previous));
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }));
    const base = loadConfig(
      { listen: '127.0.0.1:0', dataDir: d.dataDir, databaseUrl: d.db.url, rootAccessKey: ROOT_KEY, rootSecretKey: ROOT_SECRET },
      {},
    );
    const config = {
      ...base,
      storage: {
        placement: 'spread' as const,
        replication: 2,
        isDefault: false,
        backends: [
          { type: 'fs' as const, name: 'local', path: d.dataDir, quotaBytes: UNLIMITED },
          { type: 'fs' as const, name: 'disk2', path: disk2, quotaBytes: UNLIMITED },
        ],
      },
    };
    const anvil = await startAnvil(config, log);
    cleanups.push(() => anvil.close());
    await useBucket(anvil.endpoint, { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET });
    expectPrivate(d.dataDir);
    expectPrivate(disk2);
    expect(fs.readdirSync(path.join(disk2, 'blobs')).length).toBeGreaterThan(0);
    // Two backends and the master key beside one of them: warned about at start.
    expect(lines.join('')).toContain(`the master key is in the data folder (${path.join(d.dataDir, 'master.key')}), with 2 backends`);
  });

  it('an existing deployment: its folder and secret files are tightened at start, anything else loose is named in a warning', async () => {
    const d = await deployment();
    await stopServer(await startServer(d.env));
    const db = path.join(d.dataDir, 'anvil.db');
    const secrets = ['master.key', 'root-credentials.json', ...(engine === 'sqlite' ? ['anvil.db'] : [])].map((f) =>
      path.join(d.dataDir, f),
    );
    fs.chmodSync(d.dataDir, 0o755);
    for (const f of secrets) fs.chmodSync(f, 0o644);
    fs.writeFileSync(path.join(d.dataDir, 'notes.txt'), 'the operator’s own file\n', { mode: 0o644 });
    fs.chmodSync(path.join(d.dataDir, 'notes.txt'), 0o644);

    const s = await startServer(d.env);
    cleanups.push(() => stopServer(s));
    expect(mode(d.dataDir)).toBe(0o700);
    for (const f of secrets) expect(mode(f), f).toBe(0o600);
    if (engine === 'sqlite') expect(mode(`${db}-wal`)).toBe(0o600);
    // The operator's file is named, not changed.
    expect(mode(path.join(d.dataDir, 'notes.txt'))).toBe(0o644);
    const warnings = s.output.split('\n').filter((l) => l.startsWith('{'));
    expect(warnings.some((l) => l.includes('the data folder was readable by other users: tightened') && l.includes(d.dataDir))).toBe(true);
    for (const f of secrets)
      expect(warnings.some((l) => l.includes('a file holding secrets was readable') && l.includes(JSON.stringify(f)))).toBe(true);
    const loose = warnings.find((l) => l.includes('entries in the data folder are readable by other users'));
    expect(loose).toBeDefined();
    expect(JSON.parse(loose!).entries).toEqual(['notes.txt']);
    expect(loose).toContain(`chmod -R go-rwx ${d.dataDir}`);
  });

  it('the master key in a file outside the data folder: created 0600 on the first start, read on the next; none in the data folder', async () => {
    const d = await deployment();
    const keyFile = path.join(d.parent, 'secrets', 'master.key');
    const env = { ...d.env, ANVIL_MASTER_KEY_FILE: keyFile };
    const first = await startServer(env);
    await stopServer(first);
    expect(mode(keyFile)).toBe(0o600);
    expect(mode(path.dirname(keyFile))).toBe(0o700);
    expect(fs.existsSync(path.join(d.dataDir, 'master.key'))).toBe(false);
    const key = fs.readFileSync(keyFile, 'utf8');
    const second = await startServer(env);
    cleanups.push(() => stopServer(second));
    const creds = JSON.parse(fs.readFileSync(path.join(d.dataDir, 'root-credentials.json'), 'utf8'));
    await useBucket(second.endpoint, creds);
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(key);
    expect(second.output).not.toContain('the master key is in the data folder');
  });

  it('a deployment whose master key is missing refuses to start, naming the file, and makes no new key', async () => {
    const d = await deployment();
    await stopServer(await startServer(d.env));
    const keyFile = path.join(d.dataDir, 'master.key');
    fs.renameSync(keyFile, path.join(d.parent, 'master.key.moved'));
    const refused = await runServerToExit(d.env);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`the master key file ${keyFile} does not exist, and the database`);
    expect(refused.output).toContain('holds a deployment whose secrets it encrypts');
    expect(fs.existsSync(keyFile)).toBe(false);
  });
});
