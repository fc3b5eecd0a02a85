/**
 * The branch graph of a bucket in Chromium (branches, and the commits of
 * every branch drawn one lane each, a merge joining two lanes), and the
 * dark theme the console takes when the system asks for one.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_CONSOLE_DIR } from '../../src/http/console.js';
import { adminApi } from '../support/admin-api.js';
import { describeEachEngine, ROOT_KEY, ROOT_SECRET, useAnvil } from '../support/anvil.js';
import { haveChromium, requireChromium, useBrowser } from '../support/browser.js';
import { BROWSER_TEST_TIMEOUT, type ConsolePage, openConsole, poll } from '../support/console-page.js';

requireChromium();

describe.skipIf(!haveChromium)('web console: branch graph and themes', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html'))) {
      throw new Error(`the console is not built (${DEFAULT_CONSOLE_DIR}): run \`npm run build\` first`);
    }
  });
  const browser = useBrowser();

  describeEachEngine('in Chromium', (engine) => {
    const t = useAnvil(engine);
    let c: ConsolePage | undefined;
    afterEach(async () => {
      await c?.close();
      c = undefined;
    });

    it(
      'draws the branches and commits of a bucket',
      async () => {
        const bucket = `graph-${engine}`;
        await t.s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await t.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
        await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'one' }));
        const first = await adminApi(t, 'POST', `buckets/${bucket}/branches/main/commits`, { message: 'first on main' });
        await adminApi(t, 'POST', `buckets/${bucket}/branches`, { name: 'dev', from: 'main' });
        await t.s3.send(new PutObjectCommand({ Bucket: `${bucket}--dev`, Key: 'b.txt', Body: 'two' }));
        await adminApi(t, 'POST', `buckets/${bucket}/branches/dev/commits`, { message: 'work on dev' });
        await t.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c.txt', Body: 'three' }));
        await adminApi(t, 'POST', `buckets/${bucket}/branches/main/commits`, { message: 'more on main' });
        await adminApi(t, 'POST', `buckets/${bucket}/branches/main/merges`, { source: 'dev', message: 'merge dev' });
        const api = (await adminApi(t, 'GET', `buckets/${bucket}/commits?ref=main`)) as { commits: Array<{ id: string; message: string }> };

        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-graph-${engine}`);
        const { page } = c;
        await c.signInKey(ROOT_KEY, ROOT_SECRET);
        await page.getByRole('link', { name: bucket }).click();
        await page.getByRole('link', { name: 'Branches' }).click();
        await page.getByRole('heading', { name: `Branches of ${bucket}` }).waitFor();
        const branches = page.getByRole('table', { name: `Branches of ${bucket}` });
        await poll(() => branches.locator('tbody th').allTextContents()).toEqual([' main', ' dev']);
        expect(await branches.getByRole('row', { name: /dev/ }).textContent()).toContain(`${bucket}--dev`);

        const list = page.getByRole('list', { name: `Commits of ${bucket}` });
        await poll(() => list.locator('li').count()).toBe(api.commits.length);
        const messages = await list.locator('.commit-message').allTextContents();
        // Newest first; the merge is the head of main; every commit of main's log is there.
        expect(messages[0]).toMatch(/^merge dev.*head of main/);
        for (const m of ['first on main', 'work on dev', 'more on main']) expect(messages.some((x) => x.startsWith(m))).toBe(true);
        expect(await list.locator(`li[data-commit="${first.id}"]`).count()).toBe(1);
        // One dot per commit; lines to parents (the merge has two).
        expect(await page.locator('svg.graph-lines circle').count()).toBe(api.commits.length);
        expect(await page.locator('svg.graph-lines path').count()).toBeGreaterThanOrEqual(api.commits.length);
        await c.shot('branches');
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'follows the dark color scheme of the system, and fits a phone',
      async () => {
        await t.s3.send(new CreateBucketCommand({ Bucket: `a-rather-long-bucket-name-for-a-phone-${engine}` }));
        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-graph-${engine}`, {
          colorScheme: 'dark',
          viewport: { width: 390, height: 844 },
        });
        const { page } = c;
        const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
        expect(await background()).toBe('rgb(22, 23, 26)');
        await c.signInKey(ROOT_KEY, ROOT_SECRET);
        await page.getByRole('link', { name: `a-rather-long-bucket-name-for-a-phone-${engine}` }).waitFor();
        // Nothing wider than the phone's screen.
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
        await c.shot('dark-phone');
        await page.emulateMedia({ colorScheme: 'light' });
        expect(await background()).toBe('rgb(247, 247, 248)');
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );
  });
});
