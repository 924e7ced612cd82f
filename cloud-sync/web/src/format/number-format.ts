/** Numbers as the pages show them: few digits, units spelled out. */

export function formatScore(score: number): string {
  return Math.abs(score) >= 100 ? score.toFixed(0) : score.toPrecision(3);
}

/** 0.8 → `80%`; null (no data) → `–`. */
export function formatShare(share: number | null): string {
  return share === null ? '–' : `${Math.round(share * 100)}%`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A clock skew in ms as `+1.2 s` / `−350 ms`. */
export function formatSkew(ms: number): string {
  const sign = ms < 0 ? '−' : '+';
  const abs = Math.abs(ms);
  return abs < 1000 ? `${sign}${Math.round(abs)} ms` : `${sign}${(abs / 1000).toFixed(1)} s`;
}
