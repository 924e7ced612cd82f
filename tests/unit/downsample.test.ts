import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { downsample } from '../../agent/episodes/downsample.js';
import type { Quality } from '../../shared/sample.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const good = (n: number): Quality[] => Array<Quality>(n).fill('good');

describe('downsample', () => {
  it('returns short series unchanged, as copies', () => {
    const ts = [1, 2, 3];
    const values = [5, null, 7];
    const out = downsample(ts, values, good(3), 3);
    expect(out).toEqual({ ts: [1, 2, 3], values: [5, null, 7], quality: ['good', 'good', 'good'] });
    expect(out.ts).not.toBe(ts);
    expect(out.values).not.toBe(values);
  });

  it('turns NaN and infinities into null (JSON has no NaN)', () => {
    expect(downsample([1, 2, 3], [Number.NaN, Infinity, 1], ['bad', 'good', 'good'], 10).values).toEqual([null, null, 1]);
  });

  it('keeps the lowest and highest point of each bucket, so a one-sample spike survives', () => {
    const values = range(10_000).map((i) => (i === 6_789 ? 1000 : i === 1_234 ? -1000 : Math.sin(i / 100)));
    const out = downsample(range(10_000), values, good(10_000), 100);
    expect(out.ts).toHaveLength(100);
    expect(out.values).toContain(1000);
    expect(out.values).toContain(-1000);
    expect(out.ts[out.values.indexOf(1000)]).toBe(6_789);
    expect(out.ts[out.values.indexOf(-1000)]).toBe(1_234);
  });

  it('keeps a gap point in buckets with gaps, so a plot still breaks where the data stopped', () => {
    const values = range(1000).map((i) => (i >= 400 && i < 410 ? null : 1));
    const quality = range(1000).map((i): Quality => (i >= 400 && i < 410 ? 'bad' : 'good'));
    const out = downsample(range(1000), values, quality, 30);
    expect(out.ts.length).toBeLessThanOrEqual(30);
    const gap = out.values.indexOf(null);
    expect(gap).toBeGreaterThanOrEqual(0);
    expect(out.ts[gap]).toBeGreaterThanOrEqual(400);
    expect(out.ts[gap]).toBeLessThan(410);
    expect(out.quality[gap]).toBe('bad');
  });

  it('with room for a single point keeps the highest', () => {
    expect(downsample([1, 2, 3], [1, 9, 2], good(3), 1)).toEqual({ ts: [2], values: [9], quality: ['good'] });
  });

  it('refuses arrays of different lengths and a non-positive bound', () => {
    expect(() => downsample([1, 2], [1], good(2), 5)).toThrow(RangeError);
    expect(() => downsample([1], [1], good(1), 0)).toThrow(RangeError);
  });

  it('property: at most maxPoints, in time order, every point from the input, extremes kept', () => {
    const point = fc.tuple(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constant(null)), fc.constantFrom<Quality>('good', 'uncertain', 'bad'));
    fc.assert(
      fc.property(fc.array(point, { maxLength: 400 }), fc.integer({ min: 1, max: 60 }), (points, maxPoints) => {
        const ts = points.map((_, i) => i * 10);
        const values = points.map(([v]) => v);
        const quality = points.map(([, q]) => q);
        const out = downsample(ts, values, quality, maxPoints);
        expect(out.ts.length).toBeLessThanOrEqual(maxPoints);
        expect(out.values).toHaveLength(out.ts.length);
        expect(out.quality).toHaveLength(out.ts.length);
        out.ts.forEach((t, i) => {
          if (i > 0) expect(t).toBeGreaterThan(out.ts[i - 1]!);
          const k = t / 10;
          expect(out.values[i]).toBe(values[k]);
          expect(out.quality[i]).toBe(quality[k]);
        });
        const numbers = values.filter((v): v is number => v !== null);
        if (numbers.length > 0) expect(out.values).toContain(Math.max(...numbers));
        if (numbers.length > 0 && maxPoints >= 2) expect(out.values).toContain(Math.min(...numbers));
        if (numbers.length < values.length && maxPoints >= 3) expect(out.values).toContain(null);
      }),
      { numRuns: 500 },
    );
  });
});
