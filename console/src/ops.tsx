/**
 * The operator's screens (root only: they span every tenant): storage backends with health, circuit
 * breaker, fill ratio, monthly counters and drain progress (drain, undrain, rebalance); the background
 * task queue with state, attempts and last error (cancel, retry). Both refresh themselves while work
 * is under way.
 */
import { useEffect, useState } from 'preact/hooks';

import { Screen } from './admin.js';
import { admin } from './api.js';
import { bytes, count, date, message } from './format.js';

const enc = encodeURIComponent;

interface Backend {
  name: string;
  type: 'fs' | 's3' | null;
  configured: boolean;
  location: string | null;
  quotaBytes: number | null;
  usedBytes: number;
  blobCount: number;
  draining: boolean;
  health: {
    ok: boolean | null;
    detail: string | null;
    latencyMs: number | null;
    checkedAt: string | null;
    freeBytes: number | null;
    totalBytes: number | null;
  };
  breaker: 'closed' | 'open' | 'half-open' | null;
  monthly: {
    month: string;
    requests: number;
    ingressBytes: number;
    egressBytes: number;
    limits: { requests: number | null; ingressBytes: number | null; egressBytes: number | null };
  };
  drain: { task: number; status: string; attempts: number; lastError: string | null; remaining: number } | null;
}

interface BackendList {
  placement: 'pack' | 'spread';
  defaultReplication: number;
  backends: Backend[];
}

/** Runs `load` now and every `ms` while `active()` says work is under way. */
function useRefresh(load: () => Promise<void>, active: boolean, ms = 2000): void {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void load(), ms);
    return () => clearInterval(timer);
  }, [active]);
}

/** Used over capacity: the quota, or else the disk's size where the backend can tell. */
function fill(b: Backend): { ratio: number; text: string } | null {
  if (b.quotaBytes !== null && b.quotaBytes > 0) {
    const ratio = b.usedBytes / b.quotaBytes;
    return { ratio, text: `${(ratio * 100).toFixed(1)}% of quota ${bytes(b.quotaBytes)}` };
  }
  // No quota: how full its disk is (with whatever else lives there).
  const { totalBytes, freeBytes } = b.health;
  if (!totalBytes || freeBytes === null) return null;
  const ratio = (totalBytes - freeBytes) / totalBytes;
  return { ratio, text: `disk ${(ratio * 100).toFixed(1)}% full (${bytes(totalBytes)})` };
}

const withLimit = (v: number, limit: number | null, fmt: (n: number) => string) => (limit === null ? fmt(v) : `${fmt(v)} / ${fmt(limit)}`);

export function Backends() {
  const [list, setList] = useState<BackendList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');

  async function load() {
    try {
      setList(await admin<BackendList>('GET', '/backends'));
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }
  useEffect(() => {
    void load();
  }, []);
  const busy = list?.backends.some((b) => b.drain && (b.drain.status === 'pending' || b.drain.status === 'running')) ?? false;
  useRefresh(load, busy);

  async function act(what: string, path: string, done: (r: any) => string) {
    if (!confirm(what)) return;
    try {
      const r = await admin('POST', path);
      await load();
      setStatus(done(r));
    } catch (err) {
      setError(message(err));
    }
  }

  return (
    <Screen
      id="backends"
      title="Storage backends"
      status={status}
      error={error}
      actions={
        <div class="inline">
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
          <button
            type="button"
            onClick={() =>
              act(
                'Even out the fill ratios of the backends? A background task moves replicas.',
                '/backends/rebalance',
                (r: { task: number; enqueued: boolean }) => `Rebalance: task ${r.task}${r.enqueued ? '' : ' (already queued)'}.`,
              )
            }
          >
            Rebalance
          </button>
        </div>
      }
    >
      {list === null ? (
        !error && <p>Loading…</p>
      ) : (
        <>
          <p class="hint">
            Placement {list.placement}, {list.defaultReplication} replica{list.defaultReplication === 1 ? '' : 's'} per blob by default.
          </p>
          <div class="table-wrap">
            <table aria-label="Backends">
              <thead>
                <tr>
                  <th scope="col">Backend</th>
                  <th scope="col">Health</th>
                  <th scope="col">Breaker</th>
                  <th scope="col">Fill</th>
                  <th scope="col" class="num">
                    Blobs
                  </th>
                  <th scope="col">This month</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.backends.map((b) => {
                  const f = fill(b);
                  return (
                    <tr key={b.name} data-backend={b.name}>
                      <th scope="row">
                        {b.name}
                        <div class="small muted break">
                          {b.type ?? 'not configured'}
                          {b.location ? ` · ${b.location}` : ''}
                        </div>
                      </th>
                      <td>
                        <span class={b.health.ok === false ? 'error' : b.health.ok ? 'ok' : 'muted'}>
                          {b.health.ok === null ? 'not checked yet' : b.health.ok ? 'healthy' : 'failing'}
                        </span>
                        <div class="small muted">
                          {b.health.latencyMs !== null && `${Math.round(b.health.latencyMs)} ms · `}
                          {b.health.checkedAt ? date(b.health.checkedAt) : ''}
                          {b.health.ok === false && b.health.detail ? ` · ${b.health.detail}` : ''}
                        </div>
                      </td>
                      <td>{b.breaker ?? '—'}</td>
                      <td>
                        {bytes(b.usedBytes)}
                        {f && (
                          <>
                            <meter min={0} max={1} high={0.85} optimum={0} value={f.ratio} aria-label={`Fill of ${b.name}`} />
                            <div class="small muted">{f.text}</div>
                          </>
                        )}
                      </td>
                      <td class="num">{count(b.blobCount)}</td>
                      <td class="small">
                        {withLimit(b.monthly.requests, b.monthly.limits.requests, count)} requests
                        <br />
                        in {withLimit(b.monthly.ingressBytes, b.monthly.limits.ingressBytes, bytes)}, out{' '}
                        {withLimit(b.monthly.egressBytes, b.monthly.limits.egressBytes, bytes)}
                      </td>
                      <td>
                        {b.draining ? (b.drain?.status === 'done' ? 'drained' : 'draining') : 'taking new blobs'}
                        {b.drain && b.draining && (
                          <div class="small muted">
                            task {b.drain.task} {b.drain.status}, {count(b.drain.remaining)} replicas left
                            {b.drain.lastError ? ` · ${b.drain.lastError}` : ''}
                          </div>
                        )}
                      </td>
                      <td class="actions">
                        {b.draining ? (
                          <button
                            type="button"
                            aria-label={`Undrain ${b.name}`}
                            onClick={() =>
                              act(
                                `Let ${b.name} take new blobs again?`,
                                `/backends/${enc(b.name)}/undrain`,
                                () => `${b.name} takes new blobs again.`,
                              )
                            }
                          >
                            Undrain
                          </button>
                        ) : (
                          <button
                            type="button"
                            aria-label={`Drain ${b.name}`}
                            onClick={() =>
                              act(
                                `Drain ${b.name}? It takes no new blobs, and a background task moves its replicas to the other backends.`,
                                `/backends/${enc(b.name)}/drain`,
                                (r: { task: number }) => `Draining ${b.name} (task ${r.task}).`,
                              )
                            }
                          >
                            Drain
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Screen>
  );
}

interface Task {
  id: number;
  type: string;
  payload: unknown;
  status: 'pending' | 'running' | 'done' | 'failed' | 'cancelled';
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  nextRunAt: string;
  createdAt: string;
  updatedAt: string;
}

const STATUSES = ['', 'pending', 'running', 'failed', 'cancelled', 'done'] as const;

export function Tasks() {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [filter, setFilter] = useState<(typeof STATUSES)[number]>('');
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');

  async function load() {
    try {
      const r = await admin<{ tasks: Task[] }>('GET', `/tasks?limit=200${filter ? `&status=${filter}` : ''}`);
      setTasks(r.tasks);
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }
  useEffect(() => {
    void load();
  }, [filter]);
  useRefresh(load, tasks?.some((t) => t.status === 'running') ?? false);

  async function act(t: Task, action: 'cancel' | 'retry') {
    try {
      await admin('POST', `/tasks/${t.id}/${action}`);
      await load();
      setStatus(action === 'cancel' ? `Task ${t.id} cancelled.` : `Task ${t.id} queued again.`);
    } catch (err) {
      setError(`Could not ${action} task ${t.id}: ${message(err)}`);
    }
  }

  return (
    <Screen
      id="tasks"
      title="Background tasks"
      status={status}
      error={error}
      actions={
        <div class="inline">
          <label>
            Show{' '}
            <select
              aria-label="Show tasks"
              value={filter}
              onChange={(e) => setFilter((e.currentTarget as HTMLSelectElement).value as typeof filter)}
            >
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s || 'all'}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      }
    >
      {tasks === null ? (
        !error && <p>Loading…</p>
      ) : tasks.length === 0 ? (
        <p>No tasks{filter ? ` ${filter}` : ''}.</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Tasks">
            <thead>
              <tr>
                <th scope="col" class="num">
                  Task
                </th>
                <th scope="col">Type</th>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Details</th>
                <th scope="col">Updated</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id} data-task={t.id}>
                  <th scope="row" class="num">
                    {t.id}
                  </th>
                  <td>{t.type}</td>
                  <td class={t.status === 'failed' ? 'error' : t.status === 'done' ? 'ok' : undefined}>{t.status}</td>
                  <td class="num">
                    {t.attempts} / {t.maxAttempts}
                  </td>
                  <td class="small break mono">
                    {JSON.stringify(t.payload)}
                    {t.lastError && <div class="error">{t.lastError}</div>}
                    {t.status === 'pending' && Date.parse(t.nextRunAt) > Date.now() && <div class="muted">due {date(t.nextRunAt)}</div>}
                  </td>
                  <td>{date(t.updatedAt)}</td>
                  <td class="actions">
                    {(t.status === 'pending' || t.status === 'running' || t.status === 'failed') && (
                      <button type="button" aria-label={`Cancel task ${t.id}`} onClick={() => act(t, 'cancel')}>
                        Cancel
                      </button>
                    )}
                    {(t.status === 'failed' || t.status === 'cancelled') && (
                      <button type="button" aria-label={`Retry task ${t.id}`} onClick={() => act(t, 'retry')}>
                        Retry
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Screen>
  );
}
