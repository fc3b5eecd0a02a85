/**
 * Browser tests drive Debian's `chromium` package through playwright-core
 * (no browser downloads). `.ci/run` installs it; without it the suites are
 * skipped loudly on a developer machine and fail under CI=true.
 */
import fs from 'node:fs';
import path from 'node:path';

import { type Browser, chromium, type ConsoleMessage, type Page } from 'playwright-core';
import { afterAll, beforeAll, it } from 'vitest';

export const CHROMIUM = process.env.ANVIL_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = fs.existsSync(CHROMIUM);
/** Where browser tests save their screenshots (git-ignored). */
export const SCREENSHOTS = path.resolve('.vitest-tmp/screenshots');

/**
 * Registers a browser for the enclosing suite; returns a getter. Call inside
 * a describe that is skipped when `haveChromium` is false.
 */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('the browser starts in beforeAll');
    return browser;
  };
}

/** Outside CI a missing chromium skips the browser suites with a warning; under CI it is a failing test. */
export function requireChromium(): void {
  if (haveChromium) return;
  if (process.env.CI === 'true') {
    it('chromium is installed (apt-get install chromium; .ci/run does)', () => {
      throw new Error(`no Chromium at ${CHROMIUM}: browser tests cannot run`);
    });
  } else {
    console.warn(`\n*** ${CHROMIUM} is missing: the browser tests are SKIPPED (apt-get install chromium). Under CI=true they fail. ***\n`);
  }
}

/** Collects what the page reports as errors (console.error, uncaught exceptions, failed requests are left to the test). */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return errors;
}
