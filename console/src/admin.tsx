/**
 * Administration, per role, through the public admin API only: users and access keys of a tenant
 * (tenant admins and root; others see and make only their own keys, within their rights), the
 * signed-in user's sessions, and tenants (root).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { admin, type Who } from './api.js';
import { bytes as bytesText, date, message } from './format.js';
import type { PolicyStatement } from './policy.js';
import { type DraftStatement, emptyStatement, PolicyEditor, toPolicy } from './policy-editor.js';

const enc = encodeURIComponent;

/** Loads with `fetcher` whenever `deps` change; `reload` runs it again. */
function useLoad<T>(fetcher: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = async () => {
    try {
      setData(await fetcher());
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  };
  useEffect(() => {
    setData(null);
    void reload();
  }, deps);
  return { data, error, setError, reload };
}

export function Screen(props: {
  id: string;
  title: string;
  actions?: ComponentChildren;
  status?: string;
  error?: string | null;
  children: ComponentChildren;
}) {
  return (
    <section aria-labelledby={`${props.id}-title`}>
      <div class="title-row">
        <h1 id={`${props.id}-title`}>{props.title}</h1>
        {props.actions}
      </div>
      <p role="status" class="status">
        {props.status}
      </p>
      {props.error && (
        <p role="alert" class="error">
          {props.error}
        </p>
      )}
      {props.children}
    </section>
  );
}

/** Root works on any tenant (a picker); everyone else on their own. */
function useTenant(who: Who): [string, ComponentChildren] {
  const [tenant, setTenant] = useState(who.tenant);
  const [names, setNames] = useState<string[]>([who.tenant]);
  useEffect(() => {
    if (who.level !== 'root') return;
    admin<{ tenants: Array<{ name: string }> }>('GET', '/tenants')
      .then((r) => setNames(r.tenants.map((t) => t.name)))
      .catch(() => undefined);
  }, [who.level]);
  const picker =
    who.level === 'root' ? (
      <label>
        Tenant{' '}
        <select aria-label="Tenant" value={tenant} onChange={(e) => setTenant((e.currentTarget as HTMLSelectElement).value)}>
          {names.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
    ) : null;
  return [tenant, picker];
}

const policySummary = (p: PolicyStatement[] | null) =>
  p === null
    ? 'unrestricted in the tenant'
    : p.length === 0
      ? 'no rights'
      : p.map((s) => `${s.effect} ${s.actions.join(',')} on ${s.resources.join(' ')}`).join('; ');

// ---- users

interface User {
  id: string;
  tenant: string;
  email: string;
  role: 'admin' | 'member';
  policies: PolicyStatement[] | null;
  disabled: boolean;
  createdAt: string;
}

export function Users(props: { who: Who }) {
  const [tenant, picker] = useTenant(props.who);
  const users = useLoad(() => admin<{ users: User[] }>('GET', `/tenants/${enc(tenant)}/users`).then((r) => r.users), [tenant]);
  const [status, setStatus] = useState('');
  const [role, setRole] = useState<'member' | 'admin'>('member');
  const [rows, setRows] = useState<DraftStatement[]>([emptyStatement()]);

  async function create(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const email = String(data.get('email') ?? '').trim();
    try {
      await admin('POST', `/tenants/${enc(tenant)}/users`, {
        email,
        password: String(data.get('password') ?? ''),
        role,
        ...(role === 'member' ? { policies: toPolicy(rows) } : {}),
      });
      form.reset();
      setRows([emptyStatement()]);
      await users.reload();
      setStatus(`User ${email} created.`);
    } catch (err) {
      users.setError(`Could not create ${email}: ${message(err)}`);
    }
  }

  async function change(u: User, body: Record<string, unknown>, done: string) {
    try {
      await admin('PATCH', `/tenants/${enc(tenant)}/users/${enc(u.id)}`, body);
      await users.reload();
      setStatus(done);
    } catch (err) {
      users.setError(`Could not change ${u.email}: ${message(err)}`);
    }
  }

  async function remove(u: User) {
    if (!confirm(`Delete user ${u.email} with their sessions and app passwords?`)) return;
    try {
      await admin('DELETE', `/tenants/${enc(tenant)}/users/${enc(u.id)}`);
      await users.reload();
      setStatus(`User ${u.email} deleted.`);
    } catch (err) {
      users.setError(`Could not delete ${u.email}: ${message(err)}`);
    }
  }

  return (
    <Screen id="users" title="Users" actions={picker} status={status} error={users.error}>
      {users.data === null ? (
        !users.error && <p>Loading…</p>
      ) : (
        <div class="table-wrap">
          <table aria-label={`Users of ${tenant}`}>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Rights</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id}>
                  <th scope="row">{u.email}</th>
                  <td>{u.role}</td>
                  <td class="break small">{u.role === 'admin' ? 'unrestricted in the tenant' : policySummary(u.policies ?? [])}</td>
                  <td>{u.disabled ? 'disabled' : 'active'}</td>
                  <td class="actions">
                    <button
                      type="button"
                      aria-label={`${u.disabled ? 'Enable' : 'Disable'} user ${u.email}`}
                      onClick={() => change(u, { disabled: !u.disabled }, `User ${u.email} ${u.disabled ? 'enabled' : 'disabled'}.`)}
                    >
                      {u.disabled ? 'Enable' : 'Disable'}
                    </button>
                    <button type="button" class="danger" aria-label={`Delete user ${u.email}`} onClick={() => remove(u)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="card form" onSubmit={create} aria-labelledby="new-user-title">
        <h2 id="new-user-title">New user</h2>
        <label>
          Email
          <input name="email" type="email" required autoComplete="off" />
        </label>
        <label>
          Password
          <input name="password" type="password" required autoComplete="new-password" />
        </label>
        <label>
          Role
          <select
            aria-label="Role"
            value={role}
            onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as 'member' | 'admin')}
          >
            <option value="member">member (only what its policy allows)</option>
            <option value="admin">admin (everything in the tenant)</option>
          </select>
        </label>
        {role === 'member' && <PolicyEditor id="user-policy" rows={rows} onChange={setRows} />}
        <div>
          <button type="submit" class="primary">
            Create user
          </button>
        </div>
      </form>
    </Screen>
  );
}

// ---- access keys

interface AccessKey {
  accessKeyId: string;
  tenant: string;
  createdAt: string;
  name: string | null;
  policies: PolicyStatement[] | null;
  createdBy: string | null;
}

export function Keys(props: { who: Who }) {
  const [tenant, picker] = useTenant(props.who);
  const keys = useLoad(() => admin<{ keys: AccessKey[] }>('GET', `/tenants/${enc(tenant)}/keys`).then((r) => r.keys), [tenant]);
  const [status, setStatus] = useState('');
  const isAdmin = props.who.level !== 'member';
  const [scoped, setScoped] = useState(true);
  const [rows, setRows] = useState<DraftStatement[]>([emptyStatement()]);
  const [created, setCreated] = useState<{ accessKeyId: string; secretAccessKey: string } | null>(null);

  async function create(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get('name') ?? '').trim();
    try {
      const key = await admin<{ accessKeyId: string; secretAccessKey: string }>('POST', `/tenants/${enc(tenant)}/keys`, {
        ...(name ? { name } : {}),
        ...(scoped || !isAdmin ? { policies: toPolicy(rows) } : {}),
      });
      setCreated({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      form.reset();
      await keys.reload();
      setStatus(`Access key ${key.accessKeyId} created.`);
    } catch (err) {
      keys.setError(`Could not create the key: ${message(err)}`);
    }
  }

  async function remove(k: AccessKey) {
    if (!confirm(`Delete access key ${k.accessKeyId}${k.name ? ` (${k.name})` : ''}? Clients using it stop working at once.`)) return;
    try {
      await admin('DELETE', `/tenants/${enc(tenant)}/keys/${enc(k.accessKeyId)}`);
      setStatus(`Access key ${k.accessKeyId} deleted.`);
      if (created?.accessKeyId === k.accessKeyId) setCreated(null);
      await keys.reload();
    } catch (err) {
      keys.setError(`Could not delete ${k.accessKeyId}: ${message(err)}`);
    }
  }

  return (
    <Screen id="keys" title="Access keys" actions={picker} status={status} error={keys.error}>
      {created && (
        <div class="card secret" role="region" aria-label="New access key">
          <p>
            <strong>Copy the secret now:</strong> it is shown this once.
          </p>
          <dl class="meta">
            <dt>Access key ID</dt>
            <dd class="mono" data-testid="new-key-id">
              {created.accessKeyId}
            </dd>
            <dt>Secret access key</dt>
            <dd class="mono break" data-testid="new-key-secret">
              {created.secretAccessKey}
            </dd>
          </dl>
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {keys.data === null ? (
        !keys.error && <p>Loading…</p>
      ) : keys.data.length === 0 ? (
        <p>{isAdmin ? 'No access keys.' : 'You have made no access keys.'}</p>
      ) : (
        <div class="table-wrap">
          <table aria-label={`Access keys of ${tenant}`}>
            <thead>
              <tr>
                <th scope="col">Key ID</th>
                <th scope="col">Name</th>
                <th scope="col">Rights</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.accessKeyId}>
                  <th scope="row" class="mono">
                    {k.accessKeyId}
                  </th>
                  <td>{k.name ?? '—'}</td>
                  <td class="break small">{policySummary(k.policies)}</td>
                  <td>{date(k.createdAt)}</td>
                  <td class="actions">
                    <button type="button" class="danger" aria-label={`Delete key ${k.accessKeyId}`} onClick={() => remove(k)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="card form" onSubmit={create} aria-labelledby="new-key-title">
        <h2 id="new-key-title">New access key</h2>
        <label>
          Name
          <input name="name" maxLength={128} placeholder="backup job" autoComplete="off" />
        </label>
        {isAdmin ? (
          <label class="check">
            <input type="checkbox" checked={scoped} onChange={(e) => setScoped((e.currentTarget as HTMLInputElement).checked)} /> Scoped by
            a policy (otherwise it may do anything in the tenant)
          </label>
        ) : (
          <p class="hint">A key you make may do at most what you may do (it needs the grant action), and keeps your denies.</p>
        )}
        {(scoped || !isAdmin) && <PolicyEditor id="key-policy" rows={rows} onChange={setRows} />}
        <div>
          <button type="submit" class="primary">
            Create key
          </button>
        </div>
      </form>
    </Screen>
  );
}

// ---- sessions

interface SessionInfo {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  appPasswordName: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  current: boolean;
}

export function Sessions() {
  const sessions = useLoad(() => admin<{ sessions: SessionInfo[] }>('GET', '/sessions').then((r) => r.sessions), []);
  const [status, setStatus] = useState('');

  async function end(s: SessionInfo) {
    if (!confirm(s.current ? 'End this session? You will be signed out.' : 'End this session? Whoever uses it is signed out.')) return;
    try {
      await admin('DELETE', `/sessions/${enc(s.id)}`);
      await sessions.reload();
      setStatus('Session ended.');
    } catch (err) {
      sessions.setError(`Could not end the session: ${message(err)}`);
    }
  }

  return (
    <Screen id="sessions" title="Your sessions" status={status} error={sessions.error}>
      {sessions.data === null ? (
        !sessions.error && <p>Loading…</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Sessions">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Last used</th>
                <th scope="col">From</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.data.map((s) => (
                <tr key={s.id}>
                  <th scope="row">
                    {date(s.createdAt)}
                    {s.current && <span class="badge">this session</span>}
                    {s.appPasswordName && <span class="badge">app password {s.appPasswordName}</span>}
                  </th>
                  <td>{date(s.lastUsedAt)}</td>
                  <td class="break small">{[s.clientAddress, s.userAgent].filter(Boolean).join(' · ') || '—'}</td>
                  <td>{date(s.expiresAt)}</td>
                  <td class="actions">
                    <button type="button" class="danger" aria-label={`End session ${s.id}`} onClick={() => end(s)}>
                      End
                    </button>
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

// ---- tenants

interface Tenant {
  id: string;
  name: string;
  quota: { bytes: number | null; objects: number | null };
  usage: { bytes: number; objects: number };
}

export function Tenants() {
  const tenants = useLoad(() => admin<{ tenants: Tenant[] }>('GET', '/tenants').then((r) => r.tenants), []);
  const [status, setStatus] = useState('');

  async function create(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get('name') ?? '').trim();
    try {
      await admin('POST', '/tenants', { name });
      form.reset();
      await tenants.reload();
      setStatus(`Tenant ${name} created.`);
    } catch (err) {
      tenants.setError(`Could not create ${name}: ${message(err)}`);
    }
  }

  return (
    <Screen
      id="tenants"
      title="Tenants"
      status={status}
      error={tenants.error}
      actions={
        <form class="inline" onSubmit={create}>
          <label>
            <span class="visually-hidden">New tenant name</span>
            <input name="name" required maxLength={63} placeholder="new-tenant" spellcheck={false} />
          </label>
          <button type="submit" class="primary">
            Create tenant
          </button>
        </form>
      }
    >
      {tenants.data === null ? (
        !tenants.error && <p>Loading…</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Tenants">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  Objects
                </th>
                <th scope="col" class="num">
                  Stored
                </th>
                <th scope="col">Quota</th>
              </tr>
            </thead>
            <tbody>
              {tenants.data.map((t) => (
                <tr key={t.id}>
                  <th scope="row">{t.name}</th>
                  <td class="num">{t.usage.objects.toLocaleString('en')}</td>
                  <td class="num">{bytesText(t.usage.bytes)}</td>
                  <td>
                    {t.quota.bytes === null && t.quota.objects === null
                      ? 'none'
                      : [t.quota.bytes !== null && bytesText(t.quota.bytes), t.quota.objects !== null && `${t.quota.objects} objects`]
                          .filter(Boolean)
                          .join(', ')}
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
