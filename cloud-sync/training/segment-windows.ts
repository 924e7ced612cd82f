import type { ModelManifest } from '../../shared/model-manifest.js';
import { cutWindows } from './cut-windows.js';
import type { TagScaling } from './robust-scaling.js';
import type { TrainingSegment } from './training-data.js';
import { windowFeatures, type FeatureKind } from './window-features.js';

/** The sufficient windows of one segment, as features. */
export interface SegmentWindows {
  count: number;
  /** Event time of each window's start and end, in ms, ascending. */
  starts: Float64Array;
  ends: Float64Array;
  /** count × features, row-major. */
  features: Float64Array;
  /** Windows the missing-data policy would not score (left out of training too). */
  insufficient: number;
}

/**
 * One segment's windows (cut as the agent cuts them, see cut-windows.ts) as
 * features: only count × features numbers are kept, so a week of 1 s data at
 * hop 1 fits in memory.
 */
export function segmentWindows(
  segment: TrainingSegment,
  manifest: ModelManifest,
  scaling: TagScaling,
  kinds: readonly FeatureKind[],
  onSamples?: (offered: number) => void,
): SegmentWindows {
  const chunks: Float64Array[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const { insufficient } = cutWindows(
    segment,
    manifest,
    (batch) => {
      chunks.push(windowFeatures(batch.input, batch.count, manifest.windowLength, scaling, kinds));
      starts.push(...batch.starts);
      ends.push(...batch.ends);
    },
    onSamples,
  );
  const features = new Float64Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    features.set(chunk, at);
    at += chunk.length;
  }
  return { count: starts.length, starts: Float64Array.from(starts), ends: Float64Array.from(ends), features, insufficient };
}
