import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../../api/api-error.js';

/**
 * Runs one admin action at a time and keeps its failure for display; the
 * caller refreshes its list on success.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ error: ApiError; context: string } | undefined>();
  const run = async (context: string, action: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (err) {
      setError({ error: asApiError(err), context });
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
