/**
 * The web console in a real Chromium against a real Anvil: sign in, create a
 * bucket, upload, list, download (bytes compared), details, delete, sign out;
 * a wrong password; the Content-Security-Policy and no console errors.
 * Every test saves a screenshot under .vitest-tmp/screenshots/.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_CONSOLE_DIR } from '../../src/http/console.js';
import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { collectErrors, haveChromium, requireChromium, SCREENSHOTS, useBrowser } from '../support/browser.js';

const EMAIL = 'ops@example.test';
const PASSWORD = 'correct horse battery staple';

requireChromium();

describe.skipIf(!haveChromium)('web console', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html'))) {
      throw new Error(`the console is not built (${DEFAULT_CONSOLE_DIR}): run \`npm run build\` first`);
    }
  });
  const browser = useBrowser();

  describeEachEngine('in Chromium', (engine) => {
    const t = useAnvil(engine);
    let context: BrowserContext;
    let page: Page;
    let errors: string[];

    beforeAll(async () => {
      await t.anvil.users.createUser('root', { email: EMAIL, password: PASSWORD, role: 'admin' });
    });
    afterAll(async () => {
      await context?.close();
    });

    async function freshPage(): Promise<Page> {
      await context?.close();
      context = await browser().newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } });
      page = await context.newPage();
      errors = collectErrors(page);
      return page;
    }

    async function shot(name: string): Promise<void> {
      await page.screenshot({ path: path.join(SCREENSHOTS, `console-${engine}-${name}.png`), fullPage: true });
    }

    async function signIn(password: string): Promise<void> {
      await page.getByLabel('Tenant').fill('root');
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }

    it('is served with a strict CSP and caching headers, and a wrong password shows an error', async () => {
      await freshPage();
      const res = await page.goto(t.anvil.consoleUrl!);
      expect(res!.status()).toBe(200);
      const csp = res!.headers()['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res!.headers()['cache-control']).toBe('no-cache');
      const script = await page.locator('script[src]').getAttribute('src');
      const asset = await fetch(new URL(script!, t.endpoint));
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');

      await signIn('not the password');
      await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/invalid email or password/i);
      await shot('wrong-password');
      // The refused login is the only error the page reports (the browser logs the 401).
      expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    });

    it('signs in, creates a bucket, uploads, lists, downloads, shows details, deletes and signs out', async () => {
      await freshPage();
      await page.goto(t.anvil.consoleUrl!);
      await signIn(PASSWORD);
      await page.getByRole('heading', { name: 'Buckets' }).waitFor();
      await expect.poll(() => page.locator('.who').textContent()).toContain(EMAIL);

      const bucket = `console-${engine}`;
      await page.getByLabel('New bucket name').fill(bucket);
      await page.getByRole('button', { name: 'Create bucket' }).click();
      await page.getByRole('link', { name: bucket }).click();
      await page.getByRole('heading', { name: bucket }).waitFor();

      const body = crypto.randomBytes(300_000);
      await page.locator('#upload-input').setInputFiles({ name: 'hello.bin', mimeType: 'application/octet-stream', buffer: body });
      const row = page.getByRole('row', { name: /hello\.bin/ });
      await row.waitFor();
      await expect.poll(() => page.getByRole('list').filter({ hasText: 'hello.bin' }).textContent()).toContain('done');
      await shot('uploaded');
      const head = await t.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hello.bin' }));
      expect(head.ContentLength).toBe(body.length);

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download hello.bin' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('hello.bin');
      expect(Buffer.compare(fs.readFileSync((await download.path())!), body)).toBe(0);

      await page.getByRole('link', { name: 'hello.bin' }).click();
      await page.getByRole('heading', { name: 'Metadata' }).waitFor();
      await expect.poll(() => page.locator('dl.meta').textContent()).toContain(`${body.length} bytes`);
      await page.getByRole('table', { name: 'Versions of hello.bin' }).getByRole('row').nth(1).waitFor();
      await shot('details');
      await page.getByRole('link', { name: bucket }).click();

      page.once('dialog', (d) => void d.accept());
      await page.getByRole('button', { name: 'Delete hello.bin' }).click();
      await page.getByText('This folder is empty').waitFor();
      expect((await s3Error(t.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hello.bin' })))).$metadata.httpStatusCode).toBe(404);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await shot('signed-out');
      expect(errors).toEqual([]);
    });
  });
});
