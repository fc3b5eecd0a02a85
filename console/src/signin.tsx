/** Sign in: a user (tenant, email, password) or an access key pair (the root operator's, say). */
import { useState } from 'preact/hooks';

import { signInKey, signInUser, type Who } from './api.js';
import { message } from './format.js';

export function SignIn(props: { onSignedIn: (who: Who) => void; notice?: string }) {
  const [mode, setMode] = useState<'user' | 'key'>('user');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const field = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      const who =
        mode === 'user'
          ? await signInUser(field('tenant'), field('email'), String(form.get('password') ?? ''))
          : await signInKey(field('accessKeyId'), String(form.get('secretAccessKey') ?? '').trim());
      props.onSignedIn(who);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <h1>
        <span aria-hidden="true">⚒</span> Anvil
      </h1>
      <form onSubmit={submit} aria-labelledby="signin-title" class="card">
        <h2 id="signin-title">Sign in</h2>
        {props.notice && <p class="notice">{props.notice}</p>}
        <div role="group" aria-label="Sign in with" class="tabs">
          <button type="button" aria-pressed={mode === 'user'} onClick={() => setMode('user')}>
            Email and password
          </button>
          <button type="button" aria-pressed={mode === 'key'} onClick={() => setMode('key')}>
            Access key
          </button>
        </div>
        {mode === 'user' ? (
          <>
            <label>
              Tenant
              <input name="tenant" required autoComplete="organization" defaultValue="root" />
            </label>
            <label>
              Email
              <input name="email" type="email" required autoComplete="username" autoFocus />
            </label>
            <label>
              Password
              <input name="password" type="password" required autoComplete="current-password" />
            </label>
          </>
        ) : (
          <>
            <label>
              Access key ID
              <input name="accessKeyId" required autoComplete="username" spellcheck={false} autoFocus />
            </label>
            <label>
              Secret access key
              <input name="secretAccessKey" type="password" required autoComplete="current-password" />
            </label>
          </>
        )}
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
