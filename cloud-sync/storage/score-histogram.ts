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
  nonPositive: number;
  /** Lowest score ≤ 0 seen, for the left edge of that bin. */
  minNonPositive: number | null;
  /** Log-bin index → count. */
  bins: Record<string, number>;
}

export interface ScoreHistogram {
  total: number;
  /** Contiguous from the lowest to the highest non-empty bin (empty ones between included). */
  bins: Array<{ lo: number; hi: number; count: number }>;
}

export const emptyScoreCounts = (): ScoreCounts => ({ total: 0, nonPositive: 0, minNonPositive: null, bins: {} });

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
  return { total: counts.total, bins };
}
