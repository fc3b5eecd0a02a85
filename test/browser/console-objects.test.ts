/**
 * The console's object actions in Chromium against a real Anvil: a share
 * link (presigned GET, copied to the clipboard, fetched by the test), tags
 * edited and read back through the SDK, a bucket made public-read and
 * private again (an anonymous listing proves each), and a versioned object
 * deleted one version and then every version at a time.
 */
import fs from 'node:fs';
import path from 'node:path';

import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_CONSOLE_DIR } from '../../src/http/console.js';
import { describeEachEngine, ROOT_KEY, ROOT_SECRET, useAnvil } from '../support/anvil.js';
import { haveChromium, requireChromium, useBrowser } from '../support/browser.js';
import { BROWSER_TEST_TIMEOUT, type ConsolePage, openConsole, poll } from '../support/console-page.js';

const EMAIL = 'objects@example.test';
const PASSWORD = 'correct horse battery staple';

requireChromium();

describe.skipIf(!haveChromium)('web console: object actions', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html'))) {
      throw new Error(`the console is not built (${DEFAULT_CONSOLE_DIR}): run \`npm run build\` first`);
    }
  });
  const browser = useBrowser();

  describeEachEngine('in Chromium', (engine) => {
    const t = useAnvil(engine);
    let c: ConsolePage | undefined;

    beforeAll(async () => {
      await t.anvil.users.createUser('root', { email: EMAIL, password: PASSWORD, role: 'admin' });
    });
    afterEach(async () => {
      await c?.close();
      c = undefined;
    });

    it(
      'shares an object with a link the test fetches, and edits its tags',
      async () => {
        const bucket = `share-${engine}`;
        await t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'docs/report.txt', Body: 'quarterly numbers' }));

        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-objects-${engine}`);
        const { page } = c;
        await c.signInUser('root', EMAIL, PASSWORD);
        await c.go(`#/o/${bucket}/${encodeURIComponent('docs/report.txt')}`);
        await page.getByRole('heading', { name: 'report.txt' }).waitFor();

        // Share: a user session's link ends with its S3 credentials (within the hour), and says so.
        await page.getByLabel('Link expires in').selectOption({ label: '1 day' });
        await page.getByRole('button', { name: 'Copy share link' }).click();
        const field = page.getByLabel('Share link');
        await poll(() => field.inputValue()).toMatch(/^http:\/\/.*X-Amz-Signature=/);
        const url = await field.inputValue();
        expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
        expect(Number(new URL(url).searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(3600);
        await poll(() => page.locator('.share-result').textContent()).toMatch(/Copied to the clipboard.*ends with the session/);
        const shared = await fetch(url);
        expect(shared.status).toBe(200);
        expect(await shared.text()).toBe('quarterly numbers');
        // Tampering with the link breaks its signature.
        expect((await fetch(url.replace('report.txt', 'other.txt'))).status).toBe(403);

        // Tags: add two, save, read back; remove one, save, read back.
        await page.getByText('No tags.').waitFor();
        await page.getByRole('button', { name: 'Add tag' }).click();
        await page.getByLabel('Tag 1 key').fill('team');
        await page.getByLabel('Tag 1 value').fill('finance & ops');
        await page.getByRole('button', { name: 'Add tag' }).click();
        await page.getByLabel('Tag 2 key').fill('year');
        await page.getByLabel('Tag 2 value').fill('2026');
        await page.getByRole('button', { name: 'Save tags' }).click();
        await page.getByText('2 tags saved.').waitFor();
        const tagsOf = async () =>
          (await t.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'docs/report.txt' }))).TagSet!.map((x) => [x.Key, x.Value]);
        expect(await tagsOf()).toEqual([
          ['team', 'finance & ops'],
          ['year', '2026'],
        ]);
        await c.shot('share-and-tags');
        await page.getByRole('button', { name: 'Remove tag 1' }).click();
        await page.getByRole('button', { name: 'Save tags' }).click();
        await page.getByText('1 tag saved.').waitFor();
        expect(await tagsOf()).toEqual([['year', '2026']]);

        // Signed in with a key, the link lasts as long as asked.
        await c.close();
        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-objects-${engine}`);
        await c.signInKey(ROOT_KEY, ROOT_SECRET);
        await c.go(`#/o/${bucket}/${encodeURIComponent('docs/report.txt')}`);
        await c.page.getByLabel('Link expires in').selectOption({ label: '7 days' });
        await c.page.getByRole('button', { name: 'Copy share link' }).click();
        await poll(() => c!.page.getByLabel('Share link').inputValue()).toContain('X-Amz-Expires=604800');
        expect(await (await fetch(await c.page.getByLabel('Share link').inputValue())).text()).toBe('quarterly numbers');
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'makes a bucket public-read and private again',
      async () => {
        const bucket = `public-${engine}`;
        await t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
        const anonymousList = () => fetch(`${t.endpoint}/${bucket}?list-type=2`).then((r) => r.status);
        expect(await anonymousList()).toBe(403);

        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-objects-${engine}`);
        const { page } = c;
        await c.signInUser('root', EMAIL, PASSWORD);
        page.once('dialog', (d) => {
          expect(d.message()).toMatch(/Anyone, without signing in, may then list/);
          void d.accept();
        });
        await page.getByRole('button', { name: `Make bucket ${bucket} public` }).click();
        await page.getByText(`Bucket ${bucket} is public.`).waitFor();
        await poll(() => page.getByRole('row', { name: new RegExp(bucket) }).textContent()).toContain('public');
        expect(await anonymousList()).toBe(200);
        await c.shot('public-bucket');

        page.once('dialog', (d) => void d.accept());
        await page.getByRole('button', { name: `Make bucket ${bucket} private` }).click();
        await page.getByText(`Bucket ${bucket} is private.`).waitFor();
        await page.getByRole('button', { name: `Make bucket ${bucket} public` }).waitFor();
        expect(await anonymousList()).toBe(403);
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'shows the versions of an object in a versioned bucket and deletes one, then all of them',
      async () => {
        const bucket = `versioned-${engine}`;
        await t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await t.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
        const ids: string[] = [];
        for (const body of ['one', 'two', 'three']) {
          ids.push((await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'notes.txt', Body: body }))).VersionId!);
        }
        const versionsLeft = async () => {
          const r = await t.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
          return [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])].map((v) => v.VersionId);
        };

        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-objects-${engine}`);
        const { page } = c;
        await c.signInUser('root', EMAIL, PASSWORD);
        await c.go(`#/o/${bucket}/notes.txt`);
        const table = page.getByRole('table', { name: 'Versions of notes.txt' });
        await poll(() => table.locator('tbody tr').count()).toBe(3);
        expect(await table.locator('tbody th').allTextContents()).toEqual([...ids].reverse());

        page.once('dialog', (d) => void d.accept());
        await page.getByRole('button', { name: `Delete version ${ids[0]}` }).click();
        await page.getByText(`Version ${ids[0]} deleted.`).waitFor();
        await poll(() => table.locator('tbody tr').count()).toBe(2);
        expect((await versionsLeft()).sort()).toEqual([ids[1], ids[2]].sort());
        await c.shot('versions');

        page.once('dialog', (d) => {
          expect(d.message()).toMatch(/all its 2 versions/);
          void d.accept();
        });
        await page.getByRole('button', { name: 'Delete all versions' }).click();
        await page.getByText('This folder is empty').waitFor();
        expect(await versionsLeft()).toEqual([]);
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );
  });
});
