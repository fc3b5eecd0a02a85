import path from 'node:path';

import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

import { DEFAULT_BACKEND_NAME, parseBackendsConfig, parseSize, UNLIMITED } from '../../src/backends/config.js';
import { type BackendState, placeReplicas, readOrder } from '../../src/backends/placement.js';

const GiB = 1024 ** 3;

function backend(name: string, quotaGiB: number, usedGiB: number, extra: Partial<BackendState> = {}): BackendState {
  return { name, quotaBytes: quotaGiB * GiB, usedBytes: usedGiB * GiB, ...extra };
}

describe('placement: pack', () => {
  const disks = [backend('a', 10, 9), backend('b', 10, 2), backend('c', 100, 1)];

  it('fills backends in declared order, taking the first that fit', () => {
    expect(placeReplicas(disks, { size: GiB / 2, factor: 1, strategy: 'pack' })).toMatchObject({ ok: true, backends: ['a'] });
    // 2 GiB no longer fits on a (9 + 2 > 10): it is passed over, with the reason.
    const r = placeReplicas(disks, { size: 2 * GiB, factor: 1, strategy: 'pack' });
    expect(r).toMatchObject({ ok: true, backends: ['b'] });
    expect(r.skipped).toEqual([expect.objectContaining({ name: 'a', reason: 'quota' })]);
  });

  it('places a replication factor on that many distinct backends', () => {
    expect(placeReplicas(disks, { size: 1, factor: 2, strategy: 'pack' })).toMatchObject({ ok: true, backends: ['a', 'b'] });
    expect(placeReplicas(disks, { size: 1, factor: 3, strategy: 'pack' })).toMatchObject({ ok: true, backends: ['a', 'b', 'c'] });
  });

  it('a blob exactly filling the quota fits; one byte more does not', () => {
    const one = [backend('a', 10, 9)];
    expect(placeReplicas(one, { size: GiB, factor: 1, strategy: 'pack' }).ok).toBe(true);
    expect(placeReplicas(one, { size: GiB + 1, factor: 1, strategy: 'pack' }).ok).toBe(false);
  });
});

describe('placement: spread', () => {
  it('picks the lowest fill ratio after placing the blob', () => {
    const disks = [backend('a', 10, 5), backend('b', 100, 20), backend('c', 10, 1)];
    // After 1 GiB: a 60%, b 21%, c 20%.
    expect(placeReplicas(disks, { size: GiB, factor: 1, strategy: 'spread' })).toMatchObject({ backends: ['c'] });
    expect(placeReplicas(disks, { size: GiB, factor: 2, strategy: 'spread' })).toMatchObject({ backends: ['c', 'b'] });
    // After 5 GiB the blob's own weight matters: a 100%, b 25%, c 60%.
    expect(placeReplicas(disks, { size: 5 * GiB, factor: 2, strategy: 'spread' })).toMatchObject({ backends: ['b', 'c'] });
  });

  it('breaks ties by declared order', () => {
    const disks = [backend('x', 10, 1), backend('y', 20, 2), backend('z', 10, 1)];
    expect(placeReplicas(disks, { size: 0, factor: 2, strategy: 'spread' })).toMatchObject({ backends: ['x', 'y'] });
  });

  it('an unlimited quota always has the lowest ratio', () => {
    const disks = [backend('a', 10, 0), { name: 'big', quotaBytes: UNLIMITED, usedBytes: 50 * GiB }];
    expect(placeReplicas(disks, { size: GiB, factor: 1, strategy: 'spread' })).toMatchObject({ backends: ['big'] });
  });
});

describe('placement: skipping and InsufficientStorage', () => {
  it('skips each kind of ineligible backend and says why', () => {
    const month = { requests: 0, ingressBytes: 0, egressBytes: 0 };
    const disks: BackendState[] = [
      backend('excluded', 10, 0),
      backend('draining', 10, 0, { draining: true }),
      backend('sick', 10, 0, { healthy: false }),
      backend('tripped', 10, 0, { breaker: 'open' }),
      backend('recovering', 10, 0, { breaker: 'half-open' }),
      backend('small-objects', 10, 0, { maxObjectSize: 1024 }),
      backend('full', 10, 10),
      backend('req-limit', 10, 0, { monthlyLimits: { requests: 100 }, monthlyUsage: { ...month, requests: 100 } }),
      backend('in-limit', 10, 0, { monthlyLimits: { ingressBytes: GiB }, monthlyUsage: { ...month, ingressBytes: GiB - 10 } }),
      backend('egress-only-limit', 10, 0, { monthlyLimits: { egressBytes: 1 }, monthlyUsage: { ...month, egressBytes: 5 } }),
    ];
    const r = placeReplicas(disks, { size: 2048, factor: 2, strategy: 'pack', exclude: ['excluded'] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('InsufficientStorage');
    expect(r.eligible).toEqual(['egress-only-limit']); // egress limits gate reads, not writes
    expect(Object.fromEntries(r.skipped.map((s) => [s.name, s.reason]))).toEqual({
      excluded: 'excluded',
      draining: 'draining',
      sick: 'unhealthy',
      tripped: 'breaker-open',
      recovering: 'breaker-open',
      'small-objects': 'too-large',
      full: 'quota',
      'req-limit': 'monthly-requests',
      'in-limit': 'monthly-ingress',
    });
    expect(r.message).toMatch(/needs 2 backend\(s\), 1 can take it/);
    expect(r.message).toMatch(/full: .* > quota/);
  });

  it('counts a multipart put as several requests against the monthly limit', () => {
    const disks = [
      backend('remote', 10, 0, { monthlyLimits: { requests: 10 }, monthlyUsage: { requests: 5, ingressBytes: 0, egressBytes: 0 } }),
    ];
    const perPut = (parts: number) => () => parts + 2;
    expect(placeReplicas(disks, { size: 1, factor: 1, strategy: 'pack', requestsPerPut: perPut(3) }).ok).toBe(true); // 5 + 5 = 10
    expect(placeReplicas(disks, { size: 1, factor: 1, strategy: 'pack', requestsPerPut: perPut(4) }).ok).toBe(false);
  });

  it('fails when the factor exceeds the backends there are', () => {
    const r = placeReplicas([backend('a', 10, 0)], { size: 1, factor: 2, strategy: 'spread' });
    expect(r).toMatchObject({ ok: false, code: 'InsufficientStorage', eligible: ['a'], skipped: [] });
  });

  it('refuses nonsense input', () => {
    expect(() => placeReplicas([backend('a', 1, 0)], { size: 1, factor: 0, strategy: 'pack' })).toThrow();
    expect(() => placeReplicas([backend('a', 1, 0)], { size: -1, factor: 1, strategy: 'pack' })).toThrow();
    expect(() => placeReplicas([backend('a', 1, 0), backend('a', 1, 0)], { size: 1, factor: 1, strategy: 'pack' })).toThrow(/twice/);
  });
});

describe('readOrder', () => {
  const month = { requests: 0, ingressBytes: 0, egressBytes: 0 };
  const states = [
    backend('ok1', 1, 0),
    backend('ok2', 1, 0, { healthy: true, breaker: 'closed' }),
    backend('halfopen', 1, 0, { breaker: 'half-open' }),
    backend('stale-unhealthy', 1, 0, { healthy: false }),
    backend('open', 1, 0, { breaker: 'open' }),
    backend('egress-spent', 1, 0, { monthlyLimits: { egressBytes: 100 }, monthlyUsage: { ...month, egressBytes: 90 } }),
  ];

  it('healthy closed replicas first, in the order given, then half-open, then unhealthy; open ones skipped', () => {
    const r = readOrder(['stale-unhealthy', 'halfopen', 'open', 'ok2', 'ok1', 'ok2'], states);
    expect(r.order).toEqual(['ok2', 'ok1', 'halfopen', 'stale-unhealthy']);
    expect(r.skipped).toEqual([expect.objectContaining({ name: 'open', reason: 'breaker-open' })]);
  });

  it('skips replicas on backends no longer configured', () => {
    const r = readOrder(['gone', 'ok1'], new Map(states.map((s) => [s.name, s])));
    expect(r.order).toEqual(['ok1']);
    expect(r.skipped).toEqual([expect.objectContaining({ name: 'gone', reason: 'excluded' })]);
  });

  it('a backend past its monthly egress is skipped, or tried last when asked', () => {
    expect(readOrder(['egress-spent', 'ok1'], states, { bytes: 5 }).order).toEqual(['egress-spent', 'ok1']);
    const r = readOrder(['egress-spent', 'ok1'], states, { bytes: 20 });
    expect(r.order).toEqual(['ok1']);
    expect(r.skipped[0]).toMatchObject({ name: 'egress-spent', reason: 'monthly-egress' });
    expect(readOrder(['egress-spent', 'halfopen'], states, { bytes: 20, overLimit: 'last' }).order).toEqual(['halfopen', 'egress-spent']);
  });
});

describe('backends config', () => {
  const dataDir = '/var/lib/anvil';

  it('parses sizes in binary and decimal units', () => {
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('2TiB')).toBe(2 * 1024 ** 4);
    expect(parseSize('5 GiB')).toBe(5 * GiB);
    expect(parseSize('1.5gib')).toBe(1.5 * GiB);
    expect(parseSize('10MB')).toBe(10_000_000);
    expect(parseSize('3KiB')).toBe(3072);
    expect(parseSize('1kb')).toBe(1000);
    expect(parseSize('7B')).toBe(7);
    // Single letters are powers of 1024, as in dd, nginx and Docker (README § Configuration).
    expect(parseSize('5G')).toBe(5 * GiB);
    expect(parseSize('512k')).toBe(512 * 1024);
    for (const bad of ['', 'G', '5 gigs', '-1', '1e3', 'TiB', '99999999PiB', '5Gb!', '1.5.5MB'])
      expect(() => parseSize(bad), bad).toThrow(/invalid size/);
  });

  it('defaults to one fs backend at the data folder when the section is absent', () => {
    for (const raw of [undefined, null, {}, { listen: '127.0.0.1:9000' }]) {
      expect(parseBackendsConfig(raw, dataDir)).toEqual({
        placement: 'spread',
        replication: 1,
        readStallTimeoutMs: 3000,
        backends: [{ type: 'fs', name: DEFAULT_BACKEND_NAME, path: dataDir, quotaBytes: UNLIMITED }],
        isDefault: true,
      });
    }
    expect(() => parseBackendsConfig({ replication: 2 }, dataDir)).toThrow(/replication: 2 needs at least/);
  });

  it('parses the documented example', () => {
    const raw = YAML.parse(`
listen: 0.0.0.0:9000
placement: pack
replication: 2
read_stall_timeout_ms: 1500
backends:
  - name: disk1
    type: fs
    path: /mnt/disk1/anvil
    quota: 2TiB
    max_object_size: 5GiB
  - name: remote
    type: s3
    endpoint: https://s3.example.com
    region: eu-west-1
    bucket: anvil-blobs
    prefix: node1/
    force_path_style: true
    access_key_id: AKIAEXAMPLE
    secret_access_key: secret-example
    quota: 10TiB
    monthly: { requests: 10000000, ingress: 1TiB, egress: 500GB }
    request_timeout_ms: 20000
`);
    const cfg = parseBackendsConfig(raw, dataDir);
    expect(cfg).toEqual({
      placement: 'pack',
      replication: 2,
      readStallTimeoutMs: 1500,
      isDefault: false,
      backends: [
        { type: 'fs', name: 'disk1', path: '/mnt/disk1/anvil', quotaBytes: 2 * 1024 ** 4, maxObjectSize: 5 * GiB },
        {
          type: 's3',
          name: 'remote',
          endpoint: 'https://s3.example.com',
          region: 'eu-west-1',
          bucket: 'anvil-blobs',
          prefix: 'node1/',
          forcePathStyle: true,
          credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret-example' },
          quotaBytes: 10 * 1024 ** 4,
          monthly: { requests: 10_000_000, ingressBytes: 1024 ** 4, egressBytes: 500e9 },
          timeouts: { requestMs: 20000 },
        },
      ],
    });
    // The list alone is accepted too, and s3 settings have defaults.
    const alone = parseBackendsConfig([{ name: 'r', type: 's3', bucket: 'bkt', quota: 'unlimited' }], dataDir);
    expect(alone.backends[0]).toEqual({
      type: 's3',
      name: 'r',
      endpoint: undefined,
      region: 'us-east-1',
      bucket: 'bkt',
      prefix: '',
      forcePathStyle: false,
      quotaBytes: UNLIMITED,
      timeouts: {},
    });
  });

  it('resolves relative fs paths and reads credentials from the environment when asked', () => {
    const cfg = parseBackendsConfig(
      {
        backends: [
          { name: 'd', type: 'fs', path: 'disk', quota: '1GiB' },
          { name: 'r', type: 's3', bucket: 'bkt', quota: 1, access_key_id_env: 'MY_KEY', secret_access_key_env: 'MY_SECRET' },
        ],
      },
      dataDir,
      { MY_KEY: 'k', MY_SECRET: 's' },
    );
    expect(cfg.backends[0]).toMatchObject({ path: path.resolve('disk') });
    expect(cfg.backends[1]).toMatchObject({ credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
    expect(() =>
      parseBackendsConfig(
        { backends: [{ name: 'r', type: 's3', bucket: 'bkt', quota: 1, access_key_id_env: 'NOPE', secret_access_key: 's' }] },
        dataDir,
        {},
      ),
    ).toThrow(/NOPE is not set/);
  });

  it('rejects invalid sections with every problem named', () => {
    const fsb = (name: string, p: string) => ({ name, type: 'fs', path: p, quota: '1GiB' });
    const bad: Array<[unknown, RegExp]> = [
      [{ backends: [fsb('a', '/d1'), fsb('a', '/d2')] }, /name a is used twice/],
      [{ replication: 3, backends: [fsb('a', '/d1'), fsb('b', '/d2')] }, /replication: 3 is more than the 2/],
      [{ backends: [fsb('a', '/d1'), fsb('b', '/d1/sub')] }, /a and b: folders overlap/],
      [{ backends: [{ ...fsb('a', '/d1'), quota: '12 parsecs' }] }, /backends\.0\.quota: invalid size/],
      [{ backends: [{ ...fsb('a', '/d1'), quota: 0 }] }, /quota must be positive/],
      [{ backends: [{ ...fsb('a', '/d1'), type: 'ftp' }] }, /backends\.0/],
      [{ backends: [{ ...fsb('a', '/d1'), colour: 'red' }] }, /colour/],
      [{ backends: [fsb('Bad Name', '/d1')] }, /name:/],
      [{ backends: [] }, /at least one/],
      [{ placement: 'random', backends: [fsb('a', '/d1')] }, /placement/],
      [{ read_stall_timeout_ms: 0, backends: [fsb('a', '/d1')] }, /read_stall_timeout_ms/],
      [{ read_stall_timeout_ms: 'soon', backends: [fsb('a', '/d1')] }, /read_stall_timeout_ms/],
      [
        {
          backends: [
            { name: 'x', type: 's3', bucket: 'bkt', prefix: 'node1', quota: 1 },
            { name: 'y', type: 's3', bucket: 'bkt', prefix: 'node10/', quota: 1 },
          ],
        },
        /x and y: same bucket with overlapping prefixes/,
      ],
      [{ backends: [{ name: 'x', type: 's3', bucket: 'bkt', quota: 1, access_key_id: 'k' }] }, /go together/],
      [{ backends: [{ name: 'x', type: 's3', bucket: 'bkt', quota: 1, prefix: '../up' }] }, /prefix/],
      [{ backends: [{ name: 'x', type: 's3', bucket: 'bkt', quota: 1, part_size: '1MiB' }] }, /part_size/],
      [{ backends: [{ name: 'x', type: 's3', bucket: 'bkt', quota: 1, endpoint: 'ftp://host' }] }, /endpoint/],
    ];
    for (const [raw, message] of bad) expect(() => parseBackendsConfig(raw, dataDir), JSON.stringify(raw)).toThrow(message);
    // Different buckets (or endpoints) may use the same prefix.
    expect(() =>
      parseBackendsConfig(
        {
          backends: [
            { name: 'x', type: 's3', bucket: 'bkt1', prefix: 'n/', quota: 1 },
            { name: 'y', type: 's3', bucket: 'bkt2', prefix: 'n/', quota: 1 },
          ],
        },
        dataDir,
      ),
    ).not.toThrow();
  });
});
