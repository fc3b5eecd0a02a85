/** The shell: signed out, the sign-in screen; signed in, a header with who you are and the current screen. */
import { useEffect, useState } from 'preact/hooks';

import { admin, onSignedOut, signOut, type Who } from './api.js';
import { Browser } from './browser.js';
import { Buckets } from './buckets.js';
import { ObjectDetails } from './object.js';
import { href, useRoute } from './router.js';
import { SignIn } from './signin.js';

export function App() {
  const [who, setWho] = useState<Who | null>(null);
  const [notice, setNotice] = useState<string | undefined>();
  const route = useRoute();

  useEffect(() => {
    onSignedOut.handler = (reason) => {
      setWho(null);
      setNotice(reason);
    };
  }, []);

  if (!who) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(w) => {
          setNotice(undefined);
          setWho(w);
        }}
      />
    );
  }

  return (
    <>
      <header class="top">
        <a href={href({ view: 'buckets' })} class="brand">
          <span aria-hidden="true">⚒</span> Anvil
        </a>
        <span class="who" aria-label="Signed in as">
          {who.email ?? who.accessKeyId} · {who.tenant} · {who.level}
        </span>
        <button
          type="button"
          onClick={async () => {
            await signOut();
            setWho(null);
            setNotice('You have signed out.');
            location.hash = '#/';
          }}
        >
          Sign out
        </button>
        {who.kind === 'user' && !who.appPasswordId && (
          <button
            type="button"
            onClick={async () => {
              if (!confirm('End every session of this account, on every device?')) return;
              await admin('POST', '/auth/logout-all').catch(() => undefined);
              await signOut();
              setWho(null);
              setNotice('You have signed out everywhere.');
              location.hash = '#/';
            }}
          >
            Sign out everywhere
          </button>
        )}
      </header>
      <main id="main">
        {route.view === 'buckets' && <Buckets who={who} />}
        {route.view === 'browse' && <Browser bucket={route.bucket} prefix={route.prefix} />}
        {route.view === 'object' && <ObjectDetails bucket={route.bucket} objectKey={route.key} />}
      </main>
    </>
  );
}
