import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/config.js';
import { parseMasterKey } from '../../src/crypto/master-keys.js';

describe('configuration', () => {
  it('uses the documented defaults', () => {
    const c = loadConfig({}, {});
    expect(c.listen).toBe('127.0.0.1:9000');
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.databaseUrl).toBe(`sqlite:${path.resolve('./data/anvil.db')}`);
    expect(c.region).toBe('us-east-1');
    expect(c.domain).toBe('localhost');
    expect(c.maxObjectSize).toBe(5 * 1024 ** 3);
    expect(c.maxConnections).toBe(4096);
    expect(c.maxConcurrentRequests).toBe(1024);
    expect([c.rateLimitPerKey, c.rateLimitPerKeyBurst, c.rateLimitPerTenant, c.rateLimitPerTenantBurst]).toEqual([0, 0, 0, 0]);
  });

  it('takes request rate limits with a period, from the file or the environment, and refuses nonsense', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-conf-'));
    const file = path.join(dir, 'anvil.yaml');
    fs.writeFileSync(file, 'rate_limit_per_key: 600/min\nrate_limit_per_key_burst: 50\nrate_limit_per_tenant: 1000\n');
    const c = loadConfig({}, { ANVIL_CONFIG: file, ANVIL_RATE_LIMIT_PER_TENANT_BURST: '2000' });
    expect([c.rateLimitPerKey, c.rateLimitPerKeyBurst, c.rateLimitPerTenant, c.rateLimitPerTenantBurst]).toEqual([10, 50, 1000, 2000]);
    expect(() => loadConfig({}, { ANVIL_RATE_LIMIT_PER_KEY: 'fast' })).toThrow(/ANVIL_RATE_LIMIT_PER_KEY: invalid rate "fast"/);
    expect(() => loadConfig({}, { ANVIL_RATE_LIMIT_PER_KEY_BURST: '1.5' })).toThrow(/ANVIL_RATE_LIMIT_PER_KEY_BURST/);
    fs.rmSync(dir, { recursive: true });
  });

  it('takes the admission caps from the environment or the file, 0 meaning no cap, and refuses nonsense', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-conf-'));
    const file = path.join(dir, 'anvil.yaml');
    fs.writeFileSync(file, 'max_connections: 100\nmax_concurrent_requests: 0\n');
    const c = loadConfig({}, { ANVIL_CONFIG: file, ANVIL_MAX_CONNECTIONS: '64' });
    expect(c.maxConnections).toBe(64);
    expect(c.maxConcurrentRequests).toBe(0);
    expect(() => loadConfig({}, { ANVIL_MAX_CONNECTIONS: '-1' })).toThrow(/ANVIL_MAX_CONNECTIONS: .*>=0/);
    expect(() => loadConfig({}, { ANVIL_MAX_CONCURRENT_REQUESTS: 'many' })).toThrow(/ANVIL_MAX_CONCURRENT_REQUESTS: .*"many"/);
    fs.rmSync(dir, { recursive: true });
  });

  it('applies flags over environment over file over defaults', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anvil-conf-'));
    const file = path.join(dir, 'anvil.yaml');
    fs.writeFileSync(file, 'listen: 0.0.0.0:7000\nregion: file-region\ndomain: file.example\ndata_dir: /srv/file\n');
    const env = { ANVIL_REGION: 'env-region', ANVIL_DOMAIN: 'env.example', ANVIL_CONFIG: file };
    const c = loadConfig({ region: 'flag-region' }, env);
    expect(c.region).toBe('flag-region');
    expect(c.domain).toBe('env.example');
    expect(c.listen).toBe('0.0.0.0:7000');
    expect(c.dataDir).toBe('/srv/file');
    expect(c.databaseUrl).toBe('sqlite:/srv/file/anvil.db');
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects invalid values with a clear message', () => {
    expect(() => loadConfig({ listen: 'nonsense' }, {})).toThrow(/listen must be host:port/);
    expect(() => loadConfig({}, { ANVIL_REGION: 'Bad Region' })).toThrow(/region/);
    expect(() => loadConfig({}, { ANVIL_ROOT_ACCESS_KEY: 'ONLYKEY' })).toThrow(/together/);
  });

  it('parses master keys as hex or base64 and refuses other lengths', () => {
    const hex = 'ab'.repeat(32);
    expect(parseMasterKey(hex).key.length).toBe(32);
    expect(parseMasterKey(Buffer.alloc(32, 7).toString('base64')).key).toEqual(Buffer.alloc(32, 7));
    expect(parseMasterKey(hex).id).toBe(parseMasterKey(Buffer.from(hex, 'hex').toString('base64')).id);
    expect(() => parseMasterKey('abcd')).toThrow(/32 bytes/);
  });
});
