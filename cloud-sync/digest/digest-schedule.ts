/**
 * When the digest goes out. Without `at`, every `everyMs` after the previous
 * send. With `at` ("HH:MM", local time), on the slots today's HH:MM ± k·every:
 * every 1440 minutes at 07:30 is each morning at 07:30, every 480 at 06:00 is
 * 06:00, 14:00 and 22:00. Whole days are counted in calendar days, so a
 * daylight-saving change does not shift the local time.
 */

const DAY_MS = 86_400_000;

/** "HH:MM" → hours and minutes (the configuration schema checked the format). */
export function parseTimeOfDay(at: string): { hours: number; minutes: number } {
  const [hours, minutes] = at.split(':').map(Number) as [number, number];
  return { hours, minutes };
}

/** The first send time strictly after `after` (the previous send, or when the schedule began). */
export function nextDigestAt(after: number, everyMs: number, at?: string): number {
  if (at === undefined) return after + everyMs;
  const { hours, minutes } = parseTimeOfDay(at);
  const day = new Date(after);
  const slot = (k: number): number => {
    if (everyMs % DAY_MS === 0) {
      const days = (everyMs / DAY_MS) * k;
      return new Date(day.getFullYear(), day.getMonth(), day.getDate() + days, hours, minutes).getTime();
    }
    return new Date(day.getFullYear(), day.getMonth(), day.getDate(), hours, minutes).getTime() + k * everyMs;
  };
  // The slot lattice is anchored at the local HH:MM of after's day; find the first slot past `after`.
  let k = Math.floor((after - slot(0)) / everyMs);
  while (slot(k) <= after) k++;
  while (k > 0 && slot(k - 1) > after) k--;
  return slot(k);
}
