import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, api, errText, onUnauthorized, request, setToken } from './api';
import { Login } from './components/Login';
import { Notices } from './components/Notices';
import { clearErrors } from './notify';
import { useRoute } from './router';
import { SessionContext, type Session } from './session';
import type { ServerInfo } from './types';
import { DetailView } from './views/Detail';
import { OverdueView } from './views/Overdue';
import { ServerView } from './views/Server';
import { TopicsView } from './views/Topics';
import { TransactionsView } from './views/Transactions';

type Phase = 'loading' | 'login' | 'ready';

const NAV = [
  { href: '#/', label: 'Transactions', names: ['transactions', 'detail'] },
  { href: '#/overdue', label: 'Overdue', names: ['overdue'] },
  { href: '#/topics', label: 'Topics', names: ['topics'] },
  { href: '#/server', label: 'Server', names: ['server'] },
];

export function App() {
  const route = useRoute();
  const [phase, setPhase] = useState<Phase>('loading');
  const [server, setServer] = useState<ServerInfo | null>(null);
  const [loginError, setLoginError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [fatal, setFatal] = useState<string | null>(null);

  /** Reads /admin/server with the stored token: decides between the console and sign-in. */
  const start = useCallback(async (): Promise<void> => {
    try {
      const info = await api.server();
      if (info.auth_enabled && (!info.role || info.role === 'none')) {
        setToken('');
        setServer(null);
        setPhase('login');
        return;
      }
      setServer(info);
      setFatal(null);
      setPhase('ready');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setToken('');
        setPhase('login');
      } else {
        // Older dtmd without /api/admin/server: assume auth off (calls still report 401 if not).
        setServer({ role: 'admin', auth_enabled: false });
        setFatal(e instanceof ApiError && e.status === 404 ? null : errText(e));
        setPhase('ready');
      }
    }
  }, []);

  useEffect(() => {
    void start();
    return onUnauthorized(() => {
      setToken('');
      setServer(null);
      setPhase('login');
    });
  }, [start]);

  const signIn = async (token: string) => {
    setBusy(true);
    setLoginError(null);
    try {
      const res = await fetchServerWith(token);
      if (res.auth_enabled && (!res.role || res.role === 'none')) throw new Error('This token is not valid.');
      setToken(token);
      clearErrors();
      setServer(res);
      setPhase('ready');
    } catch (e) {
      setLoginError(e instanceof ApiError && e.status === 401 ? 'Invalid token: dtmd refused it (401).' : errText(e));
    } finally {
      setBusy(false);
    }
  };

  const signOut = () => {
    setToken('');
    clearErrors();
    setServer(null);
    setLoginError(null);
    setPhase('login');
  };

  const session: Session = {
    role: server?.role ?? 'none',
    authEnabled: !!server?.auth_enabled,
    server,
    signOut,
  };

  let view = null;
  if (phase === 'ready') {
    switch (route.name) {
      case 'transactions':
        view = <TransactionsView query={route.query} />;
        break;
      case 'overdue':
        view = <OverdueView query={route.query} />;
        break;
      case 'detail':
        view = <DetailView key={route.gid} gid={route.gid ?? ''} />;
        break;
      case 'topics':
        view = <TopicsView />;
        break;
      case 'server':
        view = <ServerView />;
        break;
      default:
        view = (
          <section class="view">
            <h1>Not found</h1>
            <p>
              No such page. <a href="#/">Go to transactions</a>.
            </p>
          </section>
        );
    }
  }

  return (
    <SessionContext.Provider value={session}>
      <header class="topbar">
        <a class="brand" href="#/" data-testid="brand">
          <span class="logo" aria-hidden="true">◆</span> lynx-dtm console
        </a>
        {phase === 'ready' && (
          <nav class="nav" data-testid="nav">
            {NAV.map((n) => (
              <a key={n.href} href={n.href} class={n.names.includes(route.name) ? 'active' : ''} data-testid={`nav-${n.label.toLowerCase()}`}>
                {n.label}
              </a>
            ))}
          </nav>
        )}
        <div class="topbar-right">
          {server?.instance && <span class="muted small mono">{server.instance}</span>}
          {phase === 'ready' && session.authEnabled && (
            <>
              <span class={`role role-${session.role}`} data-testid="role">
                {session.role}
              </span>
              <button class="btn btn-small btn-ghost" data-testid="sign-out" onClick={signOut}>
                Sign out
              </button>
            </>
          )}
          {phase === 'ready' && !session.authEnabled && (
            <span class="role role-admin" data-testid="role" title="authentication is off on this dtmd">
              {session.role}
            </span>
          )}
        </div>
      </header>
      <main class="main">
        <Notices />
        {fatal && (
          <div class="banner banner-warn" data-testid="server-warning">
            {fatal}
          </div>
        )}
        {phase === 'loading' && <div class="muted">Connecting to dtmd…</div>}
        {phase === 'login' && <Login onSubmit={signIn} error={loginError} busy={busy} />}
        {view}
      </main>
    </SessionContext.Provider>
  );
}

/** /admin/server with a token that is not stored yet (a 401 here does not sign out). */
async function fetchServerWith(token: string): Promise<ServerInfo> {
  const res = await request('GET', 'admin/server', { token });
  return (await res.json()) as ServerInfo;
}
