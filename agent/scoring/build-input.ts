import type { ModelManifest } from '../../shared/model-manifest.js';
import type { DueWindows, WindowLayout } from '../windows/due-windows.js';

type Out = Float32Array | Float64Array;
/** Window values as cut: float64, or float32 for a model that reads float32 unscaled (see WindowPrecision). */
type Values = DueWindows['values'];

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
 *
 * Windows already in the model's layout with their NaN cells listed (as the
 * windower cuts them for the model it was built for) are copied as they are
 * and only the listed cells imputed; any other combination (a shadow version
 * with the other layout, windows made by hand) is gathered cell by cell. Both
 * give the same values.
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
  const source = windows.layout ?? 'batch,time,tag';
  const target = manifest.input.layout;
  if (source === target && windows.nanCells !== undefined && windows.nanStarts !== undefined) {
    copyInLayout(windows, windows.nanCells, windows.nanStarts, indices, norm !== undefined, mean, std, target === 'batch,tag,time', out);
    return out;
  }
  for (let b = 0; b < n; b++) gatherWindow(windows, indices[b] as number, source, target, norm !== undefined, mean, std, out, b * length * tags);
  return out;
}

/**
 * The fast path: the windows are already in the model's layout and the
 * windower listed their NaN cells. Runs of consecutive sufficient windows are
 * one copy when unscaled (a memcpy when the windows were cut in the model's
 * dtype, a native conversion otherwise) and one plain loop when scaled, then
 * only the listed NaN cells are imputed. An
 * insufficient window (its NaN cells are not listed) goes through the
 * general gather.
 */
function copyInLayout(
  windows: DueWindows,
  nanCells: Int32Array,
  nanStarts: Int32Array,
  indices: ArrayLike<number>,
  scaled: boolean,
  mean: Float64Array,
  std: Float64Array,
  tagMajor: boolean,
  out: Out,
): void {
  const { values, length, tags, sufficient } = windows;
  const layout = tagMajor ? 'batch,tag,time' : 'batch,time,tag';
  const perWindow = length * tags;
  const n = indices.length;
  let b = 0;
  while (b < n) {
    const w0 = indices[b] as number;
    if (sufficient[w0] !== 1) {
      gatherWindow(windows, w0, layout, layout, scaled, mean, std, out, b * perWindow);
      b++;
      continue;
    }
    let e = b + 1;
    while (e < n && indices[e] === w0 + (e - b) && sufficient[w0 + (e - b)] === 1) e++;
    const from = w0 * perWindow;
    const to = (w0 + e - b) * perWindow;
    if (scaled) scaleCells(values, from, to, tagMajor, length, tags, mean, std, out, b * perWindow);
    else out.set(values.subarray(from, to), b * perWindow);
    // A listed cell after its tag's first takes the previous one of its tag (already imputed: the list is ascending).
    const before = tagMajor ? 1 : tags;
    for (let i = b; i < e; i++) {
      const w = w0 + (i - b);
      const d = i * perWindow;
      const last = nanStarts[w + 1] as number;
      for (let j = nanStarts[w] as number; j < last; j++) {
        const c = nanCells[j] as number;
        if (tagMajor ? c % length !== 0 : c >= tags) out[d + c] = out[d + c - before] as number;
        else imputeFirstCell(values, w * perWindow, c, tagMajor, length, tags, scaled, mean, std, out, d);
      }
    }
    b = e;
  }
}

/** (x - mean) / std for the cells [from, to) of whole windows, into `out` from `d`; NaN stays NaN (imputed afterwards). */
function scaleCells(values: Values, from: number, to: number, tagMajor: boolean, length: number, tags: number, mean: Float64Array, std: Float64Array, out: Out, d: number): void {
  if (tagMajor) {
    for (let i = from; i < to; ) {
      for (let k = 0; k < tags; k++) {
        const m = mean[k] as number;
        const s = std[k] as number;
        for (const end = i + length; i < end; i++, d++) out[d] = ((values[i] as number) - m) / s;
      }
    }
    return;
  }
  for (let i = from; i < to; ) {
    for (let k = 0; k < tags; k++, i++, d++) out[d] = ((values[i] as number) - (mean[k] as number)) / (std[k] as number);
  }
}

/**
 * A listed NaN cell `c` that is its tag's first in the window (values from
 * `src`, output from `dst`): the tag's first valid value in the window, else
 * the mean (→ 0 scaled), else 0 — as `gatherWindow` does.
 */
function imputeFirstCell(values: Values, src: number, c: number, tagMajor: boolean, length: number, tags: number, scaled: boolean, mean: Float64Array, std: Float64Array, out: Out, dst: number): void {
  const tag = tagMajor ? c / length : c;
  const m = mean[tag] as number;
  const first = firstValid(values, src + c, tagMajor ? 1 : tags, length, m);
  out[dst + c] = scaled ? (first - m) / (std[tag] as number) : first;
}

/**
 * One window, any source layout to any target layout, every cell looked at.
 * For a tiny model this costs about as much as the run itself: one small loop
 * per layout pair (no per-cell function call or layout branch), unrolled by
 * four where it pays. A NaN cell takes the previous output cell of its tag
 * (already imputed and scaled); the first cell of a tag takes the first valid
 * one, else the mean.
 */
function gatherWindow(windows: DueWindows, w: number, source: WindowLayout, target: WindowLayout, scaled: boolean, mean: Float64Array, std: Float64Array, out: Out, dst: number): void {
  const { values, length, tags } = windows;
  const perWindow = length * tags;
  const src = w * perWindow;
  const srcTagMajor = source === 'batch,tag,time';
  if (!srcTagMajor && target === 'batch,time,tag') {
    for (let k = 0; k < tags; k++) {
      const m = mean[k] as number;
      let first = values[src + k] as number;
      if (first !== first) first = firstValid(values, src + k, tags, length, m);
      out[dst + k] = (first - m) / (std[k] as number);
    }
    if (scaled) rowsScaled(values, src + tags, length - 1, tags, mean, std, out, dst + tags);
    else rowsRaw(values, src + tags, (length - 1) * tags, tags, out, dst + tags);
    return;
  }
  // Per tag: where its cells are in the source (first, step) and where they go (first, step).
  const inStep = srcTagMajor ? 1 : tags;
  const outStep = target === 'batch,tag,time' ? 1 : tags;
  for (let k = 0; k < tags; k++) {
    const i = src + (srcTagMajor ? k * length : k);
    const d = dst + (outStep === 1 ? k * length : k);
    const m = mean[k] as number;
    let first = values[i] as number;
    if (first !== first) first = firstValid(values, i, inStep, length, m);
    if (scaled) column(values, i, inStep, length, first, m, std[k] as number, out, d, outStep);
    else columnRaw(values, i, inStep, length, first, out, d, outStep);
  }
}

/** The first non-NaN of `count` values from `i`, step `step`, else `fallback`. */
function firstValid(values: Values, i: number, step: number, count: number, fallback: number): number {
  for (const end = i + count * step; i < end; i += step) {
    const v = values[i] as number;
    if (v === v) return v;
  }
  return fallback;
}

/** One tag of one window (source cells from `i`, step `step`) into output cells from `d`, step `os`, unscaled; `first` stands in for a NaN first cell. */
function columnRaw(values: Values, i: number, step: number, length: number, first: number, out: Out, d: number, os: number): void {
  out[d] = first;
  const end = d + length * os;
  i += step;
  d += os;
  const step4 = 4 * step;
  const os4 = 4 * os;
  for (; d + 3 * os < end; d += os4, i += step4) {
    let a = values[i] as number;
    let b = values[i + step] as number;
    let c = values[i + 2 * step] as number;
    let e = values[i + 3 * step] as number;
    // One test for four cells (a NaN makes the sum NaN; so does +Inf + -Inf, which then changes nothing below).
    const sum = a + b + (c + e);
    if (sum !== sum) {
      if (a !== a) a = out[d - os] as number;
      if (b !== b) b = a;
      if (c !== c) c = b;
      if (e !== e) e = c;
    }
    out[d] = a;
    out[d + os] = b;
    out[d + 2 * os] = c;
    out[d + 3 * os] = e;
  }
  for (; d < end; d += os, i += step) {
    const a = values[i] as number;
    out[d] = a === a ? a : (out[d - os] as number);
  }
}

/** As `columnRaw` with (x - mean) / std. */
function column(values: Values, i: number, step: number, length: number, first: number, m: number, s: number, out: Out, d: number, os: number): void {
  out[d] = (first - m) / s;
  let last = first;
  for (let t = 1; t < length; t++) {
    i += step;
    d += os;
    const v = values[i] as number;
    if (v === v) last = v;
    out[d] = (last - m) / s;
  }
}

/** Cells after a window's first row (batch,time,tag), unscaled: a NaN takes the cell one row up (same tag). */
function rowsRaw(values: Values, i: number, cells: number, tags: number, out: Out, d: number): void {
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
function rowsScaled(values: Values, i: number, rows: number, tags: number, mean: Float64Array, std: Float64Array, out: Out, d: number): void {
  for (let t = 0; t < rows; t++) {
    for (let k = 0; k < tags; k++, i++, d++) {
      const a = values[i] as number;
      out[d] = a === a ? (a - (mean[k] as number)) / (std[k] as number) : (out[d - tags] as number);
    }
  }
}
