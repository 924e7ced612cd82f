/**
 * The distribution of one model version's scores, kept as counts per bin
 * while the hub ingests them, so the Models page can show it for millions of
 * scores without reading them. Anomaly scores span decades (0.001 … 1000), so
 * the bins are logarithmic: BINS_PER_DECADE per factor of ten; scores ≤ 0
 * share one bin below the smallest positive one.
 */
export const BINS_PER_DECADE = 10;
/** Positive scores are clamped to [1e-6, 1e6]. */
const MIN_BIN = -6 * BINS_PER_DECADE;
const MAX_BIN = 6 * BINS_PER_DECADE - 1;

export interface ScoreCounts {
  total: number;
  /** Windows judged alarm / warn by the version's own thresholds (active and shadow alike). */
  alarms?: number;
  warns?: number;
  /** Event time of the first and last window end counted, ms. */
  firstEnd?: number | null;
  lastEnd?: number | null;
  nonPositive: number;
  /** Lowest score ≤ 0 seen, for the left edge of that bin. */
  minNonPositive: number | null;
  /** Log-bin index → count. */
  bins: Record<string, number>;
}

export interface ScoreHistogram {
  total: number;
  alarms: number;
  warns: number;
  /**
   * Alarm windows per day of scored event time (at least one hour counted)
   * over the version's whole life on every gateway, shadow scores included.
   * Not a like-for-like comparison of two versions: a shadow deployment's
   * comparison (api/shadow-comparison.ts) pairs the windows both scored.
   */
  alarmsPerDay: number | null;
  firstEnd: number | null;
  lastEnd: number | null;
  /** Contiguous from the lowest to the highest non-empty bin (empty ones between included). */
  bins: Array<{ lo: number; hi: number; count: number }>;
}

export const emptyScoreCounts = (): ScoreCounts => ({ total: 0, nonPositive: 0, minNonPositive: null, bins: {} });

/** Counts one window's level and event time (call beside addScore). */
export function addWindow(counts: ScoreCounts, level: string | null | undefined, end: number): void {
  if (level === 'alarm') counts.alarms = (counts.alarms ?? 0) + 1;
  else if (level === 'warn') counts.warns = (counts.warns ?? 0) + 1;
  if (Number.isFinite(end)) {
    counts.firstEnd = counts.firstEnd == null ? end : Math.min(counts.firstEnd, end);
    counts.lastEnd = counts.lastEnd == null ? end : Math.max(counts.lastEnd, end);
  }
}

export function addScore(counts: ScoreCounts, score: number): void {
  if (!Number.isFinite(score)) return;
  counts.total++;
  if (score <= 0) {
    counts.nonPositive++;
    counts.minNonPositive = counts.minNonPositive === null ? score : Math.min(counts.minNonPositive, score);
    return;
  }
  const bin = Math.min(MAX_BIN, Math.max(MIN_BIN, Math.floor(Math.log10(score) * BINS_PER_DECADE)));
  counts.bins[bin] = (counts.bins[bin] ?? 0) + 1;
}

export function mergeScoreCounts(into: ScoreCounts, add: ScoreCounts): ScoreCounts {
  into.total += add.total;
  into.alarms = (into.alarms ?? 0) + (add.alarms ?? 0);
  into.warns = (into.warns ?? 0) + (add.warns ?? 0);
  for (const end of [add.firstEnd, add.lastEnd]) {
    if (end == null) continue;
    into.firstEnd = into.firstEnd == null ? end : Math.min(into.firstEnd, end);
    into.lastEnd = into.lastEnd == null ? end : Math.max(into.lastEnd, end);
  }
  into.nonPositive += add.nonPositive;
  if (add.minNonPositive !== null) into.minNonPositive = into.minNonPositive === null ? add.minNonPositive : Math.min(into.minNonPositive, add.minNonPositive);
  for (const [bin, n] of Object.entries(add.bins)) into.bins[bin] = (into.bins[bin] ?? 0) + n;
  return into;
}

const edge = (bin: number) => Number((10 ** (bin / BINS_PER_DECADE)).toPrecision(6));

export function histogramOf(counts: ScoreCounts): ScoreHistogram {
  const indexes = Object.keys(counts.bins).map(Number);
  const bins: ScoreHistogram['bins'] = [];
  if (indexes.length > 0) {
    const lo = Math.min(...indexes);
    const hi = Math.max(...indexes);
    if (counts.nonPositive > 0) bins.push({ lo: Math.min(counts.minNonPositive ?? 0, 0), hi: edge(lo), count: counts.nonPositive });
    for (let b = lo; b <= hi; b++) bins.push({ lo: edge(b), hi: edge(b + 1), count: counts.bins[b] ?? 0 });
  } else if (counts.nonPositive > 0) {
    bins.push({ lo: counts.minNonPositive ?? 0, hi: 0, count: counts.nonPositive });
  }
  const firstEnd = counts.firstEnd ?? null;
  const lastEnd = counts.lastEnd ?? null;
  const alarms = counts.alarms ?? 0;
  const spanDays = firstEnd === null || lastEnd === null ? null : Math.max(HOUR_MS, lastEnd - firstEnd) / DAY_MS;
  const alarmsPerDay = spanDays === null ? null : Number((alarms / spanDays).toFixed(2));
  return { total: counts.total, alarms, warns: counts.warns ?? 0, alarmsPerDay, firstEnd, lastEnd, bins };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
