import type { Quality } from '../../shared/sample.js';

export interface Series {
  ts: number[];
  values: Array<number | null>;
  quality: Quality[];
}

/**
 * At most `maxPoints` points of a series (ascending `ts`) that keep its shape:
 * the points are cut into consecutive buckets of equal count and each bucket
 * keeps its lowest and highest value, so a one-sample spike survives however
 * hard the series is squeezed (an average or every-nth pick would lose it).
 * A bucket with a gap (null or non-finite value) also keeps one gap point, so
 * a line plot still breaks where the data stopped. Kept points stay in time
 * order and carry their own quality. Non-finite values come out as null: the
 * result goes to JSON, which has no NaN. Pure; the inputs are not changed.
 */
export function downsample(ts: readonly number[], values: ReadonlyArray<number | null>, quality: readonly Quality[], maxPoints: number): Series {
  if (values.length !== ts.length || quality.length !== ts.length) {
    throw new RangeError(`downsample: ts, values and quality differ in length (${ts.length}, ${values.length}, ${quality.length})`);
  }
  if (!Number.isInteger(maxPoints) || maxPoints < 1) throw new RangeError(`downsample: maxPoints must be a positive integer, got ${maxPoints}`);
  const n = ts.length;
  const clean = (i: number): number | null => {
    const v = values[i];
    return v !== null && v !== undefined && Number.isFinite(v) ? v : null;
  };
  if (n <= maxPoints) return pick(ts, quality, clean, Array.from({ length: n }, (_, i) => i));

  let hasGap = false;
  for (let i = 0; i < n && !hasGap; i++) hasGap = clean(i) === null;
  // Points kept per bucket: max and min, plus a gap marker when the series has gaps.
  const perBucket = Math.min(hasGap ? 3 : 2, maxPoints);
  const buckets = Math.floor(maxPoints / perBucket);
  const kept: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * n) / buckets);
    const to = Math.floor(((b + 1) * n) / buckets);
    let lo = -1;
    let hi = -1;
    let gap = -1;
    for (let i = from; i < to; i++) {
      const v = clean(i);
      if (v === null) {
        if (gap < 0) gap = i;
      } else {
        if (lo < 0 || v < clean(lo)!) lo = i;
        if (hi < 0 || v > clean(hi)!) hi = i;
      }
    }
    // In order of importance, for when maxPoints leaves room for fewer than three.
    const chosen = [...new Set([hi, lo, gap].filter((i) => i >= 0))].slice(0, perBucket);
    kept.push(...chosen.sort((a, b2) => a - b2));
  }
  return pick(ts, quality, clean, kept);
}

function pick(ts: readonly number[], quality: readonly Quality[], clean: (i: number) => number | null, indices: number[]): Series {
  return {
    ts: indices.map((i) => ts[i]!),
    values: indices.map(clean),
    quality: indices.map((i) => quality[i]!),
  };
}
