/**
 * The change feed across two nodes sharing one PostgreSQL (issue 16): writes
 * on both nodes at once make one sequence that both nodes serve alike, a
 * consumer moving from one node to the other with its cursor sees every
 * event once, and a long poll on one node wakes for a write on the other.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { startTestAnvil, type TestAnvil } from '../support/anvil.js';
import { allEvents, feed, feedEnd } from '../support/events.js';

/** Nodes on one database share the master key (README: Running a cluster). */
const MASTER_KEY = 'cd'.repeat(32);

describe.skipIf(inject('pgAdminUrl') === null)('change feed across two nodes on one PostgreSQL', () => {
  let a: TestAnvil;
  let b: TestAnvil;
  beforeAll(async () => {
    a = await startTestAnvil('postgres', { masterKey: MASTER_KEY });
    b = await startTestAnvil('postgres', { masterKey: MASTER_KEY, databaseUrl: a.config.databaseUrl });
    await a.s3.send(new CreateBucketCommand({ Bucket: 'shared' }));
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('writes on both nodes at once are one sequence, resumable on either node', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    await Promise.all(keys.map((k, i) => (i % 2 ? a : b).s3.send(new PutObjectCommand({ Bucket: 'shared', Key: k, Body: k }))));
    const fromA = await allEvents(a, 'shared');
    const fromB = await allEvents(b, 'shared');
    expect(fromA).toEqual(fromB);
    expect(fromA.map((e) => e.key).sort()).toEqual(keys);
    for (let i = 1; i < fromA.length; i++) expect(fromA[i].seq).toBeGreaterThan(fromA[i - 1].seq);

    // A consumer reads part of the feed on a, then goes on with its cursor on b.
    const first = await feed(a, 'shared', { limit: 15 });
    const rest = await allEvents(b, 'shared', first.cursor);
    expect([...first.events, ...rest].map((e) => e.cursor)).toEqual(fromA.map((e) => e.cursor));
  });

  it('a long poll on one node wakes for a write on the other', async () => {
    const end = await feedEnd(b, 'shared');
    const waiting = feed(b, 'shared', { after: end, wait: 30 });
    await a.s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'from-a', Body: 'x' }));
    const page = await waiting;
    expect(page.events.map((e) => e.key)).toEqual(['from-a']);
  });
});
