import { z } from 'zod';
import { parseManifest } from '../../agent/models/package-file.js';
import { VigilError } from '../../shared/errors.js';
import { MODEL_PACKAGE_FORMAT, type ModelManifest, type ModelManifestInput } from '../../shared/model-manifest.js';
import { calibrateThresholds, type Calibration } from './calibrate-thresholds.js';
import { ONNX_CONTRIBUTIONS, ONNX_INPUT, ONNX_SCORE } from './onnx-export.js';
import { fitPcaT2Q } from './pca-t2q.js';
import { robustScaling } from './robust-scaling.js';
import { segmentWindows, type SegmentWindows } from './segment-windows.js';
import { segmentSpan, type MissingSource, type TrainingSegment } from './training-data.js';
import type { TrainingProgress } from './training-progress.js';
import { FEATURE_KINDS, featureNames } from './window-features.js';
import type { WindowScorer } from './window-scorer.js';

export const TRAINING_METHOD_ID = 'pca-t2q/1';

/** The method's parameters; every one has a default (DEFAULT_TRAINING_METHOD). */
export const TrainingMethodSchema = z.strictObject({
  features: z.array(z.enum(FEATURE_KINDS)).min(1).refine((k) => new Set(k).size === k.length, 'a feature kind is listed twice').describe('Per-tag window features: mean, spread.'),
  varianceShare: z.number().gt(0).max(1).describe('PCA keeps the fewest components explaining at least this share of the variance.'),
  t2Weight: z.number().min(0).max(1).describe("Weight of Hotelling's T² in the score; the residual Q gets the rest."),
  featureSdFloor: z.number().positive().describe('Least standard deviation of a feature, in robust-scaled units.'),
  holdoutShare: z.number().gt(0).max(0.5).describe("Share of each segment's most recent windows held out to calibrate the thresholds."),
  quantile: z.number().min(0).max(1).describe('Quantile of the held-out scores the alarm threshold starts from.'),
  margin: z.number().positive().describe('The alarm threshold is that quantile times this margin.'),
  warnShare: z.number().gt(0).max(1).describe('The warn threshold as a share of the alarm threshold.'),
});
export type TrainingMethod = z.infer<typeof TrainingMethodSchema>;

/**
 * Defaults, chosen on the SKAB valve1 benchmark (npm run bench:quality, one
 * setting for all files; README.md in this folder says what was tried).
 */
export const DEFAULT_TRAINING_METHOD: TrainingMethod = {
  features: ['mean'],
  varianceShare: 0.95,
  t2Weight: 0.5,
  featureSdFloor: 0.01,
  holdoutShare: 0.25,
  quantile: 0.99,
  margin: 2.5,
  warnShare: 0.7,
};

export interface TrainingRequest {
  name: string;
  version: string;
  description?: string;
  /** The model's tags, in the order of its input's tag axis. */
  tags: string[];
  samplePeriodMs: number;
  windowLength: number;
  hop: number;
  /** Recordings of normal operation (the chosen period). */
  normal: TrainingSegment[];
  /** More data known to be normal: e.g. episodes answered as normal operation. Fitted and calibrated on like `normal`. */
  extraNormal?: TrainingSegment[];
  method?: Partial<TrainingMethod>;
  missingData?: ModelManifestInput['missingData'];
  episodes?: ModelManifestInput['episodes'];
  /** name@version of the model this one replaces. */
  parent?: string;
  /** Episodes answered as normal operation whose data was learnt from (in `normal` or `extraNormal`). */
  resolutionsUsed?: number;
  /** Sources that should have been learnt from but could not be read (a retrained parent's history the agent no longer holds): named in the lineage with windows 0. */
  missingSources?: MissingSource[];
  onProgress?: (p: TrainingProgress) => void;
  /** Clock for the lineage's trainedAt. */
  now?: () => Date;
}

/** A manifest without its ONNX file: what `packTrainedModel` completes. */
export type TrainedManifest = Omit<ModelManifest, 'onnx'>;

export interface TrainedModel {
  manifest: TrainedManifest;
  scorer: WindowScorer;
  calibration: Calibration;
  method: TrainingMethod;
  featureNames: string[];
  /** Sufficient windows fitted on, and windows the missing-data policy left out. */
  windows: { sufficient: number; insufficient: number };
}

/**
 * Learns a model of normal behaviour from recorded tag series: robust per-tag
 * scaling, window features, PCA with T² + Q, thresholds calibrated on held-out
 * normal windows (calibrate-thresholds.ts). Windows are cut exactly as the
 * agent cuts them. Returns the model, its thresholds and a manifest with
 * lineage; `packTrainedModel` turns that into a package. Throws VigilError
 * VIGIL_TRAINING_DATA_INVALID for data it cannot learn from (a constant tag, too few
 * windows) and VIGIL_MODEL_PACKAGE_INVALID for a manifest field that is wrong
 * (name, version, window sizes).
 */
export function trainModel(request: TrainingRequest): TrainedModel {
  const method = parseMethod(request.method);
  // Validated up front (name, version, window sizes), and the windower and input builder take a manifest.
  const windowing = parseManifest(manifestFields(request, { warn: 0, alarm: 0 }, undefined), 'the model to train');
  const segments = [...request.normal, ...(request.extraNormal ?? [])];
  if (request.normal.length === 0) throw new VigilError('VIGIL_TRAINING_DATA_INVALID', 'no training data: give at least one recording of normal operation');
  for (const segment of segments) checkSegment(segment, request.tags);

  const scaling = robustScaling(request.tags, request.tags.map((tag) => goodValues(segments, tag)));
  const totalSamples = segments.reduce((n, s) => n + s.series.reduce((m, t) => m + t.ts.length, 0), 0);
  let offeredBefore = 0;
  const cut: SegmentWindows[] = segments.map((segment) => {
    const windows = segmentWindows(segment, windowing, scaling, method.features, (offered) =>
      request.onProgress?.({ phase: 'windows', done: offeredBefore + offered, total: totalSamples, unit: 'samples' }),
    );
    offeredBefore += segment.series.reduce((m, t) => m + t.ts.length, 0);
    return windows;
  });
  const width = method.features.length * request.tags.length;
  const sufficient = cut.reduce((n, s) => n + s.count, 0);
  const insufficient = cut.reduce((n, s) => n + s.insufficient, 0);
  if (sufficient === 0) {
    throw new VigilError(
      'VIGIL_TRAINING_DATA_INVALID',
      `the training data gives no window of ${request.windowLength} samples × ${request.samplePeriodMs} ms with enough data (${insufficient} windows had too many missing or filled cells); give a longer period, or a shorter window`,
      { details: { insufficient } },
    );
  }

  const pcaOptions = { varianceShare: method.varianceShare, t2Weight: method.t2Weight, featureSdFloor: method.featureSdFloor };
  request.onProgress?.({ phase: 'calibrate', done: 0, total: sufficient, unit: 'windows' });
  const calibration = calibrateThresholds(cut, width, pcaOptions, method);
  request.onProgress?.({ phase: 'fit', done: 0, total: sufficient, unit: 'windows' });
  const all = new Float64Array(sufficient * width);
  let at = 0;
  for (const s of cut) {
    all.set(s.features, at);
    at += s.features.length;
  }
  const pca = fitPcaT2Q(all, sufficient, width, pcaOptions);

  const lineage = {
    trainedAt: (request.now?.() ?? new Date()).toISOString(),
    method: TRAINING_METHOD_ID,
    parameters: { ...method, components: pca.components, explainedShare: round(pca.explainedShare, 4) },
    sources: [
      ...segments.map((segment, i) => {
        const span = segmentSpan(segment);
        const note = segment.source.note ? { note: segment.source.note } : {};
        return { kind: segment.source.kind, name: segment.source.name, from: Math.round(span.from), to: Math.round(span.to), windows: cut[i]!.count, ...note };
      }),
      ...(request.missingSources ?? []).map((m) => ({ kind: m.kind, name: m.name, from: Math.round(m.from), to: Math.round(m.to), windows: 0, note: m.note })),
    ],
    ...(request.parent ? { parent: request.parent } : {}),
    resolutionsUsed: request.resolutionsUsed ?? 0,
  };
  const thresholds = { warn: calibration.warn, alarm: calibration.alarm };
  const { onnx: _notExportedYet, ...manifest } = parseManifest(manifestFields(request, thresholds, lineage), 'the trained model');
  return {
    manifest,
    scorer: { scaling, features: method.features, pca },
    calibration,
    method,
    featureNames: featureNames(request.tags, method.features),
    windows: { sufficient, insufficient },
  };
}

function parseMethod(input: Partial<TrainingMethod> | undefined): TrainingMethod {
  const result = TrainingMethodSchema.safeParse({ ...DEFAULT_TRAINING_METHOD, ...input });
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || 'method'}: ${i.message}`);
  throw new VigilError('VIGIL_CONFIG_INVALID', `training method parameters: ${problems.join('; ')}`, { details: { problems } });
}

/** No ONNX file exists while training: the manifest is validated with a stand-in that packTrainedModel replaces. */
const ONNX_NOT_EXPORTED_YET = { file: 'model.onnx', sha256: '0'.repeat(64) };

function manifestFields(request: TrainingRequest, thresholds: { warn: number; alarm: number }, lineage: unknown): Record<string, unknown> {
  return {
    format: MODEL_PACKAGE_FORMAT,
    name: request.name,
    version: request.version,
    description: request.description ?? `Normal behaviour of ${request.tags.join(', ')}, learnt by vigil model train`,
    input: { name: ONNX_INPUT, dtype: 'float32', layout: 'batch,time,tag' },
    tags: request.tags,
    samplePeriodMs: request.samplePeriodMs,
    windowLength: request.windowLength,
    hop: request.hop,
    ...(request.missingData ? { missingData: request.missingData } : {}),
    output: { score: ONNX_SCORE, reduce: 'none', contributions: ONNX_CONTRIBUTIONS },
    thresholds,
    ...(request.episodes ? { episodes: request.episodes } : {}),
    onnx: ONNX_NOT_EXPORTED_YET,
    ...(lineage ? { lineage } : {}),
  };
}

/** Every tag present, timestamps ascending: the windower is fed oldest first. */
function checkSegment(segment: TrainingSegment, tags: readonly string[]): void {
  const missing = tags.filter((t) => !segment.series.some((s) => s.tag === t));
  if (missing.length > 0) {
    throw new VigilError('VIGIL_TRAINING_DATA_INVALID', `${segment.source.name} has no data for ${missing.map((t) => `"${t}"`).join(', ')}`, { details: { source: segment.source.name, missing } });
  }
  if (segment.series.every((s) => s.ts.length === 0)) throw new VigilError('VIGIL_TRAINING_DATA_INVALID', `${segment.source.name} has no samples`, { details: { source: segment.source.name } });
  for (const s of segment.series) {
    if (s.values.length !== s.ts.length) throw new Error(`${segment.source.name}: tag "${s.tag}" has ${s.ts.length} timestamps but ${s.values.length} values`);
    for (let i = 1; i < s.ts.length; i++) {
      if (!((s.ts[i] as number) >= (s.ts[i - 1] as number))) throw new Error(`${segment.source.name}: tag "${s.tag}" is not in time order at sample ${i}`);
    }
  }
}

/** Finite, good-quality values of one tag over all segments: what the scaling is learnt from. */
function goodValues(segments: readonly TrainingSegment[], tag: string): Float64Array {
  const out: number[] = [];
  for (const segment of segments) {
    const s = segment.series.find((x) => x.tag === tag);
    if (!s) continue;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i] as number;
      if (Number.isFinite(v) && s.bad?.[i] !== 1) out.push(v);
    }
  }
  return Float64Array.from(out);
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}
