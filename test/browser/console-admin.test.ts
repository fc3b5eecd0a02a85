/**
 * The console's administration screens in Chromium against a real Anvil,
 * through the public admin API only: a member user and a scoped access key
 * made with the policy editor (its preview checked), the key's limits then
 * proved with real S3 requests (AWS SDK v3); a member sees only what its
 * policy allows; users disabled, enabled and deleted; sessions listed and
 * ended; tenants created by the root operator.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_CONSOLE_DIR } from '../../src/http/console.js';
import { describeEachEngine, ROOT_KEY, ROOT_SECRET, s3Error, useAnvil } from '../support/anvil.js';
import { haveChromium, requireChromium, useBrowser } from '../support/browser.js';
import { BROWSER_TEST_TIMEOUT, type ConsolePage, openConsole, poll } from '../support/console-page.js';

const ADMIN = 'admin@example.test';
const PASSWORD = 'correct horse battery staple';

requireChromium();

/** The preview's answer for one request, e.g. "write data/team/a.txt". */
async function preview(page: Page, request: string): Promise<string> {
  const row = page.getByRole('table', { name: 'Policy preview' }).getByRole('row', { name: request, exact: false });
  return (await row.locator('td').allTextContents()).join(' | ');
}

async function denied(p: Promise<unknown>): Promise<string | undefined> {
  return (await s3Error(p)).name;
}

describe.skipIf(!haveChromium)('web console: administration', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html'))) {
      throw new Error(`the console is not built (${DEFAULT_CONSOLE_DIR}): run \`npm run build\` first`);
    }
  });
  const browser = useBrowser();

  describeEachEngine('in Chromium', (engine) => {
    const t = useAnvil(engine);
    const data = `data-${engine}`;
    const other = `other-${engine}`;
    let c: ConsolePage | undefined;

    beforeAll(async () => {
      await t.anvil.users.createUser('root', { email: ADMIN, password: PASSWORD, role: 'admin' });
      for (const Bucket of [data, other]) await t.s3.send(new CreateBucketCommand({ Bucket }));
      await t.s3.send(new PutObjectCommand({ Bucket: other, Key: 'secret.txt', Body: 'not yours' }));
    });
    afterEach(async () => {
      await c?.close();
      c = undefined;
    });

    const login = (email: string, userAgent = 'console-admin-test') =>
      fetch(`${t.endpoint}/admin/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent },
        body: JSON.stringify({ tenant: 'root', email, password: PASSWORD }),
      });

    it(
      'an admin creates a member and a scoped key with the policy editor; S3 holds the key to its policy',
      async () => {
        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-admin-${engine}`);
        const { page } = c;
        await c.signInUser('root', ADMIN, PASSWORD);
        const nav = page.getByRole('navigation', { name: 'Main' });
        // An admin of the root tenant is the server's root operator: it has the tenants too.
        expect(await nav.getByRole('link').allTextContents()).toEqual([
          'Buckets',
          'Users',
          'Access keys',
          'Sessions',
          'Tenants',
          'Backends',
          'Tasks',
        ]);

        // A member who may read and list one bucket.
        await nav.getByRole('link', { name: 'Users' }).click();
        await page
          .getByRole('table', { name: 'Users of root' })
          .getByRole('row', { name: new RegExp(ADMIN) })
          .waitFor();
        await page.getByLabel('Email').fill('member@example.test');
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByLabel('Statement 1 resources').fill(`${data} ${data}/*`);
        await page.getByLabel('Preview on a sample path').fill(`${data}/file.txt`);
        expect(await preview(page, `read ${data}/file.txt`)).toBe('allowed | statement 1 (allow)');
        expect(await preview(page, `write ${data}/file.txt`)).toBe('refused | no statement allows it');
        await page.getByLabel('Preview on a sample path').fill(`${other}/file.txt`);
        expect(await preview(page, `read ${other}/file.txt`)).toBe('refused | no statement allows it');
        await page.getByRole('button', { name: 'Create user' }).click();
        await page.getByText('User member@example.test created.').waitFor();
        await poll(() => page.getByRole('row', { name: /member@example\.test/ }).textContent()).toContain(
          `allow read,list on ${data} ${data}/*`,
        );
        expect((await login('member@example.test')).status).toBe(200);

        // A key that may read, list and write under team/, but not write under team/locked/.
        await nav.getByRole('link', { name: 'Access keys' }).click();
        await page.getByLabel('Name').fill('team uploader');
        await page.getByLabel('Statement 1 resources').fill(`${data}/team/*`);
        await page.getByRole('group', { name: 'Statement 1 actions' }).getByLabel('write').check();
        await page.getByRole('button', { name: 'Add statement' }).click();
        await page.getByLabel('Statement 2 effect').selectOption('deny');
        await page.getByLabel('Statement 2 resources').fill(`${data}/team/locked/*`);
        const actions2 = page.getByRole('group', { name: 'Statement 2 actions' });
        await actions2.getByLabel('read').uncheck();
        await actions2.getByLabel('list').uncheck();
        await actions2.getByLabel('write').check();
        await page.getByLabel('Preview on a sample path').fill(`${data}/team/locked/a.txt`);
        expect(await preview(page, `write ${data}/team/locked/a.txt`)).toBe('refused | statement 2 (deny)');
        expect(await preview(page, `read ${data}/team/locked/a.txt`)).toBe('allowed | statement 1 (allow)');
        expect(await preview(page, `list ${data}/team/locked/`)).toBe('allowed | statement 1 (allow)');
        expect(await preview(page, `admin bucket ${data}`)).toBe('refused | no statement allows it');
        await c.shot('policy-editor');
        await page.getByRole('button', { name: 'Create key' }).click();
        const region = page.getByRole('region', { name: 'New access key' });
        await region.waitFor();
        const accessKeyId = (await region.getByTestId('new-key-id').textContent())!.trim();
        const secretAccessKey = (await region.getByTestId('new-key-secret').textContent())!.trim();
        expect(accessKeyId).toMatch(/^AK[A-Z0-9]{18}$/);
        await poll(() => page.getByRole('row', { name: new RegExp(accessKeyId) }).textContent()).toContain('team uploader');
        await c.shot('key-created');

        // The key against S3: allowed on its path, refused off it.
        const key: S3Client = t.client({ accessKeyId, secretAccessKey });
        await key.send(new PutObjectCommand({ Bucket: data, Key: 'team/a.txt', Body: 'ok' }));
        expect(await (await key.send(new GetObjectCommand({ Bucket: data, Key: 'team/a.txt' }))).Body!.transformToString()).toBe('ok');
        const listed = await key.send(new ListObjectsV2Command({ Bucket: data, Prefix: 'team/' }));
        expect(listed.Contents?.map((o) => o.Key)).toEqual(['team/a.txt']);
        expect(await denied(key.send(new PutObjectCommand({ Bucket: data, Key: 'team/locked/a.txt', Body: 'no' })))).toBe('AccessDenied');
        expect(await denied(key.send(new PutObjectCommand({ Bucket: data, Key: 'elsewhere.txt', Body: 'no' })))).toBe('AccessDenied');
        expect(await denied(key.send(new GetObjectCommand({ Bucket: other, Key: 'secret.txt' })))).toBe('AccessDenied');
        expect(await denied(key.send(new ListObjectsV2Command({ Bucket: data })))).toBe('AccessDenied');

        // Deleting the key ends it at once.
        page.once('dialog', (d) => void d.accept());
        await page.getByRole('button', { name: `Delete key ${accessKeyId}` }).click();
        await page.getByText(`Access key ${accessKeyId} deleted.`).waitFor();
        expect(await denied(key.send(new GetObjectCommand({ Bucket: data, Key: 'team/a.txt' })))).toBe('InvalidAccessKeyId');
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'a member sees only what its policy allows',
      async () => {
        await t.anvil.users.createUser('root', {
          email: 'reader@example.test',
          password: PASSWORD,
          role: 'member',
          policies: [{ effect: 'allow', actions: ['read', 'list'], resources: [data, `${data}/*`] }],
        });
        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-admin-${engine}`);
        const { page } = c;
        await c.signInUser('root', 'reader@example.test', PASSWORD);
        await page.getByRole('link', { name: data }).waitFor();
        expect(await page.getByRole('link', { name: other }).count()).toBe(0);
        const nav = page.getByRole('navigation', { name: 'Main' });
        expect(await nav.getByRole('link').allTextContents()).toEqual(['Buckets', 'Access keys', 'Sessions']);
        await nav.getByRole('link', { name: 'Access keys' }).click();
        await page.getByText('You have made no access keys.').waitFor();
        await c.go('#/admin/users');
        await page.getByText('This screen is not for your account.').waitFor();
        // The server refuses what the screens do not offer.
        await c.go(`#/b/${other}/`);
        await poll(() => page.getByRole('alert').textContent()).toMatch(/Access Denied/i);
        await c.shot('member');
        expect(c.errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'disables, enables and deletes a user; lists sessions and ends one',
      async () => {
        await t.anvil.users.createUser('root', { email: 'leaver@example.test', password: PASSWORD, role: 'member' });
        // A second session of the admin, opened elsewhere.
        const elsewhere = (await (await login(ADMIN, 'elsewhere-script/1.0')).json()) as { refreshToken: string };

        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-admin-${engine}`);
        const { page } = c;
        await c.signInUser('root', ADMIN, PASSWORD);
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'Users' }).click();
        const row = page.getByRole('row', { name: /leaver@example\.test/ });
        await row.waitFor();
        await page.getByRole('button', { name: 'Disable user leaver@example.test' }).click();
        await page.getByText('User leaver@example.test disabled.').waitFor();
        await poll(() => row.textContent()).toContain('disabled');
        expect((await login('leaver@example.test')).status).toBe(403);
        await page.getByRole('button', { name: 'Enable user leaver@example.test' }).click();
        await page.getByText('User leaver@example.test enabled.').waitFor();
        expect((await login('leaver@example.test')).status).toBe(200);
        page.once('dialog', (d) => void d.accept());
        await page.getByRole('button', { name: 'Delete user leaver@example.test' }).click();
        await page.getByText('User leaver@example.test deleted.').waitFor();
        await poll(() => page.getByRole('row', { name: /leaver@example\.test/ }).count()).toBe(0);
        expect((await login('leaver@example.test')).status).not.toBe(200);

        await nav.getByRole('link', { name: 'Sessions' }).click();
        const table = page.getByRole('table', { name: 'Sessions' });
        await poll(() => table.locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
        const before = await table.locator('tbody tr').count();
        await table.getByRole('row', { name: /this session/ }).waitFor();
        await c.shot('sessions');
        const otherRow = table.getByRole('row', { name: /elsewhere-script\/1\.0/ });
        page.once('dialog', (d) => void d.accept());
        await otherRow.getByRole('button', { name: /^End session/ }).click();
        await page.getByText('Session ended.').waitFor();
        await poll(() => table.locator('tbody tr').count()).toBe(before - 1);
        expect(await otherRow.count()).toBe(0);
        // That session is over: its refresh token is refused; the console's own session lives on.
        const refresh = await fetch(`${t.endpoint}/admin/v1/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: elsewhere.refreshToken }),
        });
        expect(refresh.status).toBe(401);
        await table.getByRole('row', { name: /this session/ }).waitFor();
        await nav.getByRole('link', { name: 'Users' }).click();
        await page.getByRole('table', { name: 'Users of root' }).waitFor();
        expect(c.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'the root operator creates a tenant and manages its users',
      async () => {
        c = await openConsole(browser(), t.anvil.consoleUrl!, `console-admin-${engine}`);
        const { page } = c;
        await c.signInKey(ROOT_KEY, ROOT_SECRET);
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'Tenants' }).click();
        await page.getByLabel('New tenant name').fill(`acme-${engine}`);
        await page.getByRole('button', { name: 'Create tenant' }).click();
        await page.getByText(`Tenant acme-${engine} created.`).waitFor();
        await page.getByRole('row', { name: new RegExp(`acme-${engine}`) }).waitFor();
        await c.shot('tenants');

        await nav.getByRole('link', { name: 'Users' }).click();
        await page.getByLabel('Tenant', { exact: true }).selectOption(`acme-${engine}`);
        await page.getByRole('table', { name: `Users of acme-${engine}` }).waitFor();
        await page.getByLabel('Email').fill('boss@acme.test');
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByLabel('Role', { exact: true }).selectOption('admin');
        await page.getByRole('button', { name: 'Create user' }).click();
        await page.getByText('User boss@acme.test created.').waitFor();
        const res = await fetch(`${t.endpoint}/admin/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ tenant: `acme-${engine}`, email: 'boss@acme.test', password: PASSWORD }),
        });
        expect(res.status).toBe(200);
        expect(c.errors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT,
    );
  });
});
