/**
 * A fresh page of the web console for browser tests: a new browser context
 * (clipboard allowed, downloads accepted), the page's errors collected, sign
 * in as a user or with a key, and screenshots under SCREENSHOTS.
 */
import path from 'node:path';

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';

import { collectErrors, SCREENSHOTS } from './browser.js';

/** A browser test does a lot; on a loaded CI machine, far more than vitest's default minute. */
export const BROWSER_TEST_TIMEOUT = 240_000;

/** expect.poll with room for a loaded machine (its default gives up after a second). */
export const poll = <T>(fn: () => T | Promise<T>, opts: { interval?: number } = {}) => expect.poll(fn, { timeout: 30_000, ...opts });

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  errors: string[];
  shot(name: string): Promise<void>;
  signInUser(tenant: string, email: string, password: string): Promise<void>;
  signInKey(accessKeyId: string, secretAccessKey: string): Promise<void>;
  /** Goes to a console route (#/…) without reloading (a reload signs out). */
  go(hash: string): Promise<void>;
  close(): Promise<void>;
}

export async function openConsole(
  browser: Browser,
  url: string,
  shotPrefix: string,
  opts: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {},
): Promise<ConsolePage> {
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: opts.viewport ?? { width: 1100, height: 800 },
    colorScheme: opts.colorScheme ?? 'light',
  });
  context.setDefaultTimeout(60_000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(url).origin });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(url);
  return {
    page,
    context,
    errors,
    async shot(name) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${shotPrefix}-${name}.png`), fullPage: true });
    },
    async signInUser(tenant, email, password) {
      await page.getByLabel('Tenant').fill(tenant);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.who').waitFor();
    },
    async signInKey(accessKeyId, secretAccessKey) {
      await page.getByRole('button', { name: 'Access key' }).click();
      await page.getByLabel('Access key ID').fill(accessKeyId);
      await page.getByLabel('Secret access key').fill(secretAccessKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.who').waitFor();
    },
    async go(hash) {
      await page.evaluate((h) => {
        location.hash = h;
      }, hash);
    },
    close: () => context.close(),
  };
}
