import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../api/api-error.js';

export interface Polled<T> {
  /** The last answer; kept while a refresh runs or fails, reset when `deps` change. */
  data: T | undefined;
  /** The last refresh's failure, cleared by the next success. */
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** How often lists refresh while the page is visible. */
export const REFRESH_MS = 15_000;

/**
 * Loads now, again every `everyMs` while the tab is visible, and when the
 * window regains focus: plant screens stay open for hours, and an episode
 * list that silently goes stale is worse than none. Answers of an older
 * `deps` generation are ignored.
 */
export function usePolled<T>(load: () => Promise<T>, deps: readonly unknown[], everyMs: number | null = REFRESH_MS): Polled<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const generation = useRef(0);
  const run = useRef<() => void>(() => {});

  useEffect(() => {
    const mine = ++generation.current;
    setState({ data: undefined, error: undefined, loading: true });
    let inFlight = false;
    const refresh = () => {
      if (inFlight) return;
      inFlight = true;
      load().then(
        (data) => {
          if (generation.current === mine) setState({ data, error: undefined, loading: false });
        },
        (err: unknown) => {
          if (generation.current === mine) setState((s) => ({ data: s.data, error: asApiError(err), loading: false }));
        },
      ).finally(() => {
        inFlight = false;
      });
    };
    run.current = refresh;
    refresh();
    const timer = everyMs === null ? undefined : setInterval(() => document.visibilityState === 'visible' && refresh(), everyMs);
    const onFocus = () => refresh();
    window.addEventListener('focus', onFocus);
    return () => {
      generation.current++;
      if (timer !== undefined) clearInterval(timer);
      window.removeEventListener('focus', onFocus);
    };
    // `load` is recreated on every render; `deps` says when it asks for something new.
  }, deps);

  const reload = useCallback(() => run.current(), []);
  return { ...state, reload };
}
