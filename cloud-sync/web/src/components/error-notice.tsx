import type { ApiError } from '../api/api-error.js';

/** An API failure with its message and code, as the hub sent them. */
export function ErrorNotice({ error, context }: { error: ApiError | undefined; context?: string }) {
  if (!error) return null;
  return (
    <div class="notice notice-error" role="alert" data-testid="error-notice">
      {context ? <strong>{context}: </strong> : null}
      {error.message} <code class="error-code">{error.code}</code>
    </div>
  );
}
