import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, setCsrfToken, setUnauthorizedHandler } from '../api/api-client.js';
import { asApiError, type ApiError } from '../api/api-error.js';
import type { SessionAnswer, SessionUser } from '../api/api-types.js';

export type SessionState =
  | { status: 'checking' }
  | { status: 'signed-out'; error?: ApiError }
  | { status: 'signed-in'; user: SessionUser };

/**
 * The browser session: on load `GET /api/session` tells whether the cookie
 * still holds one (and hands back its CSRF token, which lives only in
 * memory); any 401 later signs the page out.
 */
export function useSessionState() {
  const [state, setState] = useState<SessionState>({ status: 'checking' });

  const signedOut = useCallback((error?: ApiError) => {
    setCsrfToken(null);
    setState({ status: 'signed-out', error });
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => signedOut());
    api.get<SessionAnswer>('/api/session', { expect401: true }).then(
      (answer) => {
        setCsrfToken(answer.csrfToken);
        setState({ status: 'signed-in', user: answer.user });
      },
      (err: unknown) => {
        const error = asApiError(err);
        signedOut(error.status === 401 ? undefined : error);
      },
    );
  }, [signedOut]);

  const signIn = useCallback(async (username: string, password: string) => {
    const answer = await api.post<SessionAnswer>('/api/session', { username, password }, { expect401: true });
    setCsrfToken(answer.csrfToken);
    setState({ status: 'signed-in', user: answer.user });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.delete('/api/session');
      signedOut();
    } catch (err) {
      // Signed out locally either way; a failure is still shown on the login page.
      const error = asApiError(err);
      signedOut(error.status === 401 ? undefined : error);
    }
  }, [signedOut]);

  return { state, signIn, signOut };
}
