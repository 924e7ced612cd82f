import type { TagScaling } from './robust-scaling.js';

/**
 * What is computed per tag over a window, after robust scaling:
 * - mean: the window mean — level shifts (a valve closing, a flow dropping);
 * - spread: the root-mean-square deviation from that mean — a signal that
 *   starts to shake or freezes while its level stays.
 */
export const FEATURE_KINDS = ['mean', 'spread'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

/** Feature j belongs to tag j % tags: kinds in order, each with one value per tag. */
export function featureTag(feature: number, tags: number): number {
  return feature % tags;
}

export function featureNames(tags: readonly string[], kinds: readonly FeatureKind[]): string[] {
  return kinds.flatMap((kind) => tags.map((tag) => `${kind}(${tag})`));
}

/**
 * Features of `count` windows laid out as the model input (batch,time,tag):
 * `count × kinds.length·tags` values, kinds in order, tags in order within a
 * kind. Computed in float64 from the float32 input the model itself receives;
 * the ONNX graph (onnx-export.ts) computes exactly this.
 */
export function windowFeatures(data: Float32Array, count: number, length: number, scaling: TagScaling, kinds: readonly FeatureKind[]): Float64Array {
  const tags = scaling.center.length;
  if (data.length !== count * length * tags) throw new Error(`windowFeatures: ${data.length} values are not ${count} windows of ${length} × ${tags}`);
  const perWindow = kinds.length * tags;
  const out = new Float64Array(count * perWindow);
  const meanAt = kinds.indexOf('mean');
  const spreadAt = kinds.indexOf('spread');
  const mean = new Float64Array(tags);
  const squares = new Float64Array(tags);
  const inverse = scaling.scale.map((s) => 1 / s);
  for (let w = 0; w < count; w++) {
    const base = w * length * tags;
    mean.fill(0);
    for (let t = 0; t < length; t++) {
      const row = base + t * tags;
      for (let k = 0; k < tags; k++) mean[k]! += ((data[row + k] as number) - (scaling.center[k] as number)) * (inverse[k] as number);
    }
    for (let k = 0; k < tags; k++) mean[k]! /= length;
    const dst = w * perWindow;
    if (meanAt >= 0) for (let k = 0; k < tags; k++) out[dst + meanAt * tags + k] = mean[k] as number;
    if (spreadAt < 0) continue;
    squares.fill(0);
    for (let t = 0; t < length; t++) {
      const row = base + t * tags;
      for (let k = 0; k < tags; k++) {
        const d = ((data[row + k] as number) - (scaling.center[k] as number)) * (inverse[k] as number) - (mean[k] as number);
        squares[k]! += d * d;
      }
    }
    for (let k = 0; k < tags; k++) out[dst + spreadAt * tags + k] = Math.sqrt((squares[k] as number) / length);
  }
  return out;
}
