import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../../api/api-error.js';
import { ErrorNotice } from '../../components/error-notice.js';

interface LoginPageProps {
  signIn: (username: string, password: string) => Promise<void>;
  /** Why the page shows (e.g. the session check failed for another reason than 401). */
  error?: ApiError;
}

export function LoginPage({ signIn, error: initialError }: LoginPageProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ error: ApiError; context: string } | undefined>(initialError && { error: initialError, context: 'Could not check the session' });

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(undefined);
    try {
      await signIn(username.trim(), password);
    } catch (err) {
      setFailure({ error: asApiError(err), context: 'Sign-in failed' });
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login-page">
      <form class="login-form card" onSubmit={submit} data-testid="login-form">
        <h1>Vigil hub</h1>
        <p class="muted">Sign in to answer episodes and look after the gateways.</p>
        <label>
          User name
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} data-testid="login-username" autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="login-password" />
        </label>
        <ErrorNotice error={failure?.error} context={failure?.context} />
        <button type="submit" class="button-primary" disabled={busy} data-testid="login-submit">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
