import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { HeaderBar } from './components/header-bar.js';
import { AdminPage } from './pages/admin/admin-page.js';
import { EpisodePage } from './pages/episode/episode-page.js';
import { ReviewQueueContext } from './pages/episode/review-queue.js';
import { EpisodesPage } from './pages/episodes/episodes-page.js';
import { FleetPage } from './pages/fleet/fleet-page.js';
import { LoginPage } from './pages/login/login-page.js';
import { ModelsPage } from './pages/models/models-page.js';
import { navigate, type Route } from './routing/route.js';
import { useRoute } from './routing/use-route.js';
import { SessionContext, sessionFor, type Session } from './session/session-context.js';
import { useSessionState } from './session/use-session-state.js';

const PAGE_TITLES: Record<Route['page'], string> = { login: 'Sign in', episodes: 'Episodes', episode: 'Episode', fleet: 'Fleet', models: 'Models', admin: 'Admin' };

/**
 * The shell: checks the session, shows the login page while signed out (and
 * returns to the page asked for afterwards), otherwise the header and the
 * page of the current hash route.
 */
export function App() {
  const route = useRoute();
  const { state, signIn, signOut } = useSessionState();
  const [queue, setQueue] = useState<readonly string[]>([]);
  const returnTo = useRef('#/episodes');

  useEffect(() => {
    if (state.status === 'signed-out' && route.page !== 'login') {
      returnTo.current = location.hash || '#/episodes';
      navigate('#/login');
    }
    if (state.status === 'signed-in' && route.page === 'login') navigate(returnTo.current);
  }, [state.status, route.page]);

  useEffect(() => {
    document.title = `${PAGE_TITLES[route.page]} · Vigil hub`;
  }, [route.page]);

  const session = useMemo(() => (state.status === 'signed-in' ? sessionFor(state.user) : null), [state]);
  const queueValue = useMemo(() => ({ ids: queue, setIds: setQueue }), [queue]);

  if (state.status === 'checking') return <p class="page-loading">Checking the session…</p>;
  if (state.status === 'signed-out' || !session) return <LoginPage signIn={signIn} error={state.status === 'signed-out' ? state.error : undefined} />;
  return (
    <SessionContext.Provider value={session}>
      <ReviewQueueContext.Provider value={queueValue}>
        <HeaderBar session={session} route={route} onSignOut={() => void signOut()} />
        <main class="page">
          <CurrentPage route={route} session={session} />
        </main>
      </ReviewQueueContext.Provider>
    </SessionContext.Provider>
  );
}

function CurrentPage({ route, session }: { route: Route; session: Session }) {
  switch (route.page) {
    case 'login':
    case 'episodes':
      return <EpisodesPage />;
    case 'episode':
      return <EpisodePage id={route.id} />;
    case 'fleet':
      return <FleetPage />;
    case 'models':
      return <ModelsPage />;
    case 'admin':
      return session.isAdmin ? <AdminPage /> : <p class="notice">The admin page is for admins; you are signed in as {session.user.role}.</p>;
  }
}
