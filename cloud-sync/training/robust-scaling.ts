import { VigilError } from '../../shared/errors.js';

/** Per tag (model order): x ↦ (x − center) / scale. */
export interface TagScaling {
  center: number[];
  scale: number[];
}

/** IQR / 1.349 and MAD × 1.4826 equal the standard deviation for normally distributed data. */
const IQR_TO_SD = 1 / 1.349;
const MAD_TO_SD = 1.4826;

/**
 * Robust per-tag scaling from the normal data: median, and the interquartile
 * range as spread, so a few spikes in the training period do not set the units.
 * Sensors that report in coarse steps (a pressure transmitter with a few
 * distinct values) often have an IQR of 0 although they move: then the MAD,
 * then the standard deviation is used. A tag whose values never change cannot
 * be scaled and is refused by name. `values[k]` holds the finite values of tag k.
 */
export function robustScaling(tags: readonly string[], values: readonly Float64Array[]): TagScaling {
  const center: number[] = [];
  const scale: number[] = [];
  const constant: string[] = [];
  tags.forEach((tag, k) => {
    const sorted = Float64Array.from(values[k] ?? []).sort();
    if (sorted.length === 0) throw new VigilError('VIGIL_TRAINING_DATA_INVALID', `tag "${tag}" has no usable value in the training data; pick a period in which it was recorded`, { details: { tag } });
    const median = quantileOfSorted(sorted, 0.5);
    let spread = (quantileOfSorted(sorted, 0.75) - quantileOfSorted(sorted, 0.25)) * IQR_TO_SD;
    if (!(spread > 0)) spread = medianAbsoluteDeviation(sorted, median) * MAD_TO_SD;
    if (!(spread > 0)) spread = standardDeviation(sorted);
    // Relative to the level: a value that only moves in its last float digits is constant.
    if (!(spread > 1e-9 * Math.max(1, Math.abs(median)))) constant.push(tag);
    center.push(median);
    scale.push(spread);
  });
  if (constant.length > 0) {
    throw new VigilError(
      'VIGIL_TRAINING_DATA_INVALID',
      `${constant.length === 1 ? 'tag' : 'tags'} ${constant.map((t) => `"${t}"`).join(', ')} never change${constant.length === 1 ? 's' : ''} in the training data, so normal behaviour cannot be learnt from ${constant.length === 1 ? 'it' : 'them'}: leave ${constant.length === 1 ? 'it' : 'them'} out of the tags or pick a period in which ${constant.length === 1 ? 'it moves' : 'they move'}`,
      { details: { constantTags: constant } },
    );
  }
  return { center, scale };
}

/** The q-quantile (0..1) of ascending values, linearly interpolated between neighbours. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const at = q * (n - 1);
  const lo = Math.floor(at);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (at - lo);
}

function medianAbsoluteDeviation(sorted: Float64Array, median: number): number {
  const deviations = sorted.map((v) => Math.abs(v - median)).sort();
  return quantileOfSorted(deviations, 0.5);
}

function standardDeviation(values: Float64Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let sum = 0;
  for (const v of values) sum += (v - mean) ** 2;
  return Math.sqrt(sum / values.length);
}
