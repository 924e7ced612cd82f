import { InvalidArgumentError } from 'commander';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * `30s`, `10m`, `2h`, `1d`, `1h30m`, `500ms` → milliseconds. A bare number is
 * refused: "10" could mean seconds or minutes, and a shadow period off by
 * 60× goes unnoticed.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let end = 0;
  for (let match = part.exec(trimmed); match; match = part.exec(trimmed)) {
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
    end = part.lastIndex;
  }
  if (trimmed === '' || end !== trimmed.length) {
    throw new InvalidArgumentError(`"${text}" is not a duration; write a number and a unit, e.g. 30s, 10m, 2h, 1d or 1h30m`);
  }
  return Math.round(total);
}

/** 600000 → `10m`, 5400000 → `1h30m`: the inverse, for output. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m], ['s', UNIT_MS.s]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return rest > 0 ? `${out}${rest}ms` : out;
}
