import { describe, expect, it } from 'vitest';
import { addScore, emptyScoreCounts, histogramOf, mergeScoreCounts } from '../../cloud-sync/storage/score-histogram.js';

describe('score histogram', () => {
  it('puts positive scores in log bins (10 per decade), contiguous from the lowest to the highest', () => {
    const c = emptyScoreCounts();
    for (const s of [0.55, 0.6, 1, 1.1, 30]) addScore(c, s);
    const h = histogramOf(c);
    expect(h.total).toBe(5);
    expect(h.bins.reduce((n, b) => n + b.count, 0)).toBe(5);
    for (let i = 1; i < h.bins.length; i++) expect(h.bins[i]!.lo).toBe(h.bins[i - 1]!.hi);
    const binOf = (score: number) => h.bins.find((b) => b.lo <= score && score < b.hi)!;
    expect(binOf(0.55).count).toBe(2);
    expect(binOf(1).count).toBe(2);
    expect(binOf(30).count).toBe(1);
    expect(binOf(5).count).toBe(0);
    expect(h.bins[0]!.lo).toBeCloseTo(0.501187, 5);
  });

  it('keeps scores ≤ 0 in one bin left of the rest, ignores NaN and Infinity, and merges counts', () => {
    const a = emptyScoreCounts();
    for (const s of [-2, 0, Number.NaN, Number.POSITIVE_INFINITY, 2]) addScore(a, s);
    const b = emptyScoreCounts();
    addScore(b, 2.05);
    const h = histogramOf(mergeScoreCounts(a, b));
    expect(h.total).toBe(4);
    expect(h.bins[0]).toEqual({ lo: -2, hi: h.bins[1]!.lo, count: 2 });
    expect(h.bins[1]!.count).toBe(2);
    expect(histogramOf(emptyScoreCounts())).toEqual({ total: 0, bins: [] });
  });
});
