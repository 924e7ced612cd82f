import { VigilError } from '../../shared/errors.js';
import { fitPcaT2Q, scorePcaT2Q, type PcaT2QOptions } from './pca-t2q.js';
import { quantileOfSorted } from './robust-scaling.js';
import type { SegmentWindows } from './segment-windows.js';

export interface CalibrationOptions {
  /** Share (0..1) of each segment's windows, its most recent ones, held out of the fit to calibrate on. */
  holdoutShare: number;
  /** Quantile (0..1) of the held-out scores the alarm threshold starts from (1 = the highest). */
  quantile: number;
  /** The alarm threshold is that quantile times this margin (≥ 1). */
  margin: number;
  /** The warn threshold as a share of the alarm threshold (0..1]. */
  warnShare: number;
}

export interface Calibration {
  warn: number;
  alarm: number;
  /** Windows the calibration model was fitted on, and windows it scored. */
  fitWindows: number;
  heldOutWindows: number;
  /** The held-out scores' quantile and highest value (the calibration model's scores). */
  heldOutQuantileScore: number;
  heldOutMaxScore: number;
}

/**
 * Thresholds from data the scoring model did not learn from. Each segment's
 * most recent `holdoutShare` of windows is held out (the data closest to what
 * the model will see next, so drift since the start of the period counts);
 * a model fitted on the rest — without windows overlapping the held-out ones
 * — scores them, and alarm = quantile(held-out scores) × margin. The deployed
 * model is then fitted on all windows; its scores are normalised the same way
 * (a typical normal window ≈ 1) and on new normal data are, if anything,
 * lower than the calibration model's on its held-out windows.
 */
export function calibrateThresholds(segments: readonly SegmentWindows[], width: number, pca: PcaT2QOptions, options: CalibrationOptions): Calibration {
  const fit: Float64Array[] = [];
  const held: Float64Array[] = [];
  let fitCount = 0;
  let heldCount = 0;
  for (const s of segments) {
    if (s.count === 0) continue;
    const holdFrom = s.count - Math.max(1, Math.ceil(s.count * options.holdoutShare));
    const heldStart = s.starts[holdFrom] as number;
    let fitEnd = 0;
    while (fitEnd < holdFrom && (s.ends[fitEnd] as number) <= heldStart) fitEnd++;
    fit.push(s.features.subarray(0, fitEnd * width));
    held.push(s.features.subarray(holdFrom * width, s.count * width));
    fitCount += fitEnd;
    heldCount += s.count - holdFrom;
  }
  const minFit = Math.max(10, 2 * width);
  if (fitCount < minFit || heldCount < 3) {
    throw new VigilError(
      'VIGIL_TRAINING_DATA_INVALID',
      `too little data to fit and calibrate: ${fitCount} windows to fit on (at least ${minFit} needed for ${width} features) and ${heldCount} held out for the thresholds (at least 3); give a longer period, a shorter window or a smaller hop`,
      { details: { fitWindows: fitCount, heldOutWindows: heldCount, needed: minFit } },
    );
  }
  const model = fitPcaT2Q(concat(fit), fitCount, width, pca);
  const scores = scorePcaT2Q(model, concat(held), heldCount).scores.sort();
  const base = quantileOfSorted(scores, options.quantile);
  const alarm = roundUp(base * options.margin);
  return {
    alarm,
    warn: roundUp(alarm * options.warnShare),
    fitWindows: fitCount,
    heldOutWindows: heldCount,
    heldOutQuantileScore: base,
    heldOutMaxScore: scores[scores.length - 1] as number,
  };
}

function concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Four significant digits, rounded up: readable in a manifest, never below what was computed. */
function roundUp(value: number): number {
  if (!(value > 0)) return value;
  const step = 10 ** (Math.floor(Math.log10(value)) - 3);
  return Number((Math.ceil(value / step - 1e-9) * step).toPrecision(4));
}
