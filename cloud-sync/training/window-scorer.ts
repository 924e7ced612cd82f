import { scorePcaT2Q, type PcaT2QModel } from './pca-t2q.js';
import type { TagScaling } from './robust-scaling.js';
import { featureTag, windowFeatures, type FeatureKind } from './window-features.js';

/** Everything that turns a raw window into a score: what the ONNX graph bakes in. */
export interface WindowScorer {
  scaling: TagScaling;
  features: FeatureKind[];
  pca: PcaT2QModel;
}

/**
 * The TypeScript computation of the exported model, for windows laid out as
 * its input (`count × length × tags`, batch,time,tag, float32): scores
 * (`count`) and per-tag contributions (`count × tags`, each tag's features
 * summed; a window's contributions add up to its score). The ONNX graph must
 * agree with this (tests/unit/training-onnx.test.ts).
 */
export function scoreWindows(scorer: WindowScorer, data: Float32Array, count: number, length: number): { scores: Float64Array; contributions: Float64Array } {
  const tags = scorer.scaling.center.length;
  const width = scorer.features.length * tags;
  const { scores, contributions: perFeature } = scorePcaT2Q(scorer.pca, windowFeatures(data, count, length, scorer.scaling, scorer.features), count);
  const contributions = new Float64Array(count * tags);
  for (let w = 0; w < count; w++) {
    for (let j = 0; j < width; j++) contributions[w * tags + featureTag(j, tags)]! += perFeature[w * width + j] as number;
  }
  return { scores, contributions };
}
