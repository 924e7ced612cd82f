import { VigilError, ERROR_CODES, type ErrorCode } from '../../shared/errors.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import type { Calibration } from './calibrate-thresholds.js';
import { countAlarms, type AlarmCount } from './count-alarms.js';
import { trainModel, type TrainedModel, type TrainingRequest } from './train-model.js';
import { packTrainedModel } from './trained-package.js';
import type { TrainingSegment } from './training-data.js';
import type { TrainingProgress } from './training-progress.js';

/**
 * One training on the hub, as the training worker thread runs it: train,
 * export and pack; for a retraining also score parent and candidate on the
 * answered stretches. Only data crosses the thread boundary: no callbacks
 * (the clock); progress comes back as messages (training-worker.ts).
 */
export interface TrainingJob {
  request: Omit<TrainingRequest, 'onProgress' | 'now'>;
  /** Count alarm windows of `parent` and of the candidate on `segments` (ONNX, as an agent runs them). */
  compare?: { parent: { manifest: ModelManifest; onnxBytes: Uint8Array }; segments: TrainingSegment[] };
}

export interface TrainingJobResult {
  /** The package (`packTrainedModel`): checked and checksummed, not signed yet. */
  packageBytes: Uint8Array;
  manifest: ModelManifest;
  calibration: Calibration;
  windows: TrainedModel['windows'];
  comparison?: { parent: AlarmCount; candidate: AlarmCount };
}

/** The CPU-heavy part of hub training; runs in the training worker (training-worker.ts), callable directly in tests. */
export async function runTrainingJob(job: TrainingJob, onProgress?: (p: TrainingProgress) => void): Promise<TrainingJobResult> {
  const trained = trainModel({ ...job.request, ...(onProgress ? { onProgress } : {}) });
  onProgress?.({ phase: 'export', done: 0, total: trained.featureNames.length, unit: 'features' });
  const packed = await packTrainedModel(trained);
  const result: TrainingJobResult = { packageBytes: packed.bytes, manifest: packed.manifest, calibration: trained.calibration, windows: trained.windows };
  if (job.compare) {
    onProgress?.({ phase: 'compare', done: 0, total: job.compare.segments.length, unit: 'answered stretches' });
    const parent = await countAlarms(job.compare.parent.manifest, job.compare.parent.onnxBytes, job.compare.segments);
    const candidate = await countAlarms(packed.manifest, packed.onnxBytes, job.compare.segments);
    result.comparison = { parent, candidate };
  }
  return result;
}

/** An error as it crosses the thread boundary: its VIGIL_ code, message and details survive. */
export interface SerializedError {
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof VigilError) return { code: err.code, message: err.message, details: err.details };
  return { message: err instanceof Error ? err.message : String(err) };
}

export function deserializeError(error: SerializedError): Error {
  if (error.code !== undefined && error.code in ERROR_CODES) return new VigilError(error.code as ErrorCode, error.message, error.details === undefined ? {} : { details: error.details });
  return new Error(error.message);
}
