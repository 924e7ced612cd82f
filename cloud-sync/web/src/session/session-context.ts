import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Role, SessionUser } from '../api/api-types.js';

/** What the signed-in user may do; the hub enforces the same rules (viewer < operator < admin). */
export interface Session {
  user: SessionUser;
  canResolve: boolean;
  isAdmin: boolean;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function sessionFor(user: SessionUser): Session {
  const rank = RANK[user.role] ?? 0;
  return { user, canResolve: rank >= RANK.operator, isAdmin: rank >= RANK.admin };
}

export const SessionContext = createContext<Session | null>(null);

/** The session of a signed-in page (pages render only inside one). */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
