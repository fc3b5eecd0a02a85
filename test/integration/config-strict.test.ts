/**
 * Strict configuration: an unknown key (at the top of the file, in a backend,
 * in its monthly limits) is an error naming the key, the file and the closest
 * known key; sizes and durations take units wherever a size or a duration is
 * taken; `anvil config check FILE` prints the resolved configuration with
 * secrets masked (exit 0) or every problem (exit 1). And a server given a
 * units-only setting enforces it, on both engines.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';

import { checkConfig, loadConfig } from '../../src/config/config.js';
import { databaseUrlFor, describeEachEngine, s3Error } from '../support/anvil.js';
import { BIN, runServerToExit, startServer, stopServer } from '../support/cli-server.js';

/** The environment of a child `anvil`, without the ANVIL_* settings of whoever runs the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ANVIL_')) delete env[k];
  return { ...env, ...extra };
}

function anvil(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv(env) }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('strict configuration', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-conf-strict-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses an unknown key anywhere, naming the key, the file and the closest known key', () => {
    const file = write(
      'typos.yaml',
      [
        'listn: 0.0.0.0:7000',
        'dataDir: /srv/anvil',
        'colour: blue',
        'backends:',
        '  - { name: a, type: fs, path: /srv/a, qouta: 1GiB }',
        '  - { name: b, type: s3, bucket: bkt, quota: 1TB, monthly: { egres: 1TiB } }',
        '',
      ].join('\n'),
    );
    const checked = checkConfig({ configFile: file }, {});
    expect(checked.config).toBeUndefined();
    expect(checked.problems).toEqual(
      expect.arrayContaining([
        `${file}: unknown key "listn" (did you mean "listen"?)`,
        `${file}: unknown key "dataDir" (did you mean "data_dir"?)`,
        `${file}: unknown key "colour"`,
        `${file}: backends.0: unknown key "qouta" (did you mean "quota"?)`,
        `${file}: backends.1.monthly: unknown key "egres" (did you mean "egress"?)`,
      ]),
    );
    // The typo no longer falls back to the default port and folder: the server does not start.
    expect(() => loadConfig({ configFile: file }, {})).toThrow(/unknown key "listn" \(did you mean "listen"\?\)/);
  });

  it('names every other problem with where the value came from, and the YAML errors with their line', () => {
    const file = write('bad.yaml', 'max_object_size: 5 gigs\nmultipart_max_age_hours: soon\nregion: Bad Region\nlisten:\n');
    const { problems } = checkConfig({ configFile: file }, { ANVIL_MAX_CONNECTIONS: 'many', ANVIL_SCRUB_BYTES_PER_SECOND: '1e3' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${file}: max_object_size: invalid size "5 gigs"`)),
        expect.stringMatching(new RegExp(`^${file}: multipart_max_age_hours: invalid duration "soon"`)),
        expect.stringMatching(new RegExp(`^${file}: region: .*lower-case`)),
        `${file}: listen: no value (remove the key for the default)`,
        expect.stringMatching(/^ANVIL_MAX_CONNECTIONS: .*"many"/),
        expect.stringMatching(/^ANVIL_SCRUB_BYTES_PER_SECOND: invalid size "1e3"/),
      ]),
    );
    const dup = write('dup.yaml', 'listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n');
    expect(checkConfig({ configFile: dup }, {}).problems).toEqual([expect.stringMatching(new RegExp(`^${dup}: .*unique.*line 2`))]);
    expect(checkConfig({ configFile: path.join(dir, 'absent.yaml') }, {}).problems).toEqual([
      expect.stringMatching(/cannot read .*ENOENT/),
    ]);
  });

  it('takes sizes and durations with units from the file, the environment and the flags; plain numbers keep their meaning', () => {
    const file = write(
      'units.yaml',
      [
        'max_object_size: 100MB',
        'scrub_bytes_per_second: 512k',
        'multipart_max_age_hours: 90m',
        'multipart_retry_window_seconds: 2m',
        'read_stall_timeout_ms: 2s',
        'backends:',
        '  - { name: a, type: fs, path: /srv/a, quota: 1.5TiB, max_object_size: 1GiB, monthly: { ingress: 10GB } }',
        '  - { name: b, type: s3, bucket: bkt, quota: 5TB, part_size: 16MiB, request_timeout_ms: 1m, connect_timeout_ms: 1500 }',
        '',
      ].join('\n'),
    );
    const c = loadConfig({ configFile: file }, {});
    expect(c.maxObjectSize).toBe(100_000_000);
    expect(c.scrubBytesPerSecond).toBe(512 * 1024);
    expect(c.multipartMaxAgeHours).toBe(1.5);
    expect(c.multipartRetryWindowSeconds).toBe(120);
    expect(c.storage.readStallTimeoutMs).toBe(2000);
    expect(c.storage.backends[0]).toMatchObject({ quotaBytes: 1.5 * 1024 ** 4, maxObjectSize: 1024 ** 3, monthly: { ingressBytes: 10e9 } });
    expect(c.storage.backends[1]).toMatchObject({
      quotaBytes: 5e12,
      partSize: 16 * 1024 ** 2,
      timeouts: { requestMs: 60_000, connectMs: 1500 },
    });
    // The environment over the file, with units too; a plain number is still bytes, hours, seconds.
    const env = loadConfig({ configFile: file }, { ANVIL_MAX_OBJECT_SIZE: '5GiB', ANVIL_MULTIPART_MAX_AGE_HOURS: '2' });
    expect(env.maxObjectSize).toBe(5 * 1024 ** 3);
    expect(env.multipartMaxAgeHours).toBe(2);
    const plain = loadConfig({}, { ANVIL_MAX_OBJECT_SIZE: '4096', ANVIL_MULTIPART_RETRY_WINDOW_SECONDS: '30' });
    expect([plain.maxObjectSize, plain.multipartRetryWindowSeconds]).toEqual([4096, 30]);
    // Flags too (the CLI passes them as strings).
    expect(loadConfig({ maxObjectSize: '1MiB' }, { ANVIL_MAX_OBJECT_SIZE: '5GiB' }).maxObjectSize).toBe(1024 ** 2);
  });

  it('`anvil config check`: the resolved configuration with secrets masked and sources named, exit 0', async () => {
    const file = write(
      'good.yaml',
      [
        'listen: 0.0.0.0:9100',
        `data_dir: ${path.join(dir, 'data')}`,
        'database_url: postgres://anvil:db-password-1@db.internal/anvil',
        'max_object_size: 1GiB',
        'master_key: ' + 'ab'.repeat(32),
        'backends:',
        `  - { name: local, type: fs, path: ${path.join(dir, 'data')}, quota: unlimited }`,
        '  - { name: off, type: s3, bucket: bkt, quota: 5TB, access_key_id: OFFKEY, secret_access_key: s3-secret-value-2 }',
        '',
      ].join('\n'),
    );
    const r = await anvil(['config', 'check', file], { ANVIL_ROOT_ACCESS_KEY: 'ROOTKEY01', ANVIL_ROOT_SECRET_KEY: 'root-secret-value-3' });
    expect(r.code).toBe(0);
    for (const secret of ['db-password-1', 's3-secret-value-2', 'root-secret-value-3', 'ab'.repeat(32)]) {
      expect(r.stdout).not.toContain(secret);
      expect(r.stderr).not.toContain(secret);
    }
    const printed = YAML.parse(r.stdout);
    expect(printed).toMatchObject({
      listen: '0.0.0.0:9100',
      database_url: 'postgres://anvil:***@db.internal/anvil',
      root_access_key: 'ROOTKEY01',
      root_secret_key: '***',
      master_key: '***',
      max_object_size: '1GiB',
      region: 'us-east-1',
      backends: [
        { name: 'local', quota: 'unlimited' },
        { name: 'off', quota: '5TB', access_key_id: 'OFFKEY', secret_access_key: '***' },
      ],
    });
    expect(r.stdout).toMatch(/^listen: 0\.0\.0\.0:9100 # file$/m);
    expect(r.stdout).toMatch(/^root_access_key: ROOTKEY01 # env ANVIL_ROOT_ACCESS_KEY$/m);
    expect(r.stdout).toMatch(/^region: us-east-1 # default$/m);
    // What it prints is itself a valid config file, meaning the same thing (secrets aside).
    const again = write(
      'again.yaml',
      r.stdout
        .replace(/^master_key: "\*\*\*"/m, `master_key: ${'cd'.repeat(32)}`)
        .replace(/"\*\*\*"/g, 'placeholder-secret')
        .replace(/:\*\*\*@/, ':pw@'),
    );
    const reread = loadConfig({ configFile: again }, {});
    const original = loadConfig({ configFile: file }, { ANVIL_ROOT_ACCESS_KEY: 'ROOTKEY01', ANVIL_ROOT_SECRET_KEY: 'root-secret-value-3' });
    expect({ ...reread, rootSecretKey: 0, masterKey: 0, databaseUrl: 0 }).toEqual({
      ...original,
      rootSecretKey: 0,
      masterKey: 0,
      databaseUrl: 0,
      storage: {
        ...original.storage,
        backends: [
          original.storage.backends[0],
          { ...original.storage.backends[1], credentials: { accessKeyId: 'OFFKEY', secretAccessKey: 'placeholder-secret' } },
        ],
      },
    });
  });

  it('`anvil config check`: every problem on stderr, exit 1; the master key beside remote blobs is a warning', async () => {
    const bad = write('typo.yaml', 'listn: 0.0.0.0:9000\nmax_object_size: lots\n');
    const r = await anvil(['config', 'check', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${bad}: 2 problems`);
    expect(r.stderr).toContain(`unknown key "listn" (did you mean "listen"?)`);
    expect(r.stderr).toContain(`max_object_size: invalid size "lots"`);
    // The environment is checked as the server would read it.
    const ok = write('ok.yaml', `data_dir: ${path.join(dir, 'd2')}\n`);
    expect((await anvil(['config', 'check', ok])).code).toBe(0);
    const env = await anvil(['config', 'check', ok], { ANVIL_LISTEN: 'nonsense' });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain('ANVIL_LISTEN: listen must be host:port');

    const remote = write(
      'remote.yaml',
      [`data_dir: ${path.join(dir, 'd3')}`, 'backends:', '  - { name: off, type: s3, bucket: bkt, quota: 1TB }', ''].join('\n'),
    );
    const warned = await anvil(['config', 'check', remote]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/warning: the master key is in the data folder .*remote backend off/);
    const keyElsewhere = await anvil(['config', 'check', remote], { ANVIL_MASTER_KEY_FILE: path.join(dir, 'keys', 'master.key') });
    expect(keyElsewhere.stderr).not.toContain('warning');
    // Nothing was created by checking.
    expect(fs.existsSync(path.join(dir, 'd2'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'keys'))).toBe(false);
  });
});

describeEachEngine('strict configuration: the server', (engine) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('refuses to start on an unknown key and creates nothing; enforces a size given with a unit', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-conf-server-'));
    const dataDir = path.join(dir, 'data');
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const file = path.join(dir, 'anvil.yaml');
    fs.writeFileSync(file, `data_dir: ${dataDir}\ndatabase_url: ${db.url}\nlistn: 127.0.0.1:0\n`);
    const refused = await runServerToExit({ ANVIL_CONFIG: file, ANVIL_DATA_DIR: '', ANVIL_DATABASE_URL: '' });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`${file}: unknown key "listn" (did you mean "listen"?)`);
    expect(fs.existsSync(dataDir)).toBe(false);

    fs.writeFileSync(file, `data_dir: ${dataDir}\ndatabase_url: ${db.url}\nmax_object_size: 1KiB\nregion: eu-north-1\n`);
    const s = await startServer({ ANVIL_CONFIG: file, ANVIL_DATA_DIR: '', ANVIL_DATABASE_URL: '' });
    cleanups.push(() => stopServer(s));
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'root-credentials.json'), 'utf8'));
    const s3 = new S3Client({ endpoint: s.endpoint, region: 'eu-north-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    cleanups.push(async () => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: 'units' }));
    await s3.send(new PutObjectCommand({ Bucket: 'units', Key: 'fits', Body: Buffer.alloc(1024) }));
    const err = await s3Error(s3.send(new PutObjectCommand({ Bucket: 'units', Key: 'too-big', Body: Buffer.alloc(1025) })));
    expect(err.name).toBe('EntityTooLarge');
  });
});
