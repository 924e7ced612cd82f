import type { Route } from '../routing/route.js';
import type { Session } from '../session/session-context.js';

const ROLE_TEXT = { viewer: 'viewer (read only)', operator: 'operator', admin: 'admin' } as const;

interface HeaderBarProps {
  session: Session;
  route: Route;
  onSignOut: () => void;
}

/** The bar on every signed-in page: where to go, who is signed in, and the way out. */
export function HeaderBar({ session, route, onSignOut }: HeaderBarProps) {
  const current = route.page === 'episode' ? 'episodes' : route.page;
  const link = (page: string, text: string) => (
    <a href={`#/${page}`} class={current === page ? 'nav-current' : ''} aria-current={current === page ? 'page' : undefined} data-testid={`nav-${page}`}>
      {text}
    </a>
  );
  return (
    <header class="header-bar">
      <span class="brand">Vigil</span>
      <nav>
        {link('episodes', 'Episodes')}
        {link('fleet', 'Fleet')}
        {link('models', 'Models')}
        {session.isAdmin ? link('admin', 'Admin') : null}
      </nav>
      <span class="header-user" data-testid="header-user">
        <span data-testid="header-user-name">{session.user.name}</span> · <span data-testid="header-user-role">{ROLE_TEXT[session.user.role] ?? session.user.role}</span>
      </span>
      <button type="button" class="button-quiet" onClick={onSignOut} data-testid="logout">
        Log out
      </button>
    </header>
  );
}
