/**
 * Times as a plant user reads them: local wall-clock time, short relative
 * ages ("4 min ago") and durations ("1 h 05 min").
 */

const pad = (n: number) => String(n).padStart(2, '0');

/** `2025-03-01 09:04:05` in the browser's time zone. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `09:04:05` today, the full date otherwise. */
export function formatWhen(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const today = new Date(now);
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay ? `today ${pad(d.getHours())}:${pad(d.getMinutes())}` : formatDateTime(ms).slice(0, 16);
}

/** A span as `45 s`, `12 min`, `1 h 05 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${pad(min % 60)} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** `just now`, `4 min ago`, `2 h 10 min ago`; `in 3 min` for the future (a skewed clock). */
export function formatAge(ms: number, now = Date.now()): string {
  const delta = now - ms;
  if (Math.abs(delta) < 10_000) return 'just now';
  return delta > 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(-delta)}`;
}

/** A value for `<input type="datetime-local">` → epoch ms, undefined when empty or invalid. */
export function parseLocalDateTime(value: string): number | undefined {
  if (value === '') return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
