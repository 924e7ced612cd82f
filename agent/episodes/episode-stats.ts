import type { WindowResult } from '../../shared/window-result.js';

/**
 * Running figures over a stretch of windows. Kept as sums, not lists, so an
 * episode of days costs the same memory as one of minutes; plain data so it
 * survives `JSON.stringify` into the agent state (no Infinity, no Map).
 */
export interface WindowStats {
  /** Every window, scored or not. */
  windows: number;
  /** Windows that carry a score. */
  scored: number;
  sum: number;
  /** Null until a window is scored (JSON has no -Infinity). */
  peak: number | null;
  /** Per tag, the summed magnitude of its contributions, in first-seen order. */
  contributions: Array<[tag: string, sum: number]>;
}

export function emptyStats(): WindowStats {
  return { windows: 0, scored: 0, sum: 0, peak: null, contributions: [] };
}

export function addWindow(stats: WindowStats, result: WindowResult): void {
  stats.windows += 1;
  const score = result.status === 'scored' ? result.score : null;
  if (score === null || !Number.isFinite(score)) return;
  stats.scored += 1;
  stats.sum += score;
  stats.peak = stats.peak === null ? score : Math.max(stats.peak, score);
  if (result.contributions) {
    // Magnitudes: a model with signed contributions still ranks tags by influence,
    // and a tag pushing both ways over time does not cancel itself out.
    for (const [tag, value] of Object.entries(result.contributions)) {
      if (Number.isFinite(value)) addContribution(stats, tag, Math.abs(value));
    }
  }
}

/** Folds `from` into `into` (the windows of `from` came after those of `into`). */
export function mergeStats(into: WindowStats, from: WindowStats): void {
  into.windows += from.windows;
  into.scored += from.scored;
  into.sum += from.sum;
  if (from.peak !== null) into.peak = into.peak === null ? from.peak : Math.max(into.peak, from.peak);
  for (const [tag, value] of from.contributions) addContribution(into, tag, value);
}

/**
 * The `limit` tags with the largest summed contributions, as shares of the sum
 * over all tags (so shares of every tag would add up to 1). Ties go by tag name
 * so the answer never depends on arrival order. Empty when nothing contributed.
 */
export function topTags(stats: WindowStats, limit = 3): Array<{ tag: string; share: number }> {
  const total = stats.contributions.reduce((sum, [, value]) => sum + value, 0);
  if (!(total > 0)) return [];
  return stats.contributions
    .filter(([, value]) => value > 0)
    .map(([tag, value]) => ({ tag, share: value / total }))
    .sort((a, b) => b.share - a.share || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
    .slice(0, limit);
}

function addContribution(stats: WindowStats, tag: string, value: number): void {
  // Linear search: a model has tens of tags, and an array keeps the state plain JSON.
  const entry = stats.contributions.find(([t]) => t === tag);
  if (entry) entry[1] += value;
  else stats.contributions.push([tag, value]);
}
