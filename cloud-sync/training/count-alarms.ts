import * as ort from 'onnxruntime-node';
import { openVerifiedModel, readRunOutputs } from '../../agent/scoring/verify-model.js';
import { VigilError } from '../../shared/errors.js';
import { levelOf, modelKey, type ModelManifest } from '../../shared/model-manifest.js';
import { cutWindows, type InputBatch } from './cut-windows.js';
import type { TrainingSegment } from './training-data.js';

/** How many of a model's windows over some recordings were scored, and how many reached its alarm threshold. */
export interface AlarmCount {
  windows: number;
  alarms: number;
}

/**
 * Scores recordings with a packaged model the way an agent does — windows cut
 * by the agent's windower, the ONNX file run by onnxruntime-node after the
 * agent's own verification — and counts the alarm windows. Running the ONNX
 * rather than the trainer's TypeScript scorer lets a parent that Vigil did not
 * train be compared with its retrained candidate on the same footing.
 */
export async function countAlarms(manifest: ModelManifest, onnxBytes: Uint8Array, segments: readonly TrainingSegment[]): Promise<AlarmCount> {
  const model = await openVerifiedModel(manifest, onnxBytes);
  try {
    const batches: InputBatch[] = [];
    for (const segment of segments) cutWindows(segment, manifest, (batch) => batches.push(batch));
    const perWindow = model.inputDims[0] * model.inputDims[1];
    const count: AlarmCount = { windows: 0, alarms: 0 };
    for (const batch of batches) {
      // A model whose batch axis is fixed to 1 takes one window per run.
      const step = model.batchMode === 'single' ? 1 : batch.count;
      for (let first = 0; first < batch.count; first += step) {
        const n = Math.min(step, batch.count - first);
        const data = batch.input.subarray(first * perWindow, (first + n) * perWindow);
        const result = await model.session.run({ [manifest.input.name]: new ort.Tensor(manifest.input.dtype, data, [n, model.inputDims[0], model.inputDims[1]]) });
        const { problem, outputs } = readRunOutputs(manifest, result, n, first);
        if (!outputs) throw new VigilError('VIGIL_MODEL_FAULT', `${modelKey(manifest)}: ${problem ?? 'no outputs'}`, { details: { model: modelKey(manifest) } });
        for (let w = 0; w < n; w++) {
          count.windows++;
          if (levelOf(outputs.scores[w] as number, manifest.thresholds) === 'alarm') count.alarms++;
        }
      }
    }
    return count;
  } finally {
    await model.release();
  }
}
