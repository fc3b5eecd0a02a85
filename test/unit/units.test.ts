/** Sizes and durations as the config takes them (src/config/units.ts), and "did you mean". */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { closest } from '../../src/config/suggest.js';
import { formatDuration, formatRate, formatSize, parseDuration, parseRate, parseSize } from '../../src/config/units.js';
import { fuzzParams } from '../support/fuzz.js';

const KiB = 1024;
const GiB = 1024 ** 3;

describe('sizes', () => {
  it('reads the documented forms', () => {
    expect(parseSize('1MiB')).toBe(1024 * KiB);
    expect(parseSize('5GiB')).toBe(5 * GiB);
    expect(parseSize('100MB')).toBe(100_000_000);
    expect(parseSize('512k')).toBe(512 * KiB);
    expect(parseSize('512K')).toBe(512 * KiB);
    expect(parseSize('2Gi')).toBe(2 * GiB);
    expect(parseSize('1.5 GiB')).toBe(1.5 * GiB);
    expect(parseSize('0.1KB')).toBe(100);
    expect(parseSize('4.35KB')).toBe(4350); // exact: 4.35 * 1000 in floating point is 4349.999…
    expect(parseSize('1.0000000001KiB')).toBe(1024);
    expect(parseSize(' 42 ')).toBe(42);
    expect(parseSize(42)).toBe(42);
    expect(parseSize('7PiB')).toBe(7 * 1024 ** 5);
    for (const bad of ['', 'k', '5 kilo', '-5', '5e3', '0x10', '1,5MB', '5MiBs', '8PiB', 'NaN', 1.5, -1, Infinity])
      expect(() => parseSize(bad as string), String(bad)).toThrow(/invalid size/);
  });

  it('formats every byte count so that it reads back unchanged (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.maxSafeNat(),
          fc.nat({ max: 4096 }).map((n) => n * 1024 ** 3),
        ),
        (bytes) => {
          expect(parseSize(formatSize(bytes))).toBe(bytes);
        },
      ),
      fuzzParams(2000),
    );
    expect(formatSize(5 * GiB)).toBe('5GiB');
    expect(formatSize(100_000_000)).toBe('100MB');
    expect(formatSize(5e12)).toBe('5TB');
    expect(formatSize(3 * KiB)).toBe('3KiB');
    expect(formatSize(1023)).toBe('1023');
  });

  it('reads a number with any unit, spacing and case as that many units (property)', () => {
    const units: Array<[string, number]> = [
      ['', 1],
      ['b', 1],
      ['KB', 1e3],
      ['mb', 1e6],
      ['Gb', 1e9],
      ['KiB', 1024],
      ['mib', 1024 ** 2],
      ['GiB', 1024 ** 3],
      ['TiB', 1024 ** 4],
      ['k', 1024],
      ['M', 1024 ** 2],
      ['g', 1024 ** 3],
      ['Ti', 1024 ** 4],
    ];
    fc.assert(
      fc.property(fc.nat({ max: 2000 }), fc.constantFrom(...units), fc.constantFrom('', ' '), (n, [unit, factor], space) => {
        expect(parseSize(`${n}${space}${unit}`)).toBe(n * factor);
      }),
      fuzzParams(1000),
    );
  });
});

describe('durations', () => {
  it('reads the documented forms, a plain number in the setting’s own unit', () => {
    expect(parseDuration('30s', 'ms')).toBe(30_000);
    expect(parseDuration('5m', 's')).toBe(300);
    expect(parseDuration('24h', 'h')).toBe(24);
    expect(parseDuration('90m', 'h')).toBe(1.5);
    expect(parseDuration('1h30m', 's')).toBe(5400);
    expect(parseDuration('1h 30m', 's')).toBe(5400);
    expect(parseDuration('7d', 'h')).toBe(168);
    expect(parseDuration('250ms', 'ms')).toBe(250);
    expect(parseDuration('1.5s', 'ms')).toBe(1500);
    expect(parseDuration('3000', 'ms')).toBe(3000);
    expect(parseDuration('168', 'h')).toBe(168);
    expect(parseDuration(900, 's')).toBe(900);
    for (const bad of ['', 's', '5 minutes', '-5s', '5x', '5s5', 'soon', '1e3s', NaN])
      expect(() => parseDuration(bad as string, 's'), String(bad)).toThrow(/invalid duration/);
  });

  it('formats every whole number of milliseconds so that it reads back unchanged (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.nat({ max: 10_000 }).map((n) => n * 60_000),
          fc.integer({ min: 0, max: 2 ** 45 }),
        ),
        (ms) => {
          expect(parseDuration(formatDuration(ms), 'ms')).toBe(ms);
        },
      ),
      fuzzParams(2000),
    );
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(1001)).toBe('1s1ms');
  });
});

describe('did you mean', () => {
  const keys = ['listen', 'data_dir', 'database_url', 'log_level', 'max_object_size', 'backends', 'replication'];
  it('names the closest key for typos, transpositions and other spellings of the same key', () => {
    expect(closest('listn', keys)).toBe('listen');
    expect(closest('lsiten', keys)).toBe('listen');
    expect(closest('dataDir', keys)).toBe('data_dir');
    expect(closest('DATA-DIR', keys)).toBe('data_dir');
    expect(closest('databse_url', keys)).toBe('database_url');
    expect(closest('max_obj_size', keys)).toBe('max_object_size');
    expect(closest('backend', keys)).toBe('backends');
  });
  it('names nothing when nothing is close', () => {
    expect(closest('colour', keys)).toBeUndefined();
    expect(closest('zzz', keys)).toBeUndefined();
  });
});

describe('rates', () => {
  it('reads requests per second, or per minute or hour, and writes them back', () => {
    expect(parseRate('100')).toBe(100);
    expect(parseRate(2.5)).toBe(2.5);
    expect(parseRate('100/s')).toBe(100);
    expect(parseRate('6000/min')).toBe(100);
    expect(parseRate('30 / m')).toBe(0.5);
    expect(parseRate('3600/h')).toBe(1);
    expect(parseRate('0')).toBe(0);
    for (const bad of ['', 'fast', '10/day', '-1', '1/s/s', -1, Infinity])
      expect(() => parseRate(bad as string), String(bad)).toThrow(/invalid rate/);
    for (const r of [100, 0.5, 1 / 60, 1 / 3600, 0]) expect(parseRate(formatRate(r))).toBeCloseTo(r, 12);
    expect(formatRate(0.1)).toBe('6/min');
  });
});
