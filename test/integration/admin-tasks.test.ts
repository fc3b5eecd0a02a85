/**
 * The background task queue through the admin API (root only): the newest
 * tasks with their state, cancel (409 once finished), retry (409 unless
 * failed or cancelled), 404 for an unknown task, 403 for anyone but root.
 */
import { expect, it } from 'vitest';

import { describeEachEngine, useAnvil } from '../support/anvil.js';
import { signedFetch } from '../support/signed-fetch.js';

describeEachEngine('admin API: tasks', (engine) => {
  const t = useAnvil(engine);

  async function api(method: string, path: string, creds?: { accessKeyId: string; secretAccessKey: string }) {
    const res = await signedFetch(t, method, `${t.endpoint}/admin/v1${path}`, { creds });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  it('lists, cancels and retries tasks; refuses what cannot change', async () => {
    // A type no handler claims: it stays pending until cancelled.
    const id = await t.anvil.tasks.enqueue('console-test-idle', { note: 'waits' }, { maxAttempts: 3 });
    const older = await t.anvil.tasks.enqueue('console-test-idle', { note: 'older' }, { runAt: Date.now() + 3_600_000 });

    const list = await api('GET', '/tasks?limit=2');
    expect(list.status).toBe(200);
    expect(list.json.tasks.map((x: { id: number }) => x.id)).toEqual([older, id]);
    expect(list.json.tasks[1]).toMatchObject({
      type: 'console-test-idle',
      payload: { note: 'waits' },
      status: 'pending',
      attempts: 0,
      maxAttempts: 3,
      lastError: null,
    });

    expect(await api('POST', `/tasks/${id}/retry`)).toMatchObject({ status: 409 });
    expect(await api('POST', `/tasks/${id}/cancel`)).toEqual({ status: 200, json: { id, status: 'cancelled' } });
    expect((await api('GET', '/tasks?status=cancelled')).json.tasks.map((x: { id: number }) => x.id)).toEqual([id]);
    expect((await api('POST', `/tasks/${id}/cancel`)).status).toBe(409);
    expect(await api('POST', `/tasks/${id}/retry`)).toEqual({ status: 200, json: { id, status: 'pending' } });
    expect((await api('GET', '/tasks?status=pending')).json.tasks.map((x: { id: number }) => x.id)).toEqual([older, id]);

    expect((await api('POST', '/tasks/999999/cancel')).status).toBe(404);
    expect((await api('POST', '/tasks/nope/cancel')).status).toBe(404);
    expect((await api('GET', '/tasks?status=sleeping')).status).toBe(400);

    const tenant = await t.anvil.services.tenants.createTenant('tasks-other');
    const key = await t.anvil.services.tenants.createKey(tenant.name, {});
    expect((await api('GET', '/tasks', key)).status).toBe(403);
    expect((await api('POST', `/tasks/${id}/cancel`, key)).status).toBe(403);
    await t.anvil.tasks.cancel(id);
    await t.anvil.tasks.cancel(older);
  });
});
