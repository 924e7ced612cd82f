import { describe, expect, it } from 'vitest';
import { fitPcaT2Q, scorePcaT2Q } from '../../cloud-sync/training/pca-t2q.js';
import { quantileOfSorted, robustScaling } from '../../cloud-sync/training/robust-scaling.js';
import { throttledProgress } from '../../cloud-sync/training/training-progress.js';
import { featureNames, windowFeatures } from '../../cloud-sync/training/window-features.js';
import { VigilError } from '../../shared/errors.js';

function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
}

describe('robustScaling', () => {
  it('centres on the median and scales by IQR / 1.349, so a spike does not set the units', () => {
    const values = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]);
    const { center, scale } = robustScaling(['a'], [values]);
    expect(center).toEqual([5.5]);
    expect(scale[0]).toBeCloseTo((quantileOfSorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 0.75) - quantileOfSorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 0.25)) / 1.349, 12);
    expect(scale[0]).toBeLessThan(5);
  });

  it('falls back to the MAD, then the standard deviation, for a sensor that reports in coarse steps', () => {
    // 80 % of the values equal: IQR 0 and MAD 0, yet the tag moves.
    const steps = Float64Array.from({ length: 100 }, (_, i) => (i < 10 ? 0.05 : i < 90 ? 0.38 : 0.71));
    const { scale } = robustScaling(['pressure'], [steps]);
    expect(scale[0]).toBeGreaterThan(0.1);
    expect(scale[0]).toBeLessThan(0.2);
  });

  it('refuses constant tags by name', () => {
    let caught: unknown;
    try {
      robustScaling(['a', 'b', 'c'], [Float64Array.from([1, 1, 1]), Float64Array.from([1, 2, 3]), Float64Array.from([7, 7])]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(VigilError);
    expect((caught as VigilError).code).toBe('VIGIL_TRAINING_DATA_INVALID');
    expect((caught as VigilError).message).toMatch(/^tags "a", "c" never change in the training data/);
    expect((caught as VigilError).details.constantTags).toEqual(['a', 'c']);
  });
});

describe('windowFeatures', () => {
  it('gives per-tag means, then spreads, of the robust-scaled window', () => {
    // Two windows of 3 samples × 2 tags (batch,time,tag).
    const data = Float32Array.from([1, 10, 2, 20, 3, 30, /* second window */ 5, 0, 5, 0, 5, 0]);
    const scaling = { center: [2, 10], scale: [1, 10] };
    const f = windowFeatures(data, 2, 3, scaling, ['mean', 'spread']);
    const spread = Math.sqrt(2 / 3);
    expect([...f].map((v) => Number(v.toFixed(12)))).toEqual([0, 1, Number(spread.toFixed(12)), Number(spread.toFixed(12)), 3, -1, 0, 0]);
    expect(featureNames(['p', 'q'], ['mean', 'spread'])).toEqual(['mean(p)', 'mean(q)', 'spread(p)', 'spread(q)']);
  });
});

describe('fitPcaT2Q', () => {
  // Three features: two strongly correlated, one independent.
  const random = uniform(7);
  const rows = 500;
  const features = new Float64Array(rows * 3);
  for (let i = 0; i < rows; i++) {
    const a = random() * 10;
    features[i * 3] = a;
    features[i * 3 + 1] = 2 * a + (random() - 0.5) * 2;
    features[i * 3 + 2] = random();
  }
  const model = fitPcaT2Q(features, rows, 3, { varianceShare: 0.9, t2Weight: 0.5, featureSdFloor: 0.01 });

  it('keeps the components that explain the asked share, never all of them', () => {
    expect(model.components).toBe(2);
    expect(model.explainedShare).toBeGreaterThan(0.9);
    expect(fitPcaT2Q(features, rows, 3, { varianceShare: 1, t2Weight: 0.5, featureSdFloor: 0.01 }).components).toBe(2);
  });

  it('scores the fitted windows about 1 on average; contributions add up to the score', () => {
    const { scores, contributions } = scorePcaT2Q(model, features, rows);
    expect(scores.reduce((s, v) => s + v, 0) / rows).toBeCloseTo(1, 6);
    for (let i = 0; i < rows; i += 37) expect(contributions[i * 3]! + contributions[i * 3 + 1]! + contributions[i * 3 + 2]!).toBeCloseTo(scores[i]!, 9);
  });

  it('scores a broken relationship far above a large but normal move, and blames the features that broke it', () => {
    const probe = Float64Array.from([/* along the normal direction */ 9.5, 19, 0.5, /* the pair disagrees */ 5, 15, 0.5]);
    const { scores, contributions } = scorePcaT2Q(model, probe, 2);
    expect(scores[1]!).toBeGreaterThan(20 * scores[0]!);
    expect(contributions[3]! + contributions[4]!).toBeGreaterThan(0.95 * scores[1]!);
  });

  it('does not turn rounding into alarms when two features are exactly collinear', () => {
    const twins = new Float64Array(rows * 2);
    for (let i = 0; i < rows; i++) twins[i * 2] = twins[i * 2 + 1] = features[i * 3]!;
    const m = fitPcaT2Q(twins, rows, 2, { varianceShare: 0.95, t2Weight: 0.5, featureSdFloor: 0.01 });
    const { scores } = scorePcaT2Q(m, Float64Array.from([5, 5 * (1 + 1e-7), /* the twins disagree by a fifth of their spread */ 5, 5 + 0.2 * 5.77]), 2);
    expect(scores[0]!).toBeLessThan(1);
    expect(scores[1]!).toBeGreaterThan(10);
  });
});

describe('throttledProgress', () => {
  it('prints the first report of each phase and then at most one per interval', () => {
    const lines: string[] = [];
    let now = 0;
    const report = throttledProgress((l) => lines.push(l), 3000, () => now);
    report({ phase: 'windows', done: 10, total: 100, unit: 'samples' });
    now = 1000;
    report({ phase: 'windows', done: 20, total: 100, unit: 'samples' });
    now = 3500;
    report({ phase: 'windows', done: 50, total: 100, unit: 'samples' });
    report({ phase: 'fit', done: 0, total: 3570, unit: 'windows' });
    expect(lines).toEqual(['  … windows: 10 of 100 samples (10 %)', '  … windows: 50 of 100 samples (50 %)', '  … fit: 3,570 windows']);
  });
});
