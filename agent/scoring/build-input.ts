import type { ModelManifest } from '../../shared/model-manifest.js';
import type { DueWindows } from '../windows/due-windows.js';

type Out = Float32Array | Float64Array;

/**
 * The model's input tensor data for the windows at `indices` (normally the
 * sufficient ones), in the manifest's layout and dtype: one array per batch,
 * no per-window allocation. With `out` (of the manifest's dtype and exactly
 * `indices.length × windowLength × tags` long) the data is written there
 * instead of into a new array, so a caller can recycle buffers.
 *
 * A sufficient window may still hold a few NaN cells (missing or bad within the
 * policy's share). Models cannot take NaN, so each takes the value of the same
 * tag in the previous cell of the window, else the next valid cell, else the
 * normalisation mean (which scales to 0), else 0. Normalisation
 * ((x - mean) / std) is applied after imputation.
 */
export function buildInputTensorData(manifest: ModelManifest, windows: DueWindows, indices: ArrayLike<number>, out?: Out): Out {
  const length = windows.length;
  const tags = windows.tags;
  if (length !== manifest.windowLength || tags !== manifest.tags.length) {
    throw new Error(
      `buildInputTensorData: windows are ${length} × ${tags} but model ${manifest.name}@${manifest.version} takes ${manifest.windowLength} × ${manifest.tags.length}; the windower was built from another manifest`,
    );
  }
  const n = indices.length;
  for (let b = 0; b < n; b++) {
    const w = indices[b] as number;
    if (!(w >= 0 && w < windows.count && Number.isInteger(w))) throw new RangeError(`buildInputTensorData: window index ${w} is outside 0..${windows.count - 1}`);
  }
  const size = n * length * tags;
  const float32 = manifest.input.dtype === 'float32';
  if (out === undefined) out = float32 ? new Float32Array(size) : new Float64Array(size);
  else if (out.length !== size || out instanceof Float32Array !== float32) {
    throw new Error(`buildInputTensorData: out must be a ${manifest.input.dtype} array of ${size} values`);
  }
  const norm = manifest.normalization;
  // Without normalisation, mean 0 / std 1 change nothing: (x - 0) / 1 === x exactly.
  const mean = norm ? Float64Array.from(norm.mean) : new Float64Array(tags);
  const std = norm ? Float64Array.from(norm.std) : new Float64Array(tags).fill(1);
  const tagMajor = manifest.input.layout === 'batch,tag,time';
  const values = windows.values;
  const perWindow = length * tags;
  // For a tiny model this loop costs about as much as the run itself: one
  // small loop per layout (no per-cell function call or layout branch),
  // unrolled by four where it pays. A NaN cell takes the previous output cell
  // of its tag (already imputed and scaled); the first cell of a tag takes the
  // first valid one, else the mean.
  if (tagMajor) {
    for (let b = 0; b < n; b++) {
      const src = (indices[b] as number) * perWindow;
      const dst = b * perWindow;
      for (let k = 0; k < tags; k++) {
        const m = mean[k] as number;
        let first = values[src + k] as number;
        if (first !== first) first = firstValid(values, src + k, src + perWindow, tags, m);
        if (norm) column(values, src + k, tags, length, first, m, std[k] as number, out, dst + k * length);
        else columnRaw(values, src + k, tags, length, first, out, dst + k * length);
      }
    }
    return out;
  }
  for (let b = 0; b < n; b++) {
    const src = (indices[b] as number) * perWindow;
    const dst = b * perWindow;
    for (let k = 0; k < tags; k++) {
      const m = mean[k] as number;
      let first = values[src + k] as number;
      if (first !== first) first = firstValid(values, src + k, src + perWindow, tags, m);
      out[dst + k] = (first - m) / (std[k] as number);
    }
    if (norm) rowsScaled(values, src + tags, length - 1, tags, mean, std, out, dst + tags);
    else rowsRaw(values, src + tags, (length - 1) * tags, tags, out, dst + tags);
  }
  return out;
}

/** The first non-NaN value of one tag's column (from `i`, step `tags`, before `end`), else `fallback`. */
function firstValid(values: Float64Array, i: number, end: number, tags: number, fallback: number): number {
  for (; i < end; i += tags) {
    const v = values[i] as number;
    if (v === v) return v;
  }
  return fallback;
}

/** One tag of one window into consecutive output cells (batch,tag,time), unscaled; `first` stands in for a NaN first cell. */
function columnRaw(values: Float64Array, i: number, step: number, length: number, first: number, out: Out, d: number): void {
  out[d] = first;
  const end = d + length;
  i += step;
  d++;
  const step4 = 4 * step;
  for (; d + 3 < end; d += 4, i += step4) {
    let a = values[i] as number;
    let b = values[i + step] as number;
    let c = values[i + 2 * step] as number;
    let e = values[i + 3 * step] as number;
    // One test for four cells (a NaN makes the sum NaN; so does +Inf + -Inf, which then changes nothing below).
    const sum = a + b + (c + e);
    if (sum !== sum) {
      if (a !== a) a = out[d - 1] as number;
      if (b !== b) b = a;
      if (c !== c) c = b;
      if (e !== e) e = c;
    }
    out[d] = a;
    out[d + 1] = b;
    out[d + 2] = c;
    out[d + 3] = e;
  }
  for (; d < end; d++, i += step) {
    const a = values[i] as number;
    out[d] = a === a ? a : (out[d - 1] as number);
  }
}

/** As `columnRaw` with (x - mean) / std. */
function column(values: Float64Array, i: number, step: number, length: number, first: number, m: number, s: number, out: Out, d: number): void {
  out[d] = (first - m) / s;
  let last = first;
  for (let t = 1; t < length; t++) {
    i += step;
    d++;
    const v = values[i] as number;
    if (v === v) last = v;
    out[d] = (last - m) / s;
  }
}

/** Cells after a window's first row (batch,time,tag), unscaled: a NaN takes the cell one row up (same tag). */
function rowsRaw(values: Float64Array, i: number, cells: number, tags: number, out: Out, d: number): void {
  const end = d + cells;
  for (; d + 3 < end; d += 4, i += 4) {
    const a = values[i] as number;
    const b = values[i + 1] as number;
    const c = values[i + 2] as number;
    const e = values[i + 3] as number;
    out[d] = a === a ? a : (out[d - tags] as number);
    out[d + 1] = b === b ? b : (out[d + 1 - tags] as number);
    out[d + 2] = c === c ? c : (out[d + 2 - tags] as number);
    out[d + 3] = e === e ? e : (out[d + 3 - tags] as number);
  }
  for (; d < end; d++, i++) {
    const a = values[i] as number;
    out[d] = a === a ? a : (out[d - tags] as number);
  }
}

/** As `rowsRaw` with (x - mean) / std per tag; a NaN takes the (already scaled) cell one row up. */
function rowsScaled(values: Float64Array, i: number, rows: number, tags: number, mean: Float64Array, std: Float64Array, out: Out, d: number): void {
  for (let t = 0; t < rows; t++) {
    for (let k = 0; k < tags; k++, i++, d++) {
      const a = values[i] as number;
      out[d] = a === a ? (a - (mean[k] as number)) / (std[k] as number) : (out[d - tags] as number);
    }
  }
}
