/** The shell: signed out, the sign-in screen; signed in, a header with who you are and the current screen. */
import { useEffect, useState } from 'preact/hooks';

import { Keys, Sessions, Tenants, Users } from './admin.js';
import { admin, onSignedOut, signOut, type Who } from './api.js';
import { Browser } from './browser.js';
import { Buckets } from './buckets.js';
import { BranchGraph } from './graph.js';
import { ObjectDetails } from './object.js';
import { Backends, Tasks } from './ops.js';
import { type AdminScreen, href, type Route, useRoute } from './router.js';
import { SignIn } from './signin.js';

/** The screens a principal may use (the server enforces every right anyway). */
function screensOf(who: Who): Array<[AdminScreen, string]> {
  const out: Array<[AdminScreen, string]> = [];
  if (who.level !== 'member') out.push(['users', 'Users']);
  out.push(['keys', 'Access keys']);
  if (who.kind === 'user') out.push(['sessions', 'Sessions']);
  if (who.level === 'root') out.push(['tenants', 'Tenants'], ['backends', 'Backends'], ['tasks', 'Tasks']);
  return out;
}

function Nav(props: { who: Who; route: Route }) {
  const current = props.route.view === 'admin' ? props.route.screen : 'buckets';
  const links: Array<[Route, string, string]> = [
    [{ view: 'buckets' }, 'Buckets', 'buckets'],
    ...screensOf(props.who).map(([screen, label]): [Route, string, string] => [{ view: 'admin', screen }, label, screen]),
  ];
  return (
    <nav aria-label="Main" class="main-nav">
      <ul>
        {links.map(([route, label, id]) => (
          <li key={id}>
            <a href={href(route)} aria-current={current === id ? 'page' : undefined}>
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

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
        <Nav who={who} route={route} />
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
        {route.view === 'admin' && <AdminRoute who={who} screen={route.screen} />}
        {route.view === 'graph' && <BranchGraph bucket={route.bucket} />}
      </main>
    </>
  );
}

function AdminRoute(props: { who: Who; screen: AdminScreen }) {
  const { who, screen } = props;
  if (!screensOf(who).some(([s]) => s === screen)) {
    return (
      <p role="alert" class="error">
        This screen is not for your account.
      </p>
    );
  }
  if (screen === 'users') return <Users who={who} />;
  if (screen === 'keys') return <Keys who={who} />;
  if (screen === 'sessions') return <Sessions />;
  if (screen === 'tenants') return <Tenants />;
  if (screen === 'backends') return <Backends />;
  return <Tasks />;
}
