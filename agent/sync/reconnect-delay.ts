import { backoffDelay } from '../sources/backoff.js';

/** A refused token waits at least this long between tries: a person has to act, and the hub's token check is costly. */
const UNAUTHORIZED_MAX_DELAY_MS = 5 * 60_000;

/**
 * The wait before connection attempt number `failures` (1 after the first
 * failure): jittered exponential backoff from `initialDelayMs` up to
 * `maxDelayMs`. A 401 starts at `maxDelayMs` and doubles up to at least five
 * minutes: retrying a refused token quickly only loads the hub.
 */
export function reconnectDelay(failures: number, unauthorized: boolean, reconnect: { initialDelayMs: number; maxDelayMs: number }, random?: () => number): number {
  const { initialDelayMs, maxDelayMs } = reconnect;
  const attempt = Math.max(0, failures - 1);
  if (unauthorized) return backoffDelay(attempt, maxDelayMs, Math.max(maxDelayMs, UNAUTHORIZED_MAX_DELAY_MS), random);
  return backoffDelay(attempt, initialDelayMs, maxDelayMs, random);
}
