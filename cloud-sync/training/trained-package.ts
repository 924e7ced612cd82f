import { packModel } from '../../agent/models/package-file.js';
import type { ModelManifest } from '../../shared/model-manifest.js';
import { exportOnnx } from './onnx-export.js';
import type { TrainedModel } from './train-model.js';

/** The ONNX file's name inside a trained package. */
export const TRAINED_ONNX_FILE = 'model.onnx';

/**
 * Exports a trained model to ONNX and packs it with its manifest
 * (`packModel`: validated, checksum filled in), ready to be written as
 * `<name>-<version>.vmodel`, pushed to the hub or checked with `vigil model check`.
 */
export async function packTrainedModel(trained: TrainedModel): Promise<{ bytes: Buffer; manifest: ModelManifest; onnxBytes: Uint8Array }> {
  const onnxBytes = exportOnnx(trained.scorer, trained.manifest.windowLength, trained.manifest);
  const packed = await packModel(onnxBytes, { ...trained.manifest, onnx: { file: TRAINED_ONNX_FILE } });
  return { ...packed, onnxBytes };
}
