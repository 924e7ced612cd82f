import { describe, expect, it } from 'vitest';
import { addScore, addWindow, emptyScoreCounts, histogramOf, mergeScoreCounts } from '../../cloud-sync/storage/score-histogram.js';

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
    expect(histogramOf(emptyScoreCounts())).toEqual({ total: 0, alarms: 0, warns: 0, alarmsPerDay: null, firstEnd: null, lastEnd: null, bins: [] });
  });

  it('counts alarm and warn windows and their rate per day of scored event time (at least an hour)', () => {
    const day = 86_400_000;
    const a = emptyScoreCounts();
    addWindow(a, 'alarm', 0);
    addWindow(a, 'warn', day / 2);
    const b = emptyScoreCounts();
    addWindow(b, 'alarm', day);
    addWindow(b, 'normal', 2 * day);
    const h = histogramOf(mergeScoreCounts(a, b));
    expect(h).toMatchObject({ alarms: 2, warns: 1, firstEnd: 0, lastEnd: 2 * day, alarmsPerDay: 1 });
    const brief = emptyScoreCounts();
    addWindow(brief, 'alarm', 1000);
    // One alarm in a minute of data is not 1,440 a day: the span counts as an hour at least.
    expect(histogramOf(brief).alarmsPerDay).toBe(24);
  });
});
