/**
 * Listing order where UTF-16 and UTF-8 disagree: keys mixing ASCII, U+E000-U+F8FF (private use),
 * U+FFFD and emoji (astral, surrogate pairs in JavaScript). JavaScript's `<` puts an emoji
 * (0xD83D...) before U+E000 and U+FFFD; UTF-8 byte order, S3's and the databases', puts it after
 * (F0 9F... > EF BF BD > EE 80 80). Every page of every listing call is checked against a model
 * built from the full key list in byte order, with page sizes small enough to cut at each
 * boundary.
 *
 * The tables are analysed first: with statistics of a small bucket, PostgreSQL once joined the
 * delimiter walk's page to its objects with a hash join and returned it out of order, and the
 * listing skipped and repeated entries (src/core/listing.ts, ListingService.walk).
 */
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { sql } from 'kysely';
import { beforeAll, expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
const bytes = (s: string) => Buffer.from(s, 'utf8');
const byteCompare = (a: string, b: string) => Buffer.compare(bytes(a), bytes(b));
const byteOrder = (keys: Iterable<string>) => [...keys].sort(byteCompare);

/** Characters whose UTF-16 order differs from their UTF-8 order, and ASCII around them. */
const CHARS = ['a', 'Z', '~', '\uE000', '\uF8FF', '\uFFFD', '\u{1F600}', '\u{10FFFF}'];

/** Flat keys of one and two characters, and keys in folders named after each character. */
function makeKeys(): string[] {
  const keys = new Set<string>();
  for (const a of CHARS) {
    keys.add(a);
    for (const b of CHARS) {
      keys.add(a + b);
      keys.add(`${a}/${b}`);
    }
  }
  return byteOrder(keys);
}

/** An entry of a listing: a key, or a common prefix tagged 'P:'. */
type Entry = string;
const entryKey = (e: Entry) => (e.startsWith('P:') ? e.slice(2) : e);

/** Every entry S3 returns after `after` (exclusive) under prefix, rolled up at the delimiter, in byte order. */
function model(keys: string[], prefix: string, delimiter: string, after: string): Entry[] {
  const out: Entry[] = [];
  for (const k of keys) {
    if (!k.startsWith(prefix) || byteCompare(k, after) <= 0) continue;
    const i = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
    const entry = i < 0 ? k : 'P:' + k.slice(0, i + delimiter.length);
    // A start point inside a common prefix: that prefix was returned already.
    if (entry.startsWith('P:') && after.startsWith(entryKey(entry))) continue;
    if (!out.includes(entry)) out.push(entry);
  }
  return out;
}

/** A page's entries, checking that each of its two lists is in byte order. */
function pageEntries(contents: string[], prefixes: string[]): Entry[] {
  expect(contents).toEqual(byteOrder(contents));
  expect(prefixes).toEqual(byteOrder(prefixes));
  return [...contents, ...prefixes.map((p) => 'P:' + p)].sort((a, b) => byteCompare(entryKey(a), entryKey(b)));
}

describeEachEngine('listing order in UTF-8 bytes', (engine) => {
  const t = useAnvil(engine, { buckets: ['order'] });
  const keys = makeKeys();
  const uploads = byteOrder(keys.filter((_, i) => i % 3 === 0));

  beforeAll(async () => {
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(keys.slice(i, i + 16).map((k) => t.s3.send(new PutObjectCommand({ Bucket: 'order', Key: k, Body: 'x' }))));
    }
    for (const k of uploads) await t.s3.send(new CreateMultipartUploadCommand({ Bucket: 'order', Key: k }));
    // Plans as they are once the database knows the tables (autovacuum does this on its own, at
    // a time of its choosing): this is what made the PostgreSQL failure come and go.
    await sql`ANALYZE`.execute(t.anvil.meta.data);
  }, 120_000);

  /** ListObjectsV2 page by page with continuation tokens (up to maxPages); returns every entry in the order served. */
  async function listV2(prefix: string, delimiter: string, startAfter: string, max: number, maxPages = Infinity): Promise<Entry[]> {
    const seen: Entry[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < maxPages; pages++) {
      expect(pages).toBeLessThan(keys.length + 2);
      const res = await t.s3.send(
        new ListObjectsV2Command({
          Bucket: 'order',
          Prefix: prefix || undefined,
          Delimiter: delimiter || undefined,
          StartAfter: startAfter || undefined,
          ContinuationToken: token,
          MaxKeys: max,
        }),
      );
      const page = pageEntries(
        (res.Contents ?? []).map((c) => c.Key!),
        (res.CommonPrefixes ?? []).map((p) => p.Prefix!),
      );
      expect(page.length).toBeLessThanOrEqual(max);
      expect(res.KeyCount).toBe(page.length);
      seen.push(...page);
      if (!res.IsTruncated) return seen;
      expect(page.length).toBe(max);
      token = res.NextContinuationToken;
    }
    return seen;
  }

  it('lists every key in byte order, in one page and across pages cut at every boundary', async () => {
    expect(await listV2('', '', '', 1000)).toEqual(keys);
    expect(await listV2('', '', '', 3)).toEqual(keys);
    expect(await listV2('', '', '', 1)).toEqual(keys);
  });

  it('rolls up folders in byte order, paginated with continuation tokens', async () => {
    const want = model(keys, '', '/', '');
    // Sanity of the model: the folders sort like their names, not like UTF-16.
    expect(want.filter((e) => e.startsWith('P:'))).toEqual(byteOrder(CHARS).map((c) => `P:${c}/`));
    for (const max of [1000, 5, 2, 1]) expect(await listV2('', '/', '', max)).toEqual(want);
    // Inside one folder, and under a one-character prefix that is also a folder's name.
    for (const prefix of ['\uFFFD/', '\u{1F600}', '\uE000', 'a']) {
      for (const delimiter of ['', '/']) {
        for (const max of [1000, 2]) expect(await listV2(prefix, delimiter, '', max)).toEqual(model(keys, prefix, delimiter, ''));
      }
    }
  });

  it('starts after any key or folder, with and without a delimiter', async () => {
    const starts = [...keys.filter((_, i) => i % 7 === 0), ...CHARS.map((c) => `${c}/`), '\uFFFE', '\u{1F5FF}', '\uD7FF'];
    for (const after of starts) {
      for (const delimiter of ['', '/']) {
        const want = model(keys, '', delimiter, after);
        expect({ after, delimiter, got: await listV2('', delimiter, after, 1000) }).toEqual({ after, delimiter, got: want });
        // The first two pages of three: the cut right after the start point, and the one after it.
        expect({ after, delimiter, got: await listV2('', delimiter, after, 3, 2) }).toEqual({ after, delimiter, got: want.slice(0, 6) });
      }
    }
  });

  it('pages ListObjects (v1) with markers in byte order', async () => {
    for (const delimiter of ['', '/']) {
      const seen: Entry[] = [];
      let marker: string | undefined;
      for (;;) {
        const res = await t.s3.send(
          new ListObjectsCommand({ Bucket: 'order', Delimiter: delimiter || undefined, Marker: marker, MaxKeys: 3 }),
        );
        const page = pageEntries(
          (res.Contents ?? []).map((c) => c.Key!),
          (res.CommonPrefixes ?? []).map((p) => p.Prefix!),
        );
        seen.push(...page);
        if (!res.IsTruncated) break;
        // S3 sends NextMarker only with a delimiter; otherwise the client resumes after its last key.
        marker = delimiter ? res.NextMarker : entryKey(page[page.length - 1]);
        expect(marker).toBe(entryKey(page[page.length - 1]));
      }
      expect({ delimiter, seen }).toEqual({ delimiter, seen: model(keys, '', delimiter, '') });
    }
  });

  it('pages ListMultipartUploads with key markers in byte order', async () => {
    for (const delimiter of ['', '/']) {
      const seen: Entry[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      for (;;) {
        const res = await t.s3.send(
          new ListMultipartUploadsCommand({
            Bucket: 'order',
            Delimiter: delimiter || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
            MaxUploads: 3,
          }),
        );
        seen.push(
          ...pageEntries(
            (res.Uploads ?? []).map((u) => u.Key!),
            (res.CommonPrefixes ?? []).map((p) => p.Prefix!),
          ),
        );
        if (!res.IsTruncated) break;
        keyMarker = res.NextKeyMarker;
        uploadIdMarker = res.NextUploadIdMarker || undefined;
      }
      expect({ delimiter, seen }).toEqual({ delimiter, seen: model(uploads, '', delimiter, '') });
    }
    // A key marker between the two orders: after U+FFFD, before the emoji, in bytes.
    const res = await t.s3.send(new ListMultipartUploadsCommand({ Bucket: 'order', KeyMarker: '\uFFFE' }));
    expect(res.Uploads?.map((u) => u.Key)).toEqual(uploads.filter((k) => byteCompare(k, '\uFFFE') > 0));
    expect(res.Uploads?.length).toBeGreaterThan(0);
  });
});
