import { useEffect, useRef } from 'preact/hooks';

/**
 * Listens to key presses on the document for as long as the component lives;
 * the latest `handler` is used without re-subscribing on every render.
 */
export function useKeyHandler(handler: (event: KeyboardEvent) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const listener = (event: KeyboardEvent) => latest.current(event);
    document.addEventListener('keydown', listener);
    return () => document.removeEventListener('keydown', listener);
  }, []);
}
