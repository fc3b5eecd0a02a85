/**
 * The operator's screens in Chromium against a real Anvil with two fs
 * backends: the backends' health, breaker, fill, blob counts and monthly
 * counters as the admin API reports them; a drain followed to its end and
 * undone; the background tasks with their real state, one cancelled,
 * retried and cancelled again.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_CONSOLE_DIR } from '../../src/http/console.js';
import { adminApi } from '../support/admin-api.js';
import { describeEachEngine, ROOT_KEY, ROOT_SECRET, useAnvil } from '../support/anvil.js';
import { fsBackends } from '../support/backends.js';
import { haveChromium, requireChromium, useBrowser } from '../support/browser.js';
import { BROWSER_TEST_TIMEOUT, type ConsolePage, openConsole, poll } from '../support/console-page.js';

requireChromium();

describe.skipIf(!haveChromium)('web console: backends and tasks', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html'))) {
      throw new Error(`the console is not built (${DEFAULT_CONSOLE_DIR}): run \`npm run build\` first`);
    }
  });
  const browser = useBrowser();

  describeEachEngine('in Chromium', (engine) => {
    const { storage, roots } = fsBackends(['alpha', 'beta'], { beta: 512 * 1024 * 1024 });
    const t = useAnvil(engine, { config: { storage }, start: { workerIntervalMs: 100 } });
    let c: ConsolePage | undefined;

    beforeAll(async () => {
      await t.s3.send(new CreateBucketCommand({ Bucket: 'ops' }));
      for (let i = 0; i < 8; i++) {
        await t.s3.send(new PutObjectCommand({ Bucket: 'ops', Key: `k${i}`, Body: Buffer.alloc(64 * 1024 + i, i) }));
      }
    });
    afterEach(async () => {
      await c?.close();
      c = undefined;
    });
    afterAll(() => {
      for (const root of Object.values(roots)) fs.rmSync(root, { recursive: true, force: true });
    });

    it(
      'shows the backends as the admin API does, drains one to the end and undrains it',
      async () => {
        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-ops-${engine}`);
        const { page } = c;
        await c.signInKey(ROOT_KEY, ROOT_SECRET);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Backends' }).click();
        const table = page.getByRole('table', { name: 'Backends' });
        const row = (name: string) => table.locator(`tr[data-backend="${name}"]`);
        await row('alpha').waitFor();

        const api = (await adminApi(t, 'GET', 'backends')) as {
          backends: Array<{ name: string; blobCount: number; breaker: string; monthly: { requests: number } }>;
        };
        expect(api.backends.map((b) => b.name)).toEqual(['alpha', 'beta']);
        expect(api.backends.reduce((n, b) => n + b.blobCount, 0)).toBe(8);
        for (const b of api.backends) {
          const text = (await row(b.name).textContent())!;
          expect(text).toContain(b.breaker);
          expect(await row(b.name).locator('td.num').textContent()).toBe(String(b.blobCount));
        }
        // beta has a quota: its fill is shown against it.
        await poll(() => row('beta').textContent()).toMatch(/% of quota 512 MiB/);
        await poll(() => row('alpha').textContent()).toMatch(/requests/);
        await c.shot('backends');

        // Drain alpha: its replicas move to beta; the screen follows the task to the end.
        page.once('dialog', (d) => void d.accept());
        await page.getByRole('button', { name: 'Drain alpha' }).click();
        await page.getByText(/Draining alpha \(task \d+\)\./).waitFor();
        await poll(() => row('alpha').textContent(), { interval: 500 }).toMatch(/drained.*task \d+ done, 0 replicas left/);
        expect(await row('alpha').locator('td.num').textContent()).toBe('0');
        await poll(() => row('beta').locator('td.num').textContent()).toBe('8');
        const after = (await adminApi(t, 'GET', 'backends/alpha')) as { draining: boolean; blobCount: number };
        expect(after).toMatchObject({ draining: true, blobCount: 0 });
        await c.shot('drained');

        page.once('dialog', (d) => void d.accept());
        await page.getByRole('button', { name: 'Undrain alpha' }).click();
        await page.getByText('alpha takes new blobs again.').waitFor();
        await poll(() => row('alpha').textContent()).toContain('taking new blobs');
        expect(((await adminApi(t, 'GET', 'backends/alpha')) as { draining: boolean }).draining).toBe(false);
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'shows the background tasks with their real state; cancels and retries one',
      async () => {
        // A type no handler claims: it waits, pending, until cancelled.
        const id = await t.anvil.tasks.enqueue('console-test-idle', { note: 'waiting' });
        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-ops-${engine}`);
        const { page } = c;
        await c.signInKey(ROOT_KEY, ROOT_SECRET);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click();
        const table = page.getByRole('table', { name: 'Tasks' });
        const row = table.locator(`tr[data-task="${id}"]`);
        await poll(() => row.textContent()).toMatch(/console-test-idle\s*pending\s*0 \/ 10.*"note":"waiting"/);
        // The drain of the other test is there, done.
        await poll(() =>
          table
            .getByRole('row', { name: /drain-backend/ })
            .first()
            .textContent(),
        ).toContain('done');

        await page.getByRole('button', { name: `Cancel task ${id}` }).click();
        await page.getByText(`Task ${id} cancelled.`).waitFor();
        await poll(() => row.locator('td').nth(1).textContent()).toBe('cancelled');
        const status = async () =>
          ((await adminApi(t, 'GET', 'tasks?limit=1000')) as { tasks: Array<{ id: number; status: string }> }).tasks.find(
            (x) => x.id === id,
          )!.status;
        expect(await status()).toBe('cancelled');
        await c.shot('tasks');

        await page.getByRole('button', { name: `Retry task ${id}` }).click();
        await page.getByText(`Task ${id} queued again.`).waitFor();
        await poll(() => row.locator('td').nth(1).textContent()).toBe('pending');
        expect(await status()).toBe('pending');

        await page.getByLabel('Show tasks').selectOption('pending');
        await poll(() => table.locator('tbody tr').count()).toBe(1);
        await page.getByRole('button', { name: `Cancel task ${id}` }).click();
        await page.getByText('No tasks pending.').waitFor();
        expect(await status()).toBe('cancelled');
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );
  });
});
