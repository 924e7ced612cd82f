import type { ModelManifest } from '../../shared/model-manifest.js';
import type { DueWindows } from '../windows/due-windows.js';

/**
 * The model's input tensor data for the windows at `indices` (normally the
 * sufficient ones), in the manifest's layout and dtype: one array per batch,
 * no per-window allocation.
 *
 * A sufficient window may still hold a few NaN cells (missing or bad within the
 * policy's share). Models cannot take NaN, so each takes the value of the same
 * tag in the previous cell of the window, else the next valid cell, else the
 * normalisation mean (which scales to 0), else 0. Normalisation
 * ((x - mean) / std) is applied after imputation.
 */
export function buildInputTensorData(manifest: ModelManifest, windows: DueWindows, indices: ArrayLike<number>): Float32Array | Float64Array {
  const length = windows.length;
  const tags = windows.tags;
  if (length !== manifest.windowLength || tags !== manifest.tags.length) {
    throw new Error(
      `buildInputTensorData: windows are ${length} × ${tags} but model ${manifest.name}@${manifest.version} takes ${manifest.windowLength} × ${manifest.tags.length}; the windower was built from another manifest`,
    );
  }
  const perWindow = length * tags;
  const out = manifest.input.dtype === 'float32' ? new Float32Array(indices.length * perWindow) : new Float64Array(indices.length * perWindow);
  const values = windows.values;
  const mean = manifest.normalization?.mean;
  const std = manifest.normalization?.std;
  const tagMajor = manifest.input.layout === 'batch,tag,time';

  for (let b = 0; b < indices.length; b++) {
    const w = indices[b] as number;
    if (!(w >= 0 && w < windows.count)) throw new RangeError(`buildInputTensorData: window index ${w} is outside 0..${windows.count - 1}`);
    const src = w * perWindow;
    const dst = b * perWindow;
    for (let k = 0; k < tags; k++) {
      const m = mean ? (mean[k] as number) : 0;
      const s = std ? (std[k] as number) : 1;
      // The first valid value stands in for leading gaps ("else the next").
      let last = Number.NaN;
      for (let t = 0; t < length; t++) {
        const v = values[src + t * tags + k] as number;
        if (v === v) {
          last = v;
          break;
        }
      }
      if (last !== last) last = m;
      for (let t = 0; t < length; t++) {
        const v = values[src + t * tags + k] as number;
        if (v === v) last = v;
        const x = mean ? (last - m) / s : last;
        out[tagMajor ? dst + k * length + t : dst + t * tags + k] = x;
      }
    }
  }
  return out;
}
