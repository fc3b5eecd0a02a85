/**
 * What `anvil` prints for an operator: `--version`, and on the first start
 * (only) the ready-to-paste lines for the aws CLI, boto3, rclone and s3cmd —
 * pasted into a real shell here, with the real clients, which must then work
 * against the server. (`mc` is not packaged in Debian: its line is checked
 * for shape only.)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterEach, describe, expect, it } from 'vitest';

import { cleanEnv, fileExists, pythonCan, requireTools } from '../interop/tools.js';
import { databaseUrlFor, describeEachEngine } from '../support/anvil.js';
import { BIN, startServer, stopServer } from '../support/cli-server.js';

const exec = promisify(execFile);
const VERSION = JSON.parse(fs.readFileSync('package.json', 'utf8')).version as string;

describe('anvil --version', () => {
  it('prints the version with --version and -V', async () => {
    for (const flag of ['--version', '-V']) {
      const { stdout } = await exec(process.execPath, [BIN, flag]);
      expect(stdout.trim()).toBe(VERSION);
    }
  });
});

const haveClients = requireTools(
  'first-start snippets',
  [
    { what: '/usr/bin/aws', ok: fileExists('/usr/bin/aws') },
    { what: '/usr/bin/rclone', ok: fileExists('/usr/bin/rclone') },
    { what: '/usr/bin/s3cmd', ok: fileExists('/usr/bin/s3cmd') },
    { what: 'python3 with boto3', ok: pythonCan('/usr/bin/python3', 'import boto3') },
  ],
  'apt-get install awscli rclone s3cmd python3-boto3',
);

describeEachEngine('first start', (engine) => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('prints export lines and client commands once, and they work as pasted', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-first-'));
    const dataDir = path.join(dir, 'data');
    const db = await databaseUrlFor(engine, dataDir);
    cleanups.push(async () => {
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const env = { ANVIL_DATA_DIR: dataDir, ANVIL_DATABASE_URL: db.url, ANVIL_REGION: 'eu-north-1' };
    const first = await startServer(env);
    cleanups.push(() => stopServer(first));
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'root-credentials.json'), 'utf8'));
    const pasted = first.output
      .split('\n')
      .filter((l) => /^ {2}(export|aws|rclone|s3cmd|mc) /.test(l))
      .map((l) => l.trim());
    expect(pasted.slice(0, 4)).toEqual([
      `export AWS_ACCESS_KEY_ID=${creds.accessKeyId}`,
      `export AWS_SECRET_ACCESS_KEY=${creds.secretAccessKey}`,
      `export AWS_ENDPOINT_URL=${first.endpoint}`,
      'export AWS_REGION=eu-north-1 AWS_DEFAULT_REGION=eu-north-1',
    ]);
    expect(pasted).toContain(`mc alias set anvil ${first.endpoint} ${creds.accessKeyId} ${creds.secretAccessKey}`);
    expect(pasted.filter((l) => /^(aws configure|rclone config|s3cmd )/.test(l))).toHaveLength(3);

    if (haveClients) {
      const home = path.join(dir, 'home');
      fs.mkdirSync(home);
      fs.writeFileSync(path.join(home, 'hello.txt'), 'pasted and working\n');
      const script = [
        'set -e',
        'cd "$HOME"',
        ...pasted.filter((l) => !l.startsWith('mc ')),
        'aws s3 cp hello.txt s3://my-bucket/by-env.txt',
        `python3 -c "import boto3; print(boto3.client('s3').get_object(Bucket='my-bucket', Key='by-env.txt')['Body'].read().decode())"`,
        'unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION',
        'aws --profile anvil s3 cp hello.txt s3://my-bucket/by-profile.txt',
        'rclone copyto hello.txt anvil:my-bucket/by-rclone.txt',
        's3cmd put hello.txt s3://my-bucket/by-s3cmd.txt',
        'echo LISTING',
        's3cmd ls s3://my-bucket/',
      ].join('\n');
      const { stdout } = await exec('/bin/bash', ['-c', script], { env: cleanEnv(home), maxBuffer: 1 << 22 });
      expect(stdout).toContain('pasted and working');
      const listing = stdout.slice(stdout.indexOf('LISTING'));
      for (const key of ['by-env.txt', 'by-profile.txt', 'by-rclone.txt', 'by-s3cmd.txt'])
        expect(listing).toContain(`s3://my-bucket/${key}`);
    }
    await stopServer(first);

    const second = await startServer(env);
    cleanups.push(() => stopServer(second));
    expect(second.output).not.toContain(creds.secretAccessKey);
    expect(second.output).not.toContain('export AWS_');
    expect(second.output).toContain(`root secret key: see ${path.join(dataDir, 'root-credentials.json')}`);
  });
});
